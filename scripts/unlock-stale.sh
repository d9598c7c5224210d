#!/usr/bin/env bash
# Removes Snakemake's lock on this directory when it is stale: a run was killed (kill -9, a power
# cut) and left .snakemake/locks behind, and no Snakemake process works in this directory now.
# A live run's lock is left alone (Snakemake then refuses to start a second run, as it should).
#   scripts/unlock-stale.sh SNAKEMAKE [ARGS...]   (the same --configfile etc. as the run)
set -euo pipefail
snakemake="$1"; shift
locks=.snakemake/locks
[ -d "$locks" ] && [ -n "$(ls -A "$locks" 2>/dev/null)" ] || exit 0
here="$(pwd -P)"
for pid in $(pgrep -f "snakemake" || true); do
  [ "$pid" = "$$" ] && continue
  if [ "$(readlink "/proc/$pid/cwd" 2>/dev/null || true)" = "$here" ] && grep -qa snakemake "/proc/$pid/cmdline" 2>/dev/null; then
    case "$(tr '\0' ' ' < "/proc/$pid/cmdline")" in
      *unlock-stale*) continue ;;
    esac
    exit 0  # a live run holds the lock
  fi
done
echo "removing a stale lock left by a killed run (no Snakemake process works in $here)" >&2
"$snakemake" --unlock "$@" >/dev/null
