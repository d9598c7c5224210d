"""The SLURM path: the smoke config through profiles/slurm on a real single-node SLURM cluster.

tests/slurm/cluster.sh installs munge and SLURM from Debian's packages (as root, with apt) and
starts them on 127.0.0.1; the test runs the smoke config once locally and once through the profile,
checks that every job went through SLURM (the executor's submissions, squeue, the jobcomp log and
each job's SLURM log agree) and that both runs give the same results. Daemons the test started are
stopped by their pid files at the end; a cluster that was already running is left running.

Skipped only where it cannot run: not root, or SLURM not installed and no apt-get. Every wait has a
timeout, and the whole test gives up after BUDGET_S seconds.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import copy_workflow

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
PARTITION = "debug"  # the test cluster's partition (tests/slurm/cluster.sh)
JOBCOMP_LOG = Path("/var/log/slurm/jobcomp.log")
BUDGET_S = 600  # the whole test, apt included
TARGETS = ["results/aggregate/cells.csv", "results/aggregate/trials.parquet"]
# Tables compared between the runs; columns ending in _seconds are timings.
TABLES = ["results/aggregate/trials.parquet", "results/aggregate/curves.parquet"]

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def skip_reason() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the SLURM test installs and starts SLURM daemons: it needs root"
    installed = all(shutil.which(tool) for tool in ("munged", "slurmctld", "slurmd", "sbatch", "squeue"))
    if not installed and shutil.which("apt-get") is None:
        return "SLURM is not installed and apt-get is unavailable to install it"
    return None


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self, cap: float) -> float:
        left = self.end - time.monotonic()
        if left < 5:
            pytest.fail(f"the SLURM test ran out of its {BUDGET_S} s budget")
        return min(cap, left)


def run(cmd, *, timeout: float, cwd=None, env=None, log: Path | None = None, check=True) -> subprocess.CompletedProcess:
    """Runs ``cmd`` in its own process group, killed whole on timeout; output to ``log`` if given."""
    out = open(log, "w") if log else subprocess.PIPE
    try:
        proc = subprocess.Popen(
            [str(c) for c in cmd], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, _ = proc.communicate()
            text = log.read_text() if log else stdout
            pytest.fail(f"{' '.join(map(str, cmd))} timed out after {timeout:.0f} s:\n{tail(text)}")
    finally:
        if log:
            out.close()
    text = log.read_text() if log else stdout
    result = subprocess.CompletedProcess(cmd, proc.returncode, text)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{tail(text)}")
    return result


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def scheduled_jobs(output: str) -> dict[int, dict]:
    """Snakemake job id -> rule, whether it ran locally, and resources, from the job blocks it prints."""
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", output):
        head = re.match(r"(local)?rule (\w+):\n", block)
        jobid = re.search(r"^\s+jobid: (\d+)$", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        if head and jobid:
            jobs[int(jobid.group(1))] = {
                "rule": head.group(2),
                "local": bool(head.group(1)),
                "resources": dict(item.split("=", 1) for item in resources.group(1).split(", ")) if resources else {},
            }
    return jobs


def slurm_diagnostics() -> str:
    parts = []
    for cmd in (["sinfo"], ["squeue", "--states=all"]):
        try:
            parts.append(subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout)
        except (OSError, subprocess.TimeoutExpired) as error:
            parts.append(f"{cmd[0]}: {error}")
    for name in ("slurmctld.log", "slurmd.log"):
        path = Path("/var/log/slurm") / name
        if path.exists():
            parts.append(f"--- {path}\n{tail(path.read_text(errors='replace'), 20)}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def deadline():
    return Deadline(BUDGET_S)


@pytest.fixture(scope="module")
def slurm_cluster(deadline):
    """A running single-node cluster; stopped afterwards if this fixture started it."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail("snakemake-executor-plugin-slurm is not installed (pip install snakemake-executor-plugin-slurm==2.8.0)")
    run([CLUSTER, "install"], timeout=deadline.left(480))
    already_running = subprocess.run([CLUSTER, "status"], timeout=30).returncode == 0
    try:
        run([CLUSTER, "start"], timeout=deadline.left(120))
        yield
    finally:
        if not already_running:
            subprocess.run([CLUSTER, "stop"], timeout=120)


def workflow_copy(dest: Path) -> Path:
    dest.mkdir()
    return copy_workflow(dest)


def snakemake_env() -> dict:
    env = dict(os.environ)
    env.pop("SNAKEMAKE_PROFILE", None)  # neither run may pick up a profile of the caller's
    for key in [k for k in env if k.startswith(("SLURM_", "SBATCH_", "SQUEUE_"))]:
        del env[key]
    env["LOSSATLAS_SLURM_PARTITION"] = PARTITION
    return env


def test_smoke_run_through_slurm_profile_matches_local_run(slurm_cluster, deadline, tmp_path):
    env = snakemake_env()
    snakemake = [sys.executable, "-m", "snakemake"]

    # 1. The reference: the smoke config, run locally.
    local = workflow_copy(tmp_path / "local")
    started = time.monotonic()
    run([*snakemake, "--cores", "2", *TARGETS, "--configfile", "config/smoke.yaml"],
        cwd=local, env=env, log=tmp_path / "local.log", timeout=deadline.left(300))
    local_s = time.monotonic() - started

    # 2. The same through the profile, every job a SLURM job. Only the first status check comes sooner
    # than the profile's (jobs here take seconds), which MinJobAge=600 allows.
    cluster = workflow_copy(tmp_path / "cluster")
    log = tmp_path / "slurm.log"
    started = time.monotonic()
    try:
        result = run(
            [*snakemake, "--profile", "profiles/slurm", *TARGETS, "--configfile", "config/smoke.yaml",
             "--slurm-init-seconds-before-status-checks", "2"],
            cwd=cluster, env=env, log=log, timeout=deadline.left(420), check=False,
        )
    finally:
        # Whatever happened, leave no job of this run behind.
        match = re.search(r"SLURM run ID: (\S+)", log.read_text()) if log.exists() else None
        if match:
            subprocess.run(["scancel", "--name", match.group(1)], timeout=30)
    slurm_s = time.monotonic() - started
    output = result.stdout
    assert result.returncode == 0, f"snakemake --profile profiles/slurm failed:\n{tail(output)}\n{slurm_diagnostics()}"
    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)

    # (a) Every job went through SLURM: Snakemake ran none itself and submitted each one ...
    jobs = scheduled_jobs(output)
    n_datasets = len(list((local / "results" / "datasets").glob("*.npz")))
    n_train = len(list((local / "results" / "train").glob("*/*/*/trials.parquet")))  # experiment/loss/job
    assert n_datasets and n_train
    assert sorted(job["rule"] for job in jobs.values()) == sorted(
        ["aggregate"] + ["dataset"] * n_datasets + ["train"] * n_train
    ), output
    assert not any(job["local"] for job in jobs.values()), output
    submissions = re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.", output)
    assert sorted(int(jobid) for jobid, _, _ in submissions) == sorted(jobs), output
    by_slurm_id = {int(slurm_id): {**jobs[int(jobid)], "log": Path(path)} for jobid, slurm_id, path in submissions}
    assert len(by_slurm_id) == len(jobs)

    # ... with the resources the profile gives its rule ...
    profile = yaml.safe_load((cluster / "profiles" / "slurm" / "config.yaml").read_text())
    for job in jobs.values():
        for name, value in profile["set-resources"].get(job["rule"], {}).items():
            assert job["resources"][name] == str(value), (job["rule"], name, job["resources"])
        assert job["resources"]["slurm_partition"] == PARTITION, job["resources"]

    # ... each with its SLURM log, named by its SLURM job id, holding the Snakemake job it ran ...
    logs = cluster / ".snakemake" / "slurm_logs"
    for slurm_id, job in by_slurm_id.items():
        path = job["log"]
        assert path.name == f"{slurm_id}.log" and path.is_file(), path
        assert path.relative_to(logs).parts[0] == f"rule_{job['rule']}", path
        text = path.read_text()
        assert f"rule {job['rule']}:" in text and "1 of 1 steps (100%) done" in text, f"{path}:\n{tail(text)}"

    # ... known to SLURM as completed jobs of this run (squeue keeps finished jobs for MinJobAge) ...
    squeue = run(["squeue", "--states=all", "--noheader", "--format=%i|%T|%j|%P|%k"], timeout=30).stdout
    seen = {int(line.split("|")[0]): line.split("|")[1:] for line in squeue.splitlines() if line.split("|")[2] == run_id}
    assert set(seen) == set(by_slurm_id), squeue
    for slurm_id, (state, _, partition, comment) in seen.items():
        assert state == "COMPLETED" and partition == PARTITION, (slurm_id, state, partition)
        # the executor's comment names the rule and wildcards, as does the log's folder
        folder = by_slurm_id[slurm_id]["log"].parent.relative_to(logs)
        assert comment == "_wildcards_".join(folder.parts), (comment, folder)

    # ... and in the jobcomp log, with the time limit and memory Snakemake asked for.
    records = {}
    wait = time.monotonic() + 30
    while set(records) != set(by_slurm_id) and time.monotonic() < wait:
        records = {}
        for line in JOBCOMP_LOG.read_text().splitlines() if JOBCOMP_LOG.exists() else []:
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            if fields.get("Name") == run_id:
                records[int(fields["JobId"])] = fields
        time.sleep(0.5)
    assert set(records) == set(by_slurm_id), f"jobcomp log lacks jobs {set(by_slurm_id) - set(records)}"
    for slurm_id, fields in records.items():
        resources = by_slurm_id[slurm_id]["resources"]
        assert fields["JobState"] == "COMPLETED" and fields["ExitCode"] == "0:0", fields
        assert fields["Partition"] == PARTITION, fields
        assert fields["TimeLimit"] == resources["runtime"], (fields["TimeLimit"], resources)
        assert f"mem={resources['mem_mb']}M" in fields["Tres"], (fields["Tres"], resources)

    # (b) The results are those of the local run.
    assert (cluster / "results/aggregate/cells.csv").read_bytes() == (local / "results/aggregate/cells.csv").read_bytes()
    for table in TABLES:
        expected, actual = pd.read_parquet(local / table), pd.read_parquet(cluster / table)
        columns = [c for c in expected.columns if not c.endswith("_seconds")]
        assert list(actual.columns) == list(expected.columns), table
        pd.testing.assert_frame_equal(actual[columns], expected[columns], check_exact=True, obj=table)

    print(f"local run {local_s:.1f} s; SLURM run {slurm_s:.1f} s, {len(by_slurm_id)} SLURM jobs")
