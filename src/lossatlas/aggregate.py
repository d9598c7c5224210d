"""Aggregation over seeds: per-cell summaries and per-epoch curves, each with 95% bootstrap CIs."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from lossatlas.seeds import derive_seed
from lossatlas.stats import bootstrap_curve_ci, bootstrap_mean_ci

CELL = ["experiment", "dataset", "targets", "model", "optimizer", "loss", "activation"]
SUMMARY_METRICS = ("final_test_rmse", "final_test_mae", "final_train_loss")
CURVE_METRICS = ("train_loss", "test_rmse", "grad_norm_layer_1", "output_grad_abs")


def cell_id(row) -> str:
    return "/".join(str(row[c]) for c in CELL)


def summarize_cells(trials: pd.DataFrame, base_seed: int, n_resamples: int) -> pd.DataFrame:
    """One row per cell: seeds, divergence, and for each summary metric the mean over seeds that did
    not diverge, its 95% BCa bootstrap CI (``scipy.stats.bootstrap``, seeded per cell) and median."""
    rows = []
    for key, group in trials.groupby(CELL, sort=True):
        row = dict(zip(CELL, key))
        row["n_seeds"] = len(group)
        row["n_diverged"] = int(group["diverged"].sum())
        row["divergence_rate"] = row["n_diverged"] / len(group)
        row["reach_flag"] = group["reach_flag"].iloc[0]
        for metric in SUMMARY_METRICS:
            seed = derive_seed(base_seed, "bootstrap", cell_id(row), metric)
            finite = group.loc[~group["diverged"], metric].to_numpy()
            mean, low, high = bootstrap_mean_ci(finite, n_resamples=n_resamples, seed=seed)
            row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = mean, low, high
            row[f"{metric}_median"] = float(np.median(finite)) if finite.size else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def summarize_curves(
    epochs: pd.DataFrame, base_seed: int, n_resamples: int, metrics: Iterable[str] = CURVE_METRICS
) -> pd.DataFrame:
    """Long table, one row per cell, metric and epoch: the mean over seeds and its percentile
    bootstrap band. Epochs where a metric was not recorded (NaN for every seed) are left out."""
    parts = []
    for key, group in epochs.groupby(CELL, sort=True):
        for metric in metrics:
            if metric not in group or group[metric].isna().all():
                continue
            wide = group.pivot(index="seed", columns="epoch", values=metric)
            wide = wide.loc[:, wide.notna().any(axis=0)]
            seed = derive_seed(base_seed, "curve", "/".join(map(str, key)), metric)
            mean, low, high = bootstrap_curve_ci(wide.to_numpy(), n_resamples=n_resamples, seed=seed)
            part = pd.DataFrame({"epoch": wide.columns.to_numpy(), "mean": mean, "ci_low": low, "ci_high": high})
            part.insert(0, "metric", metric)
            for name, value in zip(reversed(CELL), reversed(key)):
                part.insert(0, name, value)
            parts.append(part)
    return pd.concat(parts, ignore_index=True)
