#!/usr/bin/env bash
# Debian packages Loss Atlas needs; installs only what is missing (needs root, or sudo, then).
#   scripts/install-system-packages.sh          the report: Pango and HarfBuzz for WeasyPrint, fonts
#   scripts/install-system-packages.sh test     also what the tests use: pdftotext (poppler-utils),
#                                               a real headless browser (chromium) and pdfLaTeX
#                                               with booktabs and T1 fonts (TeX Live), to compile
#                                               the report's LaTeX tables
set -euo pipefail
packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
[ "${1:-}" = "test" ] && packages+=(poppler-utils chromium texlive-latex-base texlive-latex-recommended texlive-fonts-recommended)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "Missing Debian packages ${missing[*]} and no apt-get here: install them by hand." >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
