"""Statistics over seeds: means with seeded 95% bootstrap confidence intervals."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats


def bootstrap_mean_ci(
    values: np.ndarray, n_resamples: int = 10_000, seed: int = 0, confidence: float = 0.95, method: str = "BCa"
) -> tuple[float, float, float]:
    """Mean of ``values`` and its bootstrap confidence interval, ignoring non-finite values.

    Args:
        values: ``(n,)`` one value per seed.
    Returns:
        ``(mean, low, high)``. With one finite value the interval is NaN; when every value is the
        same, the interval is that value. ``method`` is scipy's (BCa by default); where BCa is
        undefined, the percentile interval is used.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(values.mean())
    if values.size == 1:
        return (mean, np.nan, np.nan)
    if np.all(values == values[0]):
        return (mean, mean, mean)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (values,),
            np.mean,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method=method,
            rng=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)) and method != "percentile":
        return bootstrap_mean_ci(values, n_resamples, seed, confidence, "percentile")
    return (mean, float(low), float(high))


def bootstrap_curve_ci(
    values: np.ndarray, n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds of a curve and its percentile-bootstrap band, per epoch.

    Args:
        values: ``(seeds, epochs)``. Seeds with a non-finite value anywhere are left out.
    Returns:
        ``(mean, low, high)``, each ``(epochs,)``; NaN where fewer than two seeds remain.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.all(np.isfinite(values), axis=1)]
    epochs = values.shape[1]
    if values.shape[0] < 2:
        mean = values.mean(axis=0) if values.shape[0] else np.full(epochs, np.nan)
        return (mean, np.full(epochs, np.nan), np.full(epochs, np.nan))
    result = stats.bootstrap(
        (values,),
        np.mean,
        axis=0,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return (values.mean(axis=0), np.asarray(low), np.asarray(high))


def bootstrap_seed_statistic_ci(
    n_seeds: int, statistic, n_resamples: int = 10_000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """A statistic of seeds and its percentile bootstrap CI, resampling whole seeds.

    Args:
        n_seeds: how many seeds there are.
        statistic: ``statistic(indices, axis=-1)``, computed from the seeds ``indices``
            ``(..., n_seeds)`` (with repeats in a resample), vectorized over leading axes.
            Resampling seeds, not values, keeps a seed's values at every level of a paired design
            together.
    Returns:
        ``(estimate, low, high)``; NaN bounds with fewer than two seeds.
    """
    estimate = float(statistic(np.arange(n_seeds)))
    if n_seeds < 2:
        return (estimate, np.nan, np.nan)
    result = stats.bootstrap(
        (np.arange(n_seeds),),
        statistic,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        batch=1000,
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return (estimate, float(low), float(high))
