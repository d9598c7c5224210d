"""End to end: `snakemake --cores 2` with config/smoke.yaml, in a temporary copy of the workflow."""

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

from conftest import SNAKEMAKE, snakemake


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_report_exists_and_its_paths_are_printed(smoke_run):
    directory, run = smoke_run
    html, pdf = directory / "results/report/report.html", directory / "results/report/report.pdf"
    assert html.stat().st_size > 0 and pdf.read_bytes().startswith(b"%PDF")
    assert str(html.resolve()) in run.stdout and str(pdf.resolve()) in run.stdout


def test_report_tables_carry_the_aggregated_numbers(smoke_run):
    from lossatlas.report import format_number

    directory, _ = smoke_run
    cells = pd.read_csv(directory / "results/aggregate/cells.csv")
    text = pdf_text(directory / "results/report/report.pdf")
    html = (directory / "results/report/report.html").read_text()
    assert len(cells) == 40
    for _, cell in cells.iterrows():
        for column in ("final_test_rmse_mean", "final_test_rmse_ci_low", "final_test_rmse_ci_high", "final_train_loss_mean"):
            number = format_number(cell[column])
            assert number in text, f"{column} of {cell['dataset']}/{cell['loss']}/{cell['activation']}: {number}"
            assert number in html
    for table_id in ("T1", "T2"):
        assert f'id="{table_id}"' in html


def test_outputs_are_complete_and_rerun_does_nothing(smoke_run):
    directory, _ = smoke_run
    trials = pd.read_parquet(directory / "results/aggregate/trials.parquet")
    assert len(trials) == 38 * 4 + 2 * 6 and not trials["diverged"].any()
    assert not list((directory / "results").rglob(".*.tmp"))
    again = snakemake(directory, "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_changing_one_loss_reruns_only_what_depends_on_it(smoke_run):
    directory, _ = smoke_run
    config = yaml.safe_load((directory / "config/smoke.yaml").read_text())
    config["experiments"]["long"]["losses"] = ["mae", "binary_crossentropy"]  # mse -> mae
    (directory / "config/changed.yaml").write_text(yaml.safe_dump(config))
    dry_run = subprocess.run(
        [SNAKEMAKE, "-n", "--cores", "2", "--configfile", "config/changed.yaml"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dry_run.returncode == 0, dry_run.stdout + dry_run.stderr
    planned = set(re.findall(r"output: (results/\S+?)[,\s]", dry_run.stdout))
    trained = {path for path in planned if path.startswith("results/train/")}
    assert trained == {"results/train/long/mae/job000/trials.parquet"}, planned
    assert not any(path.startswith(("results/datasets/", "results/article/")) for path in planned)


def test_verify_reproduces_a_sample_and_catches_a_changed_number(smoke_run, tmp_path):
    directory, _ = smoke_run
    command = [sys.executable, "-m", "lossatlas.verify", "--config", "config/smoke.yaml", "--cells", "2"]
    run = subprocess.run([*command, "--results", "results"], cwd=directory, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS trials" in run.stdout and "PASS cells" in run.stdout

    tampered = tmp_path / "results"
    shutil.copytree(directory / "results" / "aggregate", tampered / "aggregate")
    cells = pd.read_csv(tampered / "aggregate" / "cells.csv")
    cells["final_test_rmse_mean"] *= 1.001
    cells.to_csv(tampered / "aggregate" / "cells.csv", index=False)
    run = subprocess.run([*command, "--results", str(tampered)], cwd=directory, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "FAIL cells" in run.stdout and "PASS trials" in run.stdout


def test_pdf_names_every_table_and_every_claim_with_its_verdict(smoke_run):
    directory, _ = smoke_run
    text = pdf_text(directory / "results/report/report.pdf")
    flat = " ".join(text.split())
    html = (directory / "results/report/report.html").read_text()
    table_ids = sorted(set(re.findall(r'id="(T\d+)"', html)), key=lambda table: int(table[1:]))
    assert table_ids and table_ids == [f"T{n}" for n in range(1, len(table_ids) + 1)]
    for table_id in table_ids:
        assert re.search(rf"\b{table_id}\b", flat), table_id  # the citable id itself
    claims = pd.read_csv(directory / "results/analysis/claims.csv")
    from lossatlas.claims import VERDICTS

    assert set(claims["verdict"]) <= set(VERDICTS)
    for claim in claims.itertuples():
        assert re.search(rf"\b{claim.id}\b", flat), claim.id
        assert claim.verdict in flat and " ".join(claim.name.split()) in flat


def test_two_renders_are_byte_identical(smoke_run):
    directory, _ = smoke_run
    outputs = [directory / "results/report/report.pdf", directory / "results/report/report.html"]
    before = [path.read_bytes() for path in outputs]
    again = snakemake(directory, "--forcerun", "report")
    assert again.returncode == 0, again.stdout + again.stderr
    assert [path.read_bytes() for path in outputs] == before


def test_snakemakes_own_report_lists_the_figures(smoke_run, tmp_path):
    directory, _ = smoke_run
    target = tmp_path / "snakemake-report.html"
    run = snakemake(directory, "--report", str(target))
    assert run.returncode == 0, run.stdout + run.stderr
    assert target.stat().st_size > 10_000


def test_a_killed_run_resumes_cleanly(smoke_run, tmp_path):
    from conftest import copy_workflow

    reference, _ = smoke_run
    directory = copy_workflow(tmp_path)
    command = [SNAKEMAKE, "--cores", "2", "--configfile", "config/smoke.yaml", "--until", "aggregate"]
    process = subprocess.Popen(command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list((directory / "results" / "train").glob("*/*/*/trials.parquet")):  # wait for a finished job
            assert process.poll() is None and time.monotonic() < deadline, "no training job finished"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # as a scheduler ends a job that ran out of time
        process.wait(timeout=120)
    assert not list((directory / "results").rglob(".*.tmp"))  # no half-written result is left
    resumed = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    expected = pd.read_parquet(reference / "results/aggregate/trials.parquet").drop(columns="stack_seconds")
    actual = pd.read_parquet(directory / "results/aggregate/trials.parquet").drop(columns="stack_seconds")
    pd.testing.assert_frame_equal(actual, expected, check_exact=True)
