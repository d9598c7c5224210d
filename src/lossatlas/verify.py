"""Checks that the results of a run are complete, uncorrupted and reproduce from what they were made of.

    python -m lossatlas.verify [--config config/config.yaml] [--results results] [--retrain N] [--seed 0]

The cheap level (always) recomputes, from the files of the stage before, everything it can without
training:

* every dataset's ``.npz`` against its manifest's SHA-256, every training job's tables, every
  aggregate and analysis table and every report table: missing or unreadable files are reported with
  the command that rebuilds them;
* the per-trial table (``results/aggregate/trials.parquet``: every derived metric of every trial) from
  the training jobs' tables and the datasets, and the per-cell table (``cells.csv``: every statistic
  of every cell) from it;
* every report table ``results/report/tables/T*.csv`` from the results, as the report stage builds
  them.

The expensive level (``--retrain N``) also re-trains ``N`` cells drawn at random (seeded) and checks
that they reproduce their trials. Every check prints PASS or FAIL; the exit status is non-zero on any
FAIL. Training is deterministic, so the tolerance (rtol 1e-5) only absorbs float rounding between
stacks of different sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from lossatlas.aggregation.aggregate import cell_table, horizon_statuses, trial_metrics
from lossatlas.core.results import CELL, TRIAL, read
from lossatlas.data.datasets import load_dataset
from lossatlas.design.config import load_study_file
from lossatlas.design.plan import STUDY_FIGURE_GROUPS
from lossatlas.design.study import Cell, Stack

RTOL = 1e-5
ATOL = 1e-9
REBUILD = ".venv/bin/snakemake --cores all --forcerun {rule}   (then .venv/bin/snakemake --cores all)"


def compare_tables(name: str, expected: pd.DataFrame, actual: pd.DataFrame, keys: list[str]) -> bool:
    """PASS when every row of ``actual`` has a row of ``expected`` with the same ``keys`` and every
    numeric column agrees within rtol/atol (NaN equal to NaN), every text column exactly."""
    merged = expected.merge(actual, on=keys, suffixes=("_expected", "_actual"), how="outer", indicator=True)
    if not (merged["_merge"] == "both").all():
        print(f"FAIL {name}: {int((merged['_merge'] != 'both').sum())} rows present on one side only")
        return False
    worst, failures = 0.0, []
    for column in [c for c in actual.columns if c not in keys and f"{c}_expected" in merged]:
        if column.endswith("_seconds"):
            continue
        want, got = merged[f"{column}_expected"], merged[f"{column}_actual"]
        if pd.api.types.is_numeric_dtype(got) and pd.api.types.is_numeric_dtype(want):
            want, got = want.to_numpy(np.float64), got.to_numpy(np.float64)
            close = np.isclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                deviation = np.abs(got - want) / np.maximum(np.abs(want), ATOL)
            worst = max(worst, float(np.max(np.where(np.isfinite(deviation), deviation, 0.0), initial=0.0)))
        else:
            close = (want.fillna("").astype(str) == got.fillna("").astype(str)).to_numpy()
        if not close.all():
            failures.append(f"{column} ({int((~close).sum())} values)")
    if failures:
        print(f"FAIL {name}: differs beyond rtol {RTOL:g} in {', '.join(failures)}")
        return False
    print(f"PASS {name}: {len(merged)} rows, {len(actual.columns) - len(keys)} columns, largest relative deviation {worst:.2e}")
    return True


def check_files(study, results: Path) -> tuple[bool, dict]:
    """Every intermediate file exists and reads (datasets against their manifests); returns
    ``(ok, datasets)`` with the datasets loaded."""
    ok, datasets = True, {}
    used = list(dict.fromkeys(d for stacks in study.jobs().values() for stack in stacks for d in stack.datasets))
    for label in used:
        data, manifest = results / "datasets" / f"{label}.npz", results / "datasets" / f"{label}.manifest.json"
        try:
            datasets[label] = load_dataset(data, manifest)
        except (OSError, ValueError, KeyError) as error:
            print(f"FAIL {data}: {error}\n     rebuild: {REBUILD.format(rule='dataset')}")
            ok = False
    for job in study.jobs():
        for kind in ("trials", "evals"):
            path = results / "train" / job / f"{kind}.parquet"
            try:
                pd.read_parquet(path, columns=["seed"])
            except (OSError, ValueError) as error:
                print(f"FAIL {path}: missing or unreadable ({type(error).__name__})\n     rebuild: "
                      f".venv/bin/snakemake --cores all --forcerun train --allowed-rules train aggregate analysis "
                      f"tuned_rates figures {' '.join(f'study_figures_{group}' for group in STUDY_FIGURE_GROUPS)} report supplement  "
                      f"(or delete results/ and run again)")
                ok = False
    # (directory, rule that writes them, files)
    for stage, rule, names in (("aggregate", "aggregate", ("trials.parquet", "cells.csv", "curves.parquet", "floors.csv")),
                               ("analysis", "tuned_rates", ("tuned_rates.csv",)),
                               ("analysis", "analysis", ("claims.csv", "claim_details.csv", "loss_comparisons.csv",
                                                         "best_losses.csv", "scale_slopes.csv", "mechanism.csv", "remedies.csv",
                                                         "findings.json"))):
        for name in names:
            path = results / stage / name
            try:
                json.loads(path.read_text()) if path.suffix == ".json" else read(path)
            except (OSError, ValueError) as error:
                print(f"FAIL {path}: missing or unreadable ({type(error).__name__})\n     rebuild: {REBUILD.format(rule=rule)}")
                ok = False
    if ok:
        print(f"PASS files: {len(used)} datasets match their manifests; every job, aggregate and analysis table reads")
    return ok, datasets


def check_aggregate(study, results: Path, datasets: dict) -> bool:
    """Recomputes every trial's derived metrics and every cell's statistics and compares them."""
    jobs = study.jobs()
    trials = pd.concat([read(results / "train" / job / "trials.parquet") for job in jobs], ignore_index=True)
    evals = pd.concat([read(results / "train" / job / "evals.parquet") for job in jobs], ignore_index=True)
    recomputed = trial_metrics(trials, evals, study, datasets)
    ok = compare_tables("trials (results/aggregate/trials.parquet)", read(results / "aggregate" / "trials.parquet"), recomputed, TRIAL)
    cells = cell_table(recomputed, study).merge(horizon_statuses(recomputed, evals, study, datasets), on=CELL, how="left")
    ok &= compare_tables("cells (results/aggregate/cells.csv)", read(results / "aggregate" / "cells.csv"), cells, CELL)
    return ok


def check_report_tables(study, results: Path) -> bool:
    """Rebuilds every report table from the results, as the report stage does, and compares each
    ``T*.csv`` with it."""
    from lossatlas.report import rebuild_tables

    directory = results / "report" / "tables"
    expected = rebuild_tables(results / "report" / "inputs.json")
    ok = True
    for table_id, text in expected.items():
        path = directory / f"{table_id}.csv"
        if not path.exists() or path.read_text() != text:
            print(f"FAIL {path}: {'missing' if not path.exists() else 'differs from the table rebuilt from the results'}\n"
                  f"     rebuild: {REBUILD.format(rule='report')}")
            ok = False
    if ok:
        print(f"PASS report tables: {len(expected)} tables (results/report/tables/T*.csv) rebuilt from the results")
    return ok


def retrain(study, results: Path, n_cells: int, seed: int) -> bool:
    """Re-trains ``n_cells`` cells drawn at random (cells of horizon experiments for their budget
    only) and compares their trials."""
    from lossatlas.data.datasets import generate
    from lossatlas.training.train import train_stack  # imports TensorFlow

    cells = read(results / "aggregate" / "cells.csv")
    plain = [label for label, spec in study.experiments.items() if not spec.horizon]
    candidates = cells[cells["experiment"].isin(plain)]
    sample = candidates.sample(n=min(n_cells, len(candidates)), random_state=seed)[CELL]
    retrained = []
    for row in sample.itertuples(index=False):
        print("re-training", "/".join(str(value) for value in row))
        cell = Cell(**{**row._asdict(), "learning_rate": float(row.learning_rate)})
        data = generate(study.datasets[cell.dataset], study.base_seed, study.dataset_seeds(cell.dataset))
        trial_table, eval_table = train_stack(study, Stack(cell.experiment, cell.model, cell.optimizer, (cell,)), {cell.dataset: data})
        retrained.append(trial_metrics(trial_table, eval_table, study, {cell.dataset: data}))
    retrained = pd.concat(retrained, ignore_index=True).astype({c: str for c in CELL if c != "learning_rate"})
    expected = read(results / "aggregate" / "trials.parquet").merge(sample, on=CELL)
    return compare_tables("re-trained trials (results/aggregate/trials.parquet)", expected, retrained, TRIAL)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--results", default="results")
    parser.add_argument("--retrain", type=int, default=0, help="cells to re-train (the expensive level); 0: none")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random choice of cells")
    args = parser.parse_args(argv)
    study = load_study_file(args.config)
    results = Path(args.results)
    ok, datasets = check_files(study, results)
    if ok:
        ok &= check_aggregate(study, results, datasets)
        ok &= check_report_tables(study, results)
    if ok and args.retrain:
        ok &= retrain(study, results, args.retrain, args.seed)
    print("verify:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
