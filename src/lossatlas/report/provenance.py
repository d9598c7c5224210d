"""Where a report came from: package versions, code revision, machine, the command line of the run,
the wall time of each stage, the render time, and how to cite it."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from lossatlas.core.textfmt import format_count, format_number
from lossatlas.report import citation

PACKAGES = ("tensorflow-cpu", "keras", "numpy", "scipy", "pandas", "matplotlib", "jinja2", "snakemake", "weasyprint")
# Benchmark directories (results/benchmarks/<dir>/...) and files, by the rule that wrote them; in pipeline order.
STAGES = {"datasets": "dataset", "train": "train", "article": "article", "aggregate": "aggregate", "tuned_rates": "tuned_rates",
          "analysis": "analysis", "figures": "figures", "figures/study": "study_figures", "report": "report"}
# Snakemake options that only choose which jobs run again: left out of the command line shown, so that
# re-rendering the report (``--forcerun report``) gives the same bytes. None: the option takes every
# argument up to the next option; 0: none.
JOB_SELECTION_OPTIONS = {"--forcerun": None, "-R": None, "--allowed-rules": None, "--rerun-triggers": None, "--until": None,
                         "-U": None, "--omit-from": None, "-O": None, "--forceall": 0, "-F": 0, "--force": 0, "-f": 0,
                         "--rerun-incomplete": 0, "--ri": 0, "--touch": 0, "-t": 0}


# --------------------------------------------------------------------------------------------
# Versions, git, machine
# --------------------------------------------------------------------------------------------


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


def short_commit(commit: str, dirty: str = "no") -> str:
    """The first 7 hex digits of a commit, ``+dirty`` when the tree had changes; else ``"unknown"``."""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        return "unknown"
    return commit[:7] + ("+dirty" if dirty == "yes" else "")


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
    return {
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cpu_count": str(os.cpu_count()),
        "tensorflow_threads": "1 intra-op and 1 inter-op thread per training job (Snakemake threads: 1)",
        "tensorflow_determinism": "tf.config.experimental.enable_op_determinism(); jit_compile explicit",
        "onednn": f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '0 (set by lossatlas)')}",
    }


def render_time() -> datetime.datetime:
    """``SOURCE_DATE_EPOCH`` when it is set (reproducible builds), else now; in UTC, to the second."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        except ValueError:
            raise ValueError(f"SOURCE_DATE_EPOCH must be an integer (seconds since 1970), got {epoch!r}") from None
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


# --------------------------------------------------------------------------------------------
# The run: command line, stage times
# --------------------------------------------------------------------------------------------


def read_invocation(path: str | Path) -> dict:
    """The command line and start time of the Snakemake run that wrote ``path`` (see the
    Snakefile's ``onstart``); empty when the file does not exist."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}


def shown_command(argv: Sequence[str]) -> str:
    """The command line of a run (``invocation.json``), options of :data:`JOB_SELECTION_OPTIONS` left out, shell-quoted."""
    kept, skipping = [], False
    for index, arg in enumerate(argv):
        name = arg.split("=", 1)[0]
        if index and name in JOB_SELECTION_OPTIONS:
            skipping = JOB_SELECTION_OPTIONS[name] is None and "=" not in arg
            continue
        if skipping and not arg.startswith("-"):
            continue
        skipping = False
        kept.append(arg)
    return shlex.join(kept)


#: Snakemake options that choose the config: kept in the commands the report gives to rebuild a figure.
CONFIG_OPTIONS = ("--configfile", "--configfiles", "--config", "-C")


def config_options(argv: Sequence[str]) -> str:
    """The options of :data:`CONFIG_OPTIONS` of a run's command line (``invocation.json``) with their
    arguments, shell-quoted (``""`` when none)."""
    kept, taking = [], False
    for index, arg in enumerate(argv):
        name = arg.split("=", 1)[0]
        if index and name in CONFIG_OPTIONS:
            kept.append(arg)
            taking = "=" not in arg
        elif taking and not arg.startswith("-"):
            kept.append(arg)
        else:
            taking = False
    return shlex.join(kept)


def read_benchmarks(paths) -> dict[str, tuple[float, float | None]]:
    """Wall seconds and peak resident memory (MiB; None where Snakemake could not measure it) of
    each job, from Snakemake ``benchmark:`` files (first data row, columns ``s`` and ``max_rss``)."""
    jobs = {}
    for path in paths:
        header, row = (line.split("\t") for line in Path(path).read_text().splitlines()[:2])
        values = dict(zip(header, row))
        try:
            rss = float(values.get("max_rss", "NA"))
        except ValueError:  # "NA" or "-": not measured
            rss = None
        jobs[str(path)] = (float(values["s"]), rss if rss is not None and math.isfinite(rss) else None)
    return jobs


def benchmark_stage(path: str | os.PathLike) -> str:
    """The stage a benchmark file belongs to, from its path: ``results/benchmarks/<rule or dir>/...``
    (``figures/study/<group>.tsv`` is stage study_figures, one job per group)."""
    parts = Path(path).with_suffix("").parts
    parts = parts[parts.index("benchmarks") + 1 :] if "benchmarks" in parts else parts[-1:]
    if tuple(parts[:2]) == ("figures", "study") and len(parts) == 3:
        return "study_figures"
    return STAGES.get(parts[0], parts[0])


def stage_times(paths: Sequence[str | os.PathLike]) -> list[dict]:
    """Per stage (rule) of the benchmark files ``paths``: jobs, total and max wall seconds and the
    largest peak resident memory of one job in MiB ("n/a" where none was measured), in pipeline
    order, then any other stage by name."""
    stages: dict[str, list[tuple[float, float | None]]] = {}
    for path, job in read_benchmarks(paths).items():
        stages.setdefault(benchmark_stage(path), []).append(job)
    order = list(dict.fromkeys(STAGES.values()))
    names = sorted(stages, key=lambda s: (order.index(s) if s in order else len(order), s))
    rows = []
    for name in names:
        seconds = [job[0] for job in stages[name]]
        memory = [job[1] for job in stages[name] if job[1] is not None]
        rows.append({"stage": name, "jobs": format_count(len(seconds)), "total": format_number(sum(seconds), "measurement"),
                     "max": format_number(max(seconds), "measurement"),
                     "peak_rss_mib": format_count(round(max(memory))) if memory else "n/a"})
    return rows


def provenance_context(benchmarks: Sequence[str | os.PathLike], repo: str | os.PathLike,
                       invocation: str | os.PathLike | None = None) -> dict:
    """Package versions, git commit and state, machine, the command line of the run
    (``invocation``: the Snakefile's ``invocation.json``, when it exists) and the wall time of each
    stage from ``benchmarks`` (Snakemake benchmark files; training: those under ``train/``)."""
    stages = stage_times(benchmarks)
    train = next((s for s in stages if s["stage"] == "train"), None)
    if train is None:  # benchmark files not under results/benchmarks/train: count them all as training
        seconds = [job[0] for job in read_benchmarks(benchmarks).values()]
        train = {"total": format_number(sum(seconds), "measurement"), "jobs": format_count(len(seconds))}
    git = git_state(repo)
    dirty = {True: "yes", False: "no", None: "unknown"}[git["dirty"]]
    command = read_invocation(invocation).get("command") if invocation else None
    return {
        "packages": package_versions(),
        "commit": git["commit"],
        "short_commit": short_commit(str(git["commit"]), dirty),
        "dirty": dirty,
        "machine": machine(),
        "training_seconds": train["total"],
        "training_jobs": train["jobs"],
        "stages": stages,
        "command": shown_command(command) if command else None,
        "config_options": config_options(command) if command else "",
    }


def citation_context(cff_path: str | os.PathLike | None, commit: str) -> dict | None:
    """Title, authors, version, date and BibTeX from the CITATION.cff at ``cff_path`` (None: no citation)."""
    if cff_path is None:
        return None
    cff = citation.read_cff(cff_path)
    return {
        "title": str(cff["title"]),
        "authors": citation.author_names(cff),
        "version": str(cff.get("version", "")),
        "date": str(cff.get("date-released", "")),
        "message": str(cff.get("message", "")),
        "bibtex": citation.bibtex(cff, commit if re.fullmatch(r"[0-9a-f]{40}", commit) else None),
    }
