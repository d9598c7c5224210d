"""Re-runs a sample of cells and checks that they reproduce the current results.

    python -m lossatlas.verify [--config config/config.yaml] [--results results] [--cells 3] [--seed 0]

It picks ``--cells`` cells at random (seeded) from the results, re-generates their data, retrains
their trials with the engine exactly as the workflow did, and compares, within a stated tolerance:
the per-trial table (``results/aggregate/trials.parquet``: every final metric of every seed of
those cells) and the per-cell table (``results/aggregate/cells.csv``: every summary statistic,
recomputed from the retrained trials). It prints PASS or FAIL per table and exits non-zero on any
FAIL. Training is deterministic, so the tolerance only absorbs float rounding between stacks of
different sizes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from lossatlas.aggregate import cell_table, trial_metrics
from lossatlas.results import CELL
from lossatlas.config import Stack, load_study_file
from lossatlas.datasets import generate
from lossatlas.results import read

RTOL = 1e-5
ATOL = 1e-9


def _compare(name: str, expected: pd.DataFrame, actual: pd.DataFrame, keys: list[str]) -> bool:
    merged = expected.merge(actual, on=keys, suffixes=("_expected", "_actual"), how="outer", indicator=True)
    if not (merged["_merge"] == "both").all():
        print(f"FAIL {name}: {int((merged['_merge'] != 'both').sum())} rows present on one side only")
        return False
    worst, failures = 0.0, []
    for column in [c for c in actual.columns if c not in keys and pd.api.types.is_numeric_dtype(actual[c])]:
        if column.endswith("_seconds") or f"{column}_expected" not in merged:
            continue
        want = merged[f"{column}_expected"].to_numpy(np.float64)
        got = merged[f"{column}_actual"].to_numpy(np.float64)
        close = np.isclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            deviation = np.nan_to_num(np.abs(got - want) / np.maximum(np.abs(want), ATOL), posinf=np.inf)
        worst = max(worst, float(np.max(np.where(np.isfinite(want) & np.isfinite(got), deviation, 0.0), initial=0.0)))
        if not close.all():
            failures.append(f"{column} ({int((~close).sum())} values)")
    if failures:
        print(f"FAIL {name}: differs beyond rtol {RTOL:g} in {', '.join(failures)}")
        return False
    print(f"PASS {name}: {len(merged)} rows, {len(actual.columns) - len(keys)} columns, largest relative deviation {worst:.2e} (rtol {RTOL:g})")
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--results", default="results")
    parser.add_argument("--cells", type=int, default=3, help="how many cells to re-run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random choice of cells")
    args = parser.parse_args(argv)
    from lossatlas.train import train_stack  # imports TensorFlow

    study = load_study_file(args.config)
    results = Path(args.results)
    trials = read(results / "aggregate" / "trials.parquet")
    cells = read(results / "aggregate" / "cells.csv")
    if not 1 <= args.cells <= len(cells):
        raise ValueError(f"--cells must be between 1 and {len(cells)}, got {args.cells}")
    sample = cells.sample(n=args.cells, random_state=args.seed)[CELL]
    retrained = []
    for row in sample.itertuples(index=False):
        print("re-running", "/".join(str(value) for value in row))
        stack = Stack(row.experiment, row.dataset, row.targets, row.model, row.optimizer, ((row.loss, row.activation),))
        data = generate(study.datasets[row.dataset], study.base_seed, study.dataset_seeds(row.dataset))
        trial_table, eval_table = train_stack(study, stack, data)
        retrained.append(trial_metrics(trial_table, eval_table, study, {row.dataset: data}))
    retrained = pd.concat(retrained, ignore_index=True)
    expected_trials = trials.merge(sample, on=CELL)
    expected_cells = cells.merge(sample, on=CELL)
    recomputed = cell_table(retrained, study)
    ok = _compare("trials (results/aggregate/trials.parquet)", expected_trials, retrained, CELL + ["seed"])
    ok &= _compare("cells (results/aggregate/cells.csv)", expected_cells, recomputed, CELL)
    print("verify:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
