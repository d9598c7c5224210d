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


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    """Platform, CPU model and core count, and the thread and determinism settings of TensorFlow
    as the workflow's training jobs set them (read from the environment, without importing it)."""
    import os

    return {
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cpu_count": str(os.cpu_count()),
        "tensorflow_threads": "1 intra-op and 1 inter-op thread per training job (Snakemake threads: 1)",
        "tensorflow_determinism": "tf.config.experimental.enable_op_determinism(); jit_compile explicit",
        "onednn": f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '0 (set by lossatlas)')}",
    }


def read_invocation(path: str | Path) -> dict:
    """The command line and start time of the Snakemake run that wrote ``path`` (see the
    Snakefile's ``onstart``); empty when the file does not exist."""
    import json

    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}


def read_benchmarks(paths) -> dict[str, float]:
    """Wall seconds of each job, from Snakemake ``benchmark:`` files (first data row, column ``s``)."""
    seconds = {}
    for path in paths:
        lines = Path(path).read_text().splitlines()
        seconds[str(path)] = float(lines[1].split("\t")[0])
    return seconds
