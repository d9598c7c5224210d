"""Statistics over seeds: means with seeded 95% bootstrap confidence intervals, for one cell or,
vectorized, for many cells at once.

Every statistic of a cell's seeds is computed over the same values: the finite ones. NaN (missing)
and inf (a diverged run) are left out and counted, never imputed. :func:`seed_summary` defines a
cell's summary (mean, its BCa CI, median, IQM, counts) in one place; :func:`seed_summary_many` is
the same for many cells at once.

The ``*_many`` functions bootstrap many cells at once. Cells are grouped by how many values (seeds)
they keep; all the cells of a group share ONE resample matrix, drawn from
``np.random.default_rng(derive_seed(seed, tag, n_kept))`` (``tag`` is ``"mean_ci"`` or
``"curve_band"``), so a cell's interval depends only on its own values, ``seed`` and its size, not on
the other cells, their order or the chunking. Cells are processed in chunks so that the largest
array built per chunk stays under ``chunk_bytes`` (:data:`CHUNK_BYTES` by default) whatever the
number of cells (a chunk holds at least one cell, so one huge cell can exceed it).
"""

from __future__ import annotations

import warnings

import numpy as np

from lossatlas.core.seeds import derive_seed

#: The confidence of every interval the study reports (bootstrap CIs of means, slopes and
#: bands; Wilson CIs of rates).
CONFIDENCE = 0.95
#: Default bound, in bytes, on the largest array a ``*_many`` function builds per chunk of cells.
CHUNK_BYTES = 64 * 2**20

#: Keys of :func:`seed_summary` and :func:`seed_summary_many`.
SEED_SUMMARY_KEYS = ("mean", "ci_low", "ci_high", "median", "iqm", "n_finite", "n_nonfinite")


def _scipy_stats():
    """``scipy.stats``, imported when first needed: importing it takes most of a second, and the
    training and figure jobs import this module for a few numpy helpers only."""
    from scipy import stats

    return stats


def bootstrap_mean_ci(
    values: np.ndarray, n_resamples: int = 10_000, seed: int = 0, confidence: float = CONFIDENCE, method: str = "BCa"
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
        result = _scipy_stats().bootstrap(
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
    values: np.ndarray, n_resamples: int = 1000, seed: int = 0, confidence: float = CONFIDENCE
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
    result = _scipy_stats().bootstrap(
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
    n_seeds: int, statistic, n_resamples: int = 10_000, seed: int = 0, confidence: float = CONFIDENCE
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
    result = _scipy_stats().bootstrap(
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


# --------------------------------------------------------------------------------------------
# Summaries of one cell's seeds
# --------------------------------------------------------------------------------------------


def as_vector(values, name: str = "values") -> np.ndarray:
    """``values`` as a float64 array ``(n,)``; ValueError naming ``name`` for any other shape."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (n,), got shape {array.shape}")
    return array


def as_curves(curves, name: str = "curves") -> np.ndarray:
    """``curves`` as a float64 array ``(n_trials, n_epochs)``; ValueError naming ``name`` otherwise."""
    array = np.asarray(curves, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be two-dimensional (n_trials, n_epochs), got shape {array.shape}")
    return array


def interquartile_mean(values) -> float:
    """Interquartile mean (IQM): the mean of the middle 50% of the finite values.

    This is rliable's definition, ``scipy.stats.trim_mean(values, 0.25)``: ``floor(n / 4)`` values
    are cut from each end of the sorted values before averaging.

    Args:
        values: ``(n,)``, one value per seed; non-finite values are ignored.
    Returns:
        The IQM, or NaN when no value is finite.
    """
    values = as_vector(values)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan
    return float(_scipy_stats().trim_mean(values, 0.25))


def seed_summary(values, n_resamples: int, seed: int, confidence: float = CONFIDENCE) -> dict:
    """Summary of one cell's values over seeds, every statistic over the same (finite) values.

    Args:
        values: ``(n,)`` one value per seed; NaN and +-inf are left out of every statistic.
        n_resamples, seed, confidence: of the bootstrap, as in :func:`bootstrap_mean_ci`.
    Returns:
        A dict with the keys of :data:`SEED_SUMMARY_KEYS`, all over the finite values:

        * ``mean``, ``ci_low``, ``ci_high``: :func:`bootstrap_mean_ci` (BCa; percentile where BCa is
          undefined; NaN interval with one finite value; the value itself when all are equal).
        * ``median``: their median.
        * ``iqm``: :func:`interquartile_mean`.
        * ``n_finite``, ``n_nonfinite``: how many values were used and how many left out.

        Statistics are NaN when no value is finite.
    """
    values = as_vector(values)
    _check_bootstrap(n_resamples, confidence)
    finite = values[np.isfinite(values)]
    mean, low, high = bootstrap_mean_ci(finite, n_resamples=int(n_resamples), seed=seed, confidence=confidence)
    return {
        "mean": float(mean),
        "ci_low": float(low),
        "ci_high": float(high),
        "median": float(np.median(finite)) if finite.size else np.nan,
        "iqm": interquartile_mean(finite),
        "n_finite": int(finite.size),
        "n_nonfinite": int(values.size - finite.size),
    }


# --------------------------------------------------------------------------------------------
# Many cells at once
# --------------------------------------------------------------------------------------------


def _check_bootstrap(n_resamples: int, confidence: float, chunk_bytes: int = CHUNK_BYTES) -> None:
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if int(chunk_bytes) != chunk_bytes or chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be a positive integer, got {chunk_bytes}")


def _group_rng(seed: int, tag: str, n_kept: int) -> np.random.Generator:
    """The generator of the resamples shared by every cell that keeps ``n_kept`` values."""
    return np.random.default_rng(derive_seed(seed, tag, int(n_kept)))


def _chunks(n_items: int, bytes_per_item: int, chunk_bytes: int):
    """Slices of ``range(n_items)`` of at most ``chunk_bytes // bytes_per_item`` items (at least one)."""
    size = max(1, int(chunk_bytes) // max(1, int(bytes_per_item)))
    for start in range(0, n_items, size):
        yield slice(start, min(start + size, n_items))


def _row_quantiles(sorted_values: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Per row of ``sorted_values`` ``(c, R)`` (each row sorted), the quantile at that row's
    probability ``(c,)``, linearly interpolated between order statistics (numpy's and scipy's default)."""
    position = probabilities * (sorted_values.shape[1] - 1)
    below = np.clip(np.floor(position).astype(np.int64), 0, sorted_values.shape[1] - 1)
    above = np.minimum(below + 1, sorted_values.shape[1] - 1)
    rows = np.arange(sorted_values.shape[0])
    fraction = position - below
    return sorted_values[rows, below] * (1 - fraction) + sorted_values[rows, above] * fraction


def _bca_mean_rows(sample: np.ndarray, n_resamples: int, seed: int, confidence: float):
    """BCa interval of the mean of each row of ``sample`` ``(c, k)`` (rows not all equal, ``k >= 2``),
    from the one resample matrix of ``_group_rng(seed, "mean_ci", k)`` (the draw
    ``scipy.stats.bootstrap`` makes); the percentile interval of the same resamples where BCa is
    undefined. The bootstrap means of every row come from one matrix product of the resample counts
    with the sample (not an index gather per row), then scipy's BCa formulas (Efron and Tibshirani,
    14.3 and 15.4): the same interval as scipy's up to float rounding. Returns ``(low, high)``."""
    from scipy.special import ndtr, ndtri

    c, k = sample.shape
    counts = _resample_counts(_group_rng(seed, "mean_ci", k), n_resamples, k)  # (R, k)
    theta_b = counts @ sample.T / k  # (R, c): every resample's mean, for every row
    theta_hat = sample.mean(axis=1)
    # A resample that draws every seed once has the sample's mean up to the last bits of the sum:
    # it counts as a tie (half below) whatever order the sum took.
    tie = 1e-12 * np.maximum(np.abs(theta_hat), np.finfo(float).tiny)
    below = np.count_nonzero(theta_b < theta_hat - tie, axis=0) + np.count_nonzero(theta_b <= theta_hat + tie, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = ndtri(below / (2.0 * n_resamples))
        jackknife = (sample.sum(axis=1, keepdims=True) - sample) / (k - 1)  # (c, k): each mean without one seed
        spread = (k - 1) * (jackknife.mean(axis=1, keepdims=True) - jackknife)
        a_hat = (np.sum(spread**3, axis=1) / k**3) / 6 / (np.sum(spread**2, axis=1) / k**2) ** 1.5
        z_alpha = float(ndtri((1 - confidence) / 2))
        levels = [ndtr(z0 + (z0 + z) / (1 - a_hat * (z0 + z))) for z in (z_alpha, -z_alpha)]
    resampled = np.ascontiguousarray(theta_b.T)  # (c, R): each row's resamples contiguous, to sort
    resampled.sort(axis=-1)
    low, high = (_row_quantiles(resampled, np.nan_to_num(level, nan=0.5)) for level in levels)
    undefined = ~(np.isfinite(levels[0]) & np.isfinite(levels[1]))
    if undefined.any():  # BCa undefined (e.g. a degenerate jackknife): the percentile interval
        tail = (1 - confidence) / 2
        low[undefined] = _row_quantiles(resampled[undefined], np.full(undefined.sum(), tail))
        high[undefined] = _row_quantiles(resampled[undefined], np.full(undefined.sum(), 1 - tail))
    return low, high


def bootstrap_mean_ci_many(
    values, n_resamples: int, seed: int, confidence: float = CONFIDENCE, *, chunk_bytes: int = CHUNK_BYTES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of each row's finite values and its BCa bootstrap CI, for many rows at once.

    The same definition as :func:`bootstrap_mean_ci`, row by row: the percentile interval where BCa
    is undefined, a NaN interval with one finite value, the value itself when all finite values are
    equal, NaN throughout with none. Rows with ``k`` finite values (kept in their order) form a group
    that shares one ``(n_resamples, k)`` resample-index matrix, drawn from
    ``np.random.default_rng(derive_seed(seed, "mean_ci", k))``; so a row's result is exactly
    ``bootstrap_mean_ci(row_finite, n_resamples, derive_seed(seed, "mean_ci", k), confidence)``.
    Rows are bootstrapped in chunks of at most ``chunk_bytes // (n_resamples * k * 8)`` rows (at
    least one), which bounds the resampled array scipy builds.

    Args:
        values: ``(m, n)``, one row per cell, one column per seed; NaN (or inf) marks a value left out.
        n_resamples: bootstrap resamples, at least 1.
        seed: base seed of the groups' resamples.
        confidence: confidence level of the interval, in (0, 1).
        chunk_bytes: bound on the resampled array per chunk (memory, not results).
    Returns:
        ``(mean, low, high)``, each ``(m,)``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be two-dimensional (m, n), got shape {values.shape}")
    _check_bootstrap(n_resamples, confidence, chunk_bytes)
    n_resamples = int(n_resamples)
    mean, low, high = (np.full(values.shape[0], np.nan) for _ in range(3))
    finite = np.isfinite(values)
    n_finite = finite.sum(axis=1)
    for k in np.unique(n_finite[n_finite > 0]):
        rows = np.flatnonzero(n_finite == k)
        sample = values[rows][finite[rows]].reshape(rows.size, k)  # each row's finite values, in order
        mean[rows] = sample.mean(axis=1)
        if k == 1:
            continue
        constant = np.all(sample == sample[:, :1], axis=1)
        low[rows[constant]] = high[rows[constant]] = mean[rows[constant]]
        varied, sample = rows[~constant], sample[~constant]
        for part in _chunks(varied.size, n_resamples * k * 8, chunk_bytes):
            low[varied[part]], high[varied[part]] = _bca_mean_rows(sample[part], n_resamples, seed, confidence)
    return mean, low, high


def seed_summary_many(
    values, n_resamples: int, seed: int, confidence: float = CONFIDENCE, *, chunk_bytes: int = CHUNK_BYTES
) -> dict:
    """:func:`seed_summary` for many cells at once.

    Args:
        values: ``(m, n)``, one row per cell; NaN and +-inf are left out of every statistic.
        n_resamples, seed, confidence, chunk_bytes: as in :func:`bootstrap_mean_ci_many`, which gives
            ``mean``, ``ci_low``, ``ci_high`` (so the interval's seed is the group's, not ``seed``).
    Returns:
        A dict with the keys of :data:`SEED_SUMMARY_KEYS`, each ``(m,)``; ``median`` and ``iqm`` are
        those of :func:`seed_summary`, over the same finite values.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be two-dimensional (m, n), got shape {values.shape}")
    mean, low, high = bootstrap_mean_ci_many(values, n_resamples, seed, confidence, chunk_bytes=chunk_bytes)
    finite = np.isfinite(values)
    n_finite = finite.sum(axis=1)
    median, iqm = np.full(values.shape[0], np.nan), np.full(values.shape[0], np.nan)
    for k in np.unique(n_finite[n_finite > 0]):
        rows = np.flatnonzero(n_finite == k)
        sample = values[rows][finite[rows]].reshape(rows.size, k)
        median[rows] = np.median(sample, axis=1)
        iqm[rows] = _scipy_stats().trim_mean(sample, 0.25, axis=1)
    return {
        "mean": mean,
        "ci_low": low,
        "ci_high": high,
        "median": median,
        "iqm": iqm,
        "n_finite": n_finite,
        "n_nonfinite": values.shape[1] - n_finite,
    }


def _resample_counts(rng: np.random.Generator, n_resamples: int, k: int) -> np.ndarray:
    """``(n_resamples, k)``: how often each of ``k`` seeds is drawn in each resample, from the index
    matrix ``rng.integers(0, k, (n_resamples, k))`` (the draw scipy.stats.bootstrap makes)."""
    indices = rng.integers(0, k, (n_resamples, k))
    flat = (np.arange(n_resamples)[:, None] * k + indices).ravel()
    return np.bincount(flat, minlength=n_resamples * k).reshape(n_resamples, k).astype(np.float64)


def bootstrap_curve_band_many(
    values, n_resamples: int, seed: int, confidence: float = CONFIDENCE, *, chunk_bytes: int = CHUNK_BYTES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds of many curves and their percentile-bootstrap bands, per epoch.

    Per curve, the same definition as :func:`bootstrap_curve_ci`: seeds with a non-finite value at
    any epoch are left out of that curve; whole seeds are resampled, so a resample's curve is the
    mean of the drawn seeds' curves; the band is the ``(1 - confidence) / 2`` and
    ``(1 + confidence) / 2`` quantiles (linear interpolation) of the resampled means at each epoch.
    Curves that keep ``k`` seeds share one resample matrix, drawn as the index matrix
    ``np.random.default_rng(derive_seed(seed, "curve_band", k)).integers(0, k, (n_resamples, k))``
    and turned into counts ``W`` ``(n_resamples, k)``; the resampled means of a curve ``X``
    ``(k, E)`` are then ``W @ X / k``, one matrix product for a whole chunk of curves. Chunks hold at
    most ``chunk_bytes // (n_resamples * E * 8)`` curves (at least one).

    Args:
        values: ``(m, S, E)``: m curves, S seeds, E epochs.
        n_resamples: bootstrap resamples, at least 1.
        seed: base seed of the groups' resamples.
        confidence: confidence level of the band, in (0, 1).
        chunk_bytes: bound on the array of resampled means per chunk (memory, not results).
    Returns:
        ``(mean, low, high)``, each ``(m, E)``; the mean is over the seeds kept (NaN with none), the
        band NaN where fewer than two seeds are kept.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 3:
        raise ValueError(f"values must be three-dimensional (curves, seeds, epochs), got shape {values.shape}")
    _check_bootstrap(n_resamples, confidence, chunk_bytes)
    n_resamples = int(n_resamples)
    n_curves, _, n_epochs = values.shape
    mean, low, high = (np.full((n_curves, n_epochs), np.nan) for _ in range(3))
    kept = np.all(np.isfinite(values), axis=2)  # (m, S)
    n_kept = kept.sum(axis=1)
    quantiles = [(1 - confidence) / 2, (1 + confidence) / 2]
    for k in np.unique(n_kept[n_kept > 0]):
        rows = np.flatnonzero(n_kept == k)
        sample = values[rows][kept[rows]].reshape(rows.size, k, n_epochs)  # the kept seeds, in order
        mean[rows] = sample.mean(axis=1)
        if k < 2:
            continue
        counts_t = _resample_counts(_group_rng(seed, "curve_band", k), n_resamples, k).T  # W.T, (k, R)
        for part in _chunks(rows.size, n_resamples * n_epochs * 8, chunk_bytes):
            chunk = sample[part]  # (c, k, E)
            stacked = chunk.transpose(0, 2, 1).reshape(-1, k)  # (c * E, k): one row per curve and epoch
            means = stacked @ counts_t / k  # (c * E, R), i.e. (W @ X / k) with resamples last, contiguous
            means.sort(axis=-1)  # sorted first: NumPy's vectorized sort, then quantiles of sorted rows, is
            # faster than its selection on unsorted ones, and the quantiles are the same
            band = np.quantile(means, quantiles, axis=-1, overwrite_input=True).reshape(2, chunk.shape[0], n_epochs)
            low[rows[part]], high[rows[part]] = band
    return mean, low, high
