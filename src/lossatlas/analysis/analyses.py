"""Analyses over the aggregated trials: the article's seed reproduction, paired comparisons between
losses and the best loss of each context, and log-log slopes of a metric against the target scale.

Everything the report states as a finding is decided here (or in :mod:`lossatlas.analysis.claims`), once,
and written to ``results/analysis/``; the report only formats it."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from lossatlas.analysis import mechanism
from lossatlas.analysis.claims import evaluate_claims
from lossatlas.core.atomic import write_json, write_table
from lossatlas.core.results import LOSS_CONTEXT, SLOPE_METRICS, read
from lossatlas.core.seeds import derive_seed
from lossatlas.core.source import PRINTED_LOSSES
from lossatlas.design.claimspec import load_claims
from lossatlas.design.views import at_default, tuned_table
from lossatlas.stats.bootstrap import bootstrap_seed_statistic_ci
from lossatlas.stats.paired import compare_table, paired_comparison

SLOPE_GROUP = ["experiment", "inputs", "targets", "model", "optimizer", "loss", "activation"]
BEST_COLUMNS = [*LOSS_CONTEXT, "best", "best_median", "n_losses", "n_beaten", "all_beaten"]


def article_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per example of the article's verbatim runs.

    Args:
        runs: one row per (example, seed): ``final_loss``, ``train_mse``, ``test_mse``, ``test_rmse``.
    Returns:
        Columns ``example, n_seeds, printed_loss, final_loss_median, final_loss_low, final_loss_high``
        (the 2.5% and 97.5% quantiles over seeds), ``printed_inside`` (the article's printed loss
        lies in that range), ``printed_quantile`` (fraction of seeds with a lower final loss than
        printed), and the median and 2.5-97.5% range of ``test_mse``.
    """
    rows = []
    for example, group in runs.groupby("example", sort=True):
        low, median, high = np.quantile(group["final_loss"], [0.025, 0.5, 0.975])
        test_low, test_median, test_high = np.quantile(group["test_mse"], [0.025, 0.5, 0.975])
        printed = PRINTED_LOSSES[example]
        rows.append(
            {
                "example": example,
                "n_seeds": len(group),
                "printed_loss": printed,
                "final_loss_median": median,
                "final_loss_low": low,
                "final_loss_high": high,
                "printed_inside": bool(low <= printed <= high),
                "printed_quantile": float(np.mean(group["final_loss"] < printed)),
                "test_mse_median": test_median,
                "test_mse_low": test_low,
                "test_mse_high": test_high,
            }
        )
    return pd.DataFrame(rows)


def article_examples_2_and_3(runs: pd.DataFrame, n_resamples: int, seed: int) -> dict:
    """Examples 3 (sigmoid + BCE) against 2 (sigmoid + MSE) on the same metric, test MSE in target
    units, paired by seed (they share their data): :func:`lossatlas.stats.paired.paired_comparison`."""
    wide = runs.pivot(index="seed", columns="example", values="test_mse")
    return paired_comparison(wide["example 3"].to_numpy(), wide["example 2"].to_numpy(), seed=seed, n_resamples=n_resamples)


def loss_comparisons(trials: pd.DataFrame, metric: str, n_resamples: int, seed: int, alpha: float = 0.05) -> pd.DataFrame:
    """Every pair of losses compared on ``metric`` within each (experiment, dataset, targets, model,
    optimizer, activation), paired by seed, Holm-corrected across all of them at family-wise level
    ``alpha`` (:func:`lossatlas.stats.paired.compare_table`; diverged trials count as missing)."""
    finite = trials.assign(**{metric: trials[metric].where(~trials["diverged"])})
    table = compare_table(
        finite[LOSS_CONTEXT + ["loss", "seed", metric]], LOSS_CONTEXT, "loss", metric, seed=seed, n_resamples=n_resamples, alpha=alpha
    )
    return table.assign(metric=metric)


def best_losses(cells: pd.DataFrame, comparisons: pd.DataFrame) -> pd.DataFrame:
    """Per context (experiment, dataset, targets, model, optimizer, activation) with two or more
    losses: the loss with the lowest median test nRMSE and how many of the others it beats
    significantly (a significant comparison of ``comparisons`` whose Hodges-Lehmann estimate of the
    paired difference favours it).

    Args:
        cells: the cells table (``final_test_nrmse_median``).
        comparisons: :func:`loss_comparisons` (``level_a``, ``level_b``, ``hodges_lehmann`` of
            a - b, ``significant``).
    Returns:
        One row per context, columns :data:`BEST_COLUMNS`: its coordinates, ``best``, ``best_median``,
        ``n_losses``, ``n_beaten`` (significantly), ``all_beaten`` (every other loss significantly worse).
    """
    wins = set()
    for row in comparisons.itertuples(index=False):
        difference = row.hodges_lehmann
        if not bool(row.significant) or not math.isfinite(difference) or difference == 0:
            continue
        context = tuple(str(getattr(row, c)) for c in LOSS_CONTEXT)
        winner, loser = (row.level_a, row.level_b) if difference < 0 else (row.level_b, row.level_a)
        wins.add((context, str(winner), str(loser)))
    rows = []
    for context, group in cells.groupby(LOSS_CONTEXT, sort=False):
        if group["loss"].nunique() < 2:
            continue
        medians = group.set_index("loss")["final_test_nrmse_median"].astype(float)
        finite = medians[medians.notna()]
        best = str(finite.idxmin()) if not finite.empty else None
        others = [loss for loss in medians.index if loss != best]
        beaten = sum((tuple(map(str, context)), best, str(other)) in wins for other in others) if best else 0
        rows.append(
            {
                **dict(zip(LOSS_CONTEXT, map(str, context))),
                "best": best,
                "best_median": finite.min() if best else math.nan,
                "n_losses": len(medians),
                "n_beaten": beaten,
                "all_beaten": bool(best) and beaten == len(others),
            }
        )
    return pd.DataFrame(rows, columns=BEST_COLUMNS)


def log_log_slope(scales: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``log10(mean over seeds)`` against ``log10(scale)``.

    Args:
        scales: ``(k,)``; values: ``(..., seeds, k)``, any leading axes (e.g. bootstrap resamples).
    Returns:
        ``(...)`` slopes; NaN where fewer than two scales have a finite, positive mean.
    """
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a scale where every seed diverged
        y = np.log10(np.nanmean(values, axis=-2))
    x = np.broadcast_to(np.log10(scales), y.shape)
    keep = np.isfinite(y)
    count = keep.sum(axis=-1)
    x_mean = np.where(keep, x, 0).sum(axis=-1) / np.maximum(count, 1)
    y_mean = np.where(keep, y, 0).sum(axis=-1) / np.maximum(count, 1)
    dx = np.where(keep, x - x_mean[..., None], 0)
    dy = np.where(keep, y - y_mean[..., None], 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (dx * dy).sum(axis=-1) / (dx * dx).sum(axis=-1)
    return np.where(count >= 2, slope, np.nan)


def scale_slopes(trials: pd.DataFrame, scales: dict[str, float], metric: str, n_resamples: int, seed: int) -> pd.DataFrame:
    """Log-log slope of ``metric`` against the target scale, per (experiment, targets, model,
    optimizer, loss, activation), over the datasets in ``scales`` (label -> scale).

    Returns columns: the group, ``metric``, ``n_scales``, ``n_seeds``, ``slope`` and its 95%
    percentile bootstrap CI ``slope_ci_low``, ``slope_ci_high`` (whole seeds resampled, so each
    seed keeps its values at every scale), and ``scales`` (the scales used, as text).
    """
    selected = trials[trials["dataset"].isin(scales)]
    rows = []
    for key, group in selected.groupby(SLOPE_GROUP, sort=True):
        wide = group.pivot(index="seed", columns="dataset", values=metric)
        wide = wide.where(group.pivot(index="seed", columns="dataset", values="diverged").eq(False))
        if wide.shape[1] < 2:
            continue
        x = np.array([scales[label] for label in wide.columns])
        values = wide.to_numpy(dtype=np.float64)
        slope, low, high = bootstrap_seed_statistic_ci(
            len(values),
            lambda indices, axis=-1: log_log_slope(x, values[indices]),
            n_resamples=n_resamples,
            seed=derive_seed(seed, "slope", metric, *key),
        )
        row = dict(zip(SLOPE_GROUP, key))
        row.update(
            metric=metric,
            n_scales=len(x),
            n_seeds=len(values),
            slope=slope,
            slope_ci_low=low,
            slope_ci_high=high,
            scales=", ".join(f"{value:g}" for value in sorted(x)),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def write_tuned_rates(study, trials: str, cells: str, output: str) -> None:
    """Reads the aggregated ``trials`` and ``cells`` and writes the tuned rate of each base cell of a
    tuned experiment (:func:`lossatlas.design.views.tuned_table`) to ``output`` (rule tuned_rates: from
    the aggregate's tables alone, so that the figures that read it need not wait for the analysis)."""
    write_table(output, tuned_table(read(trials, "trials"), study, read(cells, "cells")))


def write_analysis(study, trials: str, cells: str, article, claims: str, scales: dict[str, float], tuned_rates: str,
                   outputs: dict[str, str]) -> None:
    """Reads the aggregated ``trials`` and ``cells``, the article's verbatim runs (``article``: CSV
    paths), the ``claims`` file and the ``tuned_rates`` table (:func:`write_tuned_rates`), and writes
    every analysis table to ``outputs`` (name -> path: article_runs, article_summary,
    article_examples, comparisons, best_losses, slopes, verdicts, claim_details, mechanism, remedies,
    findings).

    Loss comparisons, best losses and slopes are at each optimizer's default rate (the article's
    setting); the claims are judged at the rates each claim names (:mod:`lossatlas.design.views`)."""
    trial_table = read(trials, "trials")
    cell_table = read(cells, "cells")
    runs = pd.concat([pd.read_csv(path) for path in article], ignore_index=True)
    seed = study.base_seed
    resamples, alpha = study.config["statistics"]["bootstrap_resamples"], study.config["statistics"]["alpha"]
    write_table(outputs["article_runs"], runs)
    write_table(outputs["article_summary"], article_summary(runs))
    write_table(outputs["article_examples"], pd.DataFrame([article_examples_2_and_3(runs, resamples, seed)]))
    default_trials, default_cells = at_default(trial_table, study), at_default(cell_table, study)
    comparisons = loss_comparisons(default_trials, "final_test_nrmse", resamples, seed, alpha)
    write_table(outputs["comparisons"], comparisons)
    write_table(outputs["best_losses"], best_losses(default_cells, comparisons))
    slopes = pd.concat([scale_slopes(default_trials, scales, metric, resamples, seed) for metric in SLOPE_METRICS], ignore_index=True)
    write_table(outputs["slopes"], slopes)
    tuned = read(tuned_rates)
    claim_file = load_claims(claims)
    verdicts, details = evaluate_claims(claim_file, trial_table, cell_table, runs, slopes, study, tuned, resamples, seed)
    write_table(outputs["verdicts"], verdicts)
    write_table(outputs["claim_details"], details)
    cells_of_claims = mechanism.claim_cells(claim_file, cell_table, study, tuned)
    mechanisms = mechanism.mechanism_table(cells_of_claims, trial_table, study)
    write_table(outputs["mechanism"], mechanisms)
    remedies = mechanism.remedy_table(claim_file, details, trial_table, study, tuned, resamples, seed)
    write_table(outputs["remedies"], remedies)
    write_json(outputs["findings"], mechanism.findings(mechanisms, verdicts, remedies, study))
    print(verdicts[["id", "name", "verdict", "holds_in"]].to_string())
