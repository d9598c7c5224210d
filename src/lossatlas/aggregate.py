"""Aggregation over seeds: per-cell summaries and per-epoch curves, each with 95% bootstrap CIs."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from lossatlas.compare import censored_median, interquartile_mean
from lossatlas.seeds import derive_seed
from lossatlas.stats import bootstrap_curve_ci, bootstrap_mean_ci

CELL = ["experiment", "dataset", "targets", "model", "optimizer", "loss", "activation"]
# Metrics summarised with mean, 95% bootstrap CI, median and IQM over the seeds that did not diverge.
SUMMARY_METRICS = ("final_test_rmse", "final_test_nrmse", "final_test_mae", "final_train_loss")
# Metrics summarised by their mean over those seeds only.
MEAN_METRICS = (
    "final_test_r2",
    "best_test_r2",
    "first_epoch_grad_norm",
    "first_epoch_output_grad_abs",
    "first_epoch_update_norm",
    "final_output_saturation",
)
CURVE_METRICS = ("train_loss", "test_rmse", "grad_norm_output", "output_grad_abs", "update_norm")


def cell_id(row) -> str:
    return "/".join(str(row[c]) for c in CELL)


def summarize_cells(trials: pd.DataFrame, base_seed: int, n_resamples: int) -> pd.DataFrame:
    """One row per cell.

    Columns: the cell's coordinates; ``n_seeds``, ``n_diverged``, ``divergence_rate``;
    ``stagnation_rate`` and ``reach_rate`` (fractions of the seeds that did not diverge);
    ``steps_to_threshold_median`` (Kaplan-Meier median over all seeds, diverged and unreached
    ones censored; ``inf`` when fewer than half reach the threshold); ``reach_flag``; for each of
    :data:`SUMMARY_METRICS`: ``{metric}_mean``, ``_ci_low``, ``_ci_high`` (95% BCa bootstrap,
    ``scipy.stats.bootstrap`` seeded per cell), ``_median`` and ``_iqm``; for each of
    :data:`MEAN_METRICS`: ``{metric}_mean``. Statistics are over the seeds that did not diverge.
    """
    rows = []
    for key, group in trials.groupby(CELL, sort=True):
        row = dict(zip(CELL, key))
        kept = group.loc[~group["diverged"]]
        row["n_seeds"] = len(group)
        row["n_diverged"] = len(group) - len(kept)
        row["divergence_rate"] = row["n_diverged"] / len(group)
        row["stagnation_rate"] = kept["stagnated"].mean() if len(kept) else np.nan
        row["reach_rate"] = kept["reached_threshold"].mean() if len(kept) else np.nan
        row["steps_to_threshold_median"] = censored_median(group["steps_to_threshold"], group["reached_threshold"])
        row["reach_flag"] = group["reach_flag"].iloc[0]
        for metric in SUMMARY_METRICS:
            seed = derive_seed(base_seed, "bootstrap", cell_id(row), metric)
            finite = kept[metric].to_numpy()
            mean, low, high = bootstrap_mean_ci(finite, n_resamples=n_resamples, seed=seed)
            row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = mean, low, high
            row[f"{metric}_median"] = float(np.median(finite)) if finite.size else np.nan
            row[f"{metric}_iqm"] = interquartile_mean(finite)
        for metric in MEAN_METRICS:
            row[f"{metric}_mean"] = kept[metric].mean() if len(kept) else np.nan
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
