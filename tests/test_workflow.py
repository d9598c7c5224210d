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
import yaml
from conftest import SNAKEMAKE, snakemake


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_report_exists_and_its_paths_are_printed(smoke_run):
    directory, run = smoke_run
    for name in ("report", "supplement"):  # the paper and its supplement
        html, pdf = directory / f"results/report/{name}.html", directory / f"results/report/{name}.pdf"
        assert html.stat().st_size > 0 and pdf.read_bytes().startswith(b"%PDF")
        assert str(html.resolve()) in run.stdout and str(pdf.resolve()) in run.stdout


def test_report_tables_carry_the_aggregated_numbers(smoke_run):
    """Every cell's test RMSE [95% CI] and training loss, by the report's number rule (a CI with its
    estimate's decimals), in the supplement's PDF and HTML."""
    from lossatlas.core.textfmt import format_error, interval_parts

    directory, _ = smoke_run
    cells = pd.read_csv(directory / "results/aggregate/cells.csv")
    text = " ".join(pdf_text(directory / "results/report/supplement.pdf").split())
    html = (directory / "results/report/supplement.html").read_text()
    assert len(cells) >= 38 + 9  # every cell of the config, and the rates a tuned sweep added
    for _, cell in cells.iterrows():
        where = f"{cell['dataset']}/{cell['loss']}/{cell['activation']}"
        estimate, bounds = interval_parts(cell["final_test_rmse_mean"], cell["final_test_rmse_ci_low"], cell["final_test_rmse_ci_high"], "error")
        loss = format_error(cell["final_train_loss_mean"])
        for number in (estimate, bounds, loss):
            assert number in text, f"{where}: {number}"
            assert number in html, f"{where}: {number}"
    for table_id in ("T1", "T2"):
        assert f'id="{table_id}"' in html


def test_the_results_load_from_python_with_every_column_described(smoke_run):
    """lossatlas.core.results loads each tidy table of a run as a checked DataFrame; every column it
    has is described in lossatlas.core.results.TABLES (a per-job table is read with read())."""
    from lossatlas.core import results

    directory, _ = smoke_run
    for name, table in results.TABLES.items():
        if "{" in table.path:
            frames = [results.read(path, name) for path in sorted((directory / "results").glob(table.path.replace("{experiment}", "*").replace("{group}", "*").replace("{job}", "*")))]
            assert frames, name
            frame = frames[0]
        else:
            frame = results.load(name, directory / "results")
        assert len(frame) > 0, name
        # {k} stands for a layer number, any other {name} for a metric's name
        described = [re.compile(re.sub(r"\\\{(\w+)\\\}", lambda m: r"\d+" if m.group(1) == "k" else r"\w+", re.escape(column)))
                     for column in table.columns]
        undescribed = [column for column in frame.columns if not any(pattern.fullmatch(column) for pattern in described)]
        assert not undescribed, f"{name}: {undescribed}"
        assert name in results.describe(name)
    cells = results.load("cells", directory / "results")
    assert cells["learning_rate"].dtype == float and cells["dataset"].map(type).eq(str).all()


def test_outputs_are_complete_and_rerun_does_nothing(smoke_run):
    directory, _ = smoke_run
    trials = pd.read_parquet(directory / "results/aggregate/trials.parquet")
    # article: 38 cells x 4 seeds; long: 3 cells x 6 seeds at each of the sweep's 3 rates, and at the
    # rates its extension added where a cell's tuned rate was at an edge
    article = trials[trials["experiment"] == "article"]
    assert len(article) == 38 * 4 and not article["diverged"].any()
    long = trials[trials["experiment"] == "long"]
    assert len(long) >= 3 * 3 * 6 and len(long) % 6 == 0
    assert not list((directory / "results").rglob(".*.tmp"))
    again = snakemake(directory, "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_changing_one_loss_reruns_only_what_depends_on_it(smoke_run):
    directory, _ = smoke_run
    config = yaml.safe_load((directory / "config/smoke.yaml").read_text())
    config["experiments"]["article"]["losses"] = ["mse", "mae"]  # binary cross-entropy -> MAE
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
    # a stack holds every loss of its model, optimizer and data shape: the experiment's jobs re-run, no other's
    assert trained and all(path.startswith("results/train/article/") for path in trained), planned
    assert not any(path.startswith(("results/datasets/", "results/article/")) for path in planned)


def test_verify_recomputes_everything_and_catches_tampering(smoke_run, tmp_path):
    """The cheap level recomputes every cell and every report table; a +50% change in any one cell
    of cells.csv, a changed report table and a deleted job table each fail it; the expensive level
    re-trains a sample."""
    directory, _ = smoke_run
    command = [sys.executable, "-m", "lossatlas.verify", "--config", "config/smoke.yaml"]
    run = subprocess.run([*command, "--results", "results", "--retrain", "2"], cwd=directory, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    for check in ("PASS files", "PASS trials", "PASS cells", "PASS report tables", "PASS re-trained trials"):
        assert check in run.stdout, run.stdout

    def tampered(change) -> subprocess.CompletedProcess:
        copy = tmp_path / f"results-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(directory / "results", copy)
        change(copy)
        return subprocess.run([*command, "--results", str(copy)], cwd=directory, capture_output=True, text=True, timeout=600)

    def one_cell(copy):
        cells = pd.read_csv(copy / "aggregate" / "cells.csv")
        cells.loc[len(cells) - 1, "final_test_rmse_mean"] *= 1.5  # the last cell, whatever a sample would draw
        cells.to_csv(copy / "aggregate" / "cells.csv", index=False)

    def report_table(copy):
        path = copy / "report" / "tables" / "T1.csv"
        path.write_text(path.read_text().replace("1", "2", 1))

    def deleted_job(copy):
        next((copy / "train").glob("*/*/*/evals.parquet")).unlink()

    run = tampered(one_cell)
    assert run.returncode == 1 and "FAIL cells" in run.stdout and "PASS trials" in run.stdout, run.stdout
    run = tampered(report_table)
    assert run.returncode == 1 and "FAIL" in run.stdout and "T1.csv" in run.stdout, run.stdout
    run = tampered(deleted_job)
    assert run.returncode == 1 and "evals.parquet: missing or unreadable" in run.stdout and "rebuild:" in run.stdout, run.stdout


def test_pdf_names_every_table_and_every_claim_with_its_verdict(smoke_run):
    directory, _ = smoke_run
    text = pdf_text(directory / "results/report/supplement.pdf")
    flat = " ".join(text.split())
    html = (directory / "results/report/supplement.html").read_text()
    table_ids = sorted(set(re.findall(r'id="(T\d+)"', html)), key=lambda table: int(table[1:]))
    assert table_ids and table_ids == [f"T{n}" for n in range(1, len(table_ids) + 1)]
    for table_id in table_ids:
        assert re.search(rf"\b{table_id}\b", flat), table_id  # the citable id itself
    claims = pd.read_csv(directory / "results/analysis/claims.csv")
    from lossatlas.analysis.claims import VERDICTS

    assert set(claims["verdict"]) <= set(VERDICTS)
    for claim in claims.itertuples():
        assert re.search(rf"\b{claim.id}\b", flat), claim.id
        assert claim.verdict in flat and " ".join(claim.name.split()) in flat


def test_two_renders_are_byte_identical(smoke_run):
    directory, _ = smoke_run
    outputs = [directory / f"results/report/{name}.{suffix}" for name in ("report", "supplement") for suffix in ("pdf", "html")]
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


def kill_after_first_training_job(command, directory, how):
    """Start ``command`` in its own process group and send ``how`` to the whole group as soon as
    the first training job has written its result."""
    process = subprocess.Popen(command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list((directory / "results" / "train").glob("*/*/*/trials.parquet")):
            assert process.poll() is None and time.monotonic() < deadline, "no training job finished"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, how)
        process.wait(timeout=120)


def test_a_killed_run_resumes_cleanly(smoke_run, tmp_path):
    from conftest import copy_workflow

    reference, _ = smoke_run
    directory = copy_workflow(tmp_path)
    command = [SNAKEMAKE, "--cores", "2", "--configfile", "config/smoke.yaml", "--until", "aggregate"]
    kill_after_first_training_job(command, directory, signal.SIGTERM)  # as a scheduler ends a job that ran out of time
    assert not list((directory / "results").rglob(".*.tmp"))  # no half-written result is left
    resumed = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    expected = pd.read_parquet(reference / "results/aggregate/trials.parquet").drop(columns="stack_seconds")
    actual = pd.read_parquet(directory / "results/aggregate/trials.parquet").drop(columns="stack_seconds")
    pd.testing.assert_frame_equal(actual, expected, check_exact=True)


def test_a_run_killed_with_sigkill_resumes_with_the_readme_command(smoke_run, tmp_path):
    """kill -9 of the whole process group leaves Snakemake's lock behind; the README's command
    (make reproduce) removes the stale lock, resumes, and gives byte-identical cells.csv."""
    from conftest import copy_workflow

    reference, _ = smoke_run
    directory = copy_workflow(tmp_path)
    arguments = ["--configfile", "config/smoke.yaml", "--until", "aggregate"]
    kill_after_first_training_job([SNAKEMAKE, "--cores", "2", *arguments], directory, signal.SIGKILL)
    assert list((directory / ".snakemake" / "locks").iterdir())  # the killed run left its lock
    venv = Path(sys.executable).parent.parent
    make = ["make", "-C", str(directory), "reproduce", f"VENV={venv}", "-o", f"{venv}/.installed", "CORES=2",
            f"SNAKEMAKE_ARGS={' '.join(arguments)}"]
    resumed = subprocess.run(make, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "stale lock" in resumed.stderr
    assert (directory / "results/aggregate/cells.csv").read_bytes() == (reference / "results/aggregate/cells.csv").read_bytes()
