"""Where a result came from: package versions, code revision, config hash, timings."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path

PACKAGES = ("tensorflow-cpu", "keras", "numpy", "scipy", "pandas", "matplotlib", "jinja2", "snakemake", "weasyprint")


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_state(directory: str | Path = ".") -> dict[str, object]:
    """The commit of ``directory``'s repository and whether its tree differs from it."""
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = run("rev-parse", "HEAD")
        dirty = bool(run("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown (not a git checkout)", "dirty": None}
    return {"commit": commit, "dirty": dirty}


def machine() -> dict[str, str]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine()}


def read_benchmarks(paths) -> dict[str, float]:
    """Wall seconds of each job, from Snakemake ``benchmark:`` files (first data row, column ``s``)."""
    seconds = {}
    for path in paths:
        lines = Path(path).read_text().splitlines()
        seconds[str(path)] = float(lines[1].split("\t")[0])
    return seconds
