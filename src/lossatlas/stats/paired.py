"""Comparisons between configurations over seeds: robust summaries, paired tests, effect sizes and
family-wise correction. (Time to a threshold, with censoring, is :mod:`lossatlas.stats.survival`.)

Conventions, used throughout:

* A *paired* comparison pairs the two configurations' values on the same seed. Pairs where either
  value is non-finite (NaN, a diverged run's inf) are dropped and counted, never imputed.
* ``lower_is_better`` (the default, as for losses and RMSE) fixes the sign of the effect sizes: a
  positive ``cliffs_delta`` or ``paired_cohens_d`` and a ``probability_of_improvement`` above 0.5
  mean *a is better than b*. ``mean_difference``, ``median_difference`` and ``hodges_lehmann`` are
  always of the plain ``a - b``.
* Curves are ``(n_trials, n_epochs)``; column ``j`` is epoch ``j + 1`` (epochs are 1-based in the
  epoch tables), and NaN marks an epoch where the metric was not recorded.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from lossatlas.core.seeds import derive_seed
from lossatlas.stats.bootstrap import as_vector, bootstrap_mean_ci

#: Keys of :func:`paired_comparison`, in the order :func:`compare_table` writes them as columns.
COMPARISON_KEYS = (
    "n_pairs",
    "n_dropped",
    "median_a",
    "median_b",
    "mean_difference",
    "mean_difference_ci_low",
    "mean_difference_ci_high",
    "median_difference",
    "hodges_lehmann",
    "wilcoxon_statistic",
    "p_value",
    "min_attainable_p",
    "cliffs_delta",
    "paired_cohens_d",
    "probability_of_improvement",
)

#: Zero differences are handled with Pratt's method; see :func:`wilcoxon_test`.
WILCOXON_ZERO_METHOD = "pratt"
#: Up to this many pairs, a sample with ties or zeros is tested with all 2**n sign flips (as scipy does).
EXACT_FLIPS_MAX_N = 13


def finite_pairs(a, b) -> tuple[np.ndarray, np.ndarray, int]:
    """The pairs where both values are finite.

    Args:
        a, b: ``(n,)`` each, in the same seed order.
    Returns:
        ``(a_kept, b_kept, n_dropped)``; ``a_kept`` and ``b_kept`` are ``(n_pairs,)``.
    """
    a = as_vector(a, "a")
    b = as_vector(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep], int(a.size - keep.sum())


def wilcoxon_test(differences) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test that the paired differences are symmetric about zero.

    Zero differences (seeds where both configurations scored exactly the same) are handled with
    Pratt's method (``zero_method="pratt"``): they take part in ranking the absolute differences, so
    they raise the ranks of the others, but they add to neither signed rank sum. Unlike the default
    ``"wilcox"``, which drops them and tests a smaller sample, this keeps every seed in the sample
    and is the more conservative choice. The p-value is exact for ``n <= 50`` without ties or zeros;
    with ties or zeros it comes from all ``2**n`` sign flips for ``n <= 13`` and from the normal
    approximation above that (scipy's ``method="auto"``).

    Args:
        differences: ``(n,)`` finite paired differences ``a - b``.
    Returns:
        ``(statistic, p_value)``: the smaller of the two signed rank sums and the two-sided p. When
        every difference is zero: ``(0.0, 1.0)``. When ``n == 0``: ``(nan, nan)``.
    """
    differences = as_vector(differences, "differences")
    if not np.all(np.isfinite(differences)):
        raise ValueError("differences must be finite")
    if differences.size == 0:
        return (np.nan, np.nan)
    if np.all(differences == 0):
        return (0.0, 1.0)
    magnitudes = np.abs(differences)
    tied = np.any(differences == 0) or np.unique(magnitudes).size < magnitudes.size
    if tied and differences.size <= EXACT_FLIPS_MAX_N:
        # What scipy's method="auto" does here, every sign flip, with the statistic applied to all
        # flips at once (scipy applies it to one flip at a time: about 0.3 s per test at n = 10).
        ranks = stats.rankdata(magnitudes)  # a flip changes no |d|, so no rank
        result = stats.permutation_test(
            (differences,), lambda flipped, axis: np.sum(ranks * (flipped > 0), axis=axis),
            permutation_type="samples", vectorized=True, n_resamples=np.inf, alternative="two-sided")
        r_plus, r_minus = ranks[differences > 0].sum(), ranks[differences < 0].sum()
        return (float(min(r_plus, r_minus)), float(result.pvalue))
    result = stats.wilcoxon(differences, zero_method=WILCOXON_ZERO_METHOD, alternative="two-sided")
    return (float(result.statistic), float(result.pvalue))


def min_attainable_p(n_pairs: int) -> float:
    """The smallest two-sided p-value the exact Wilcoxon signed-rank test can give with ``n_pairs``
    pairs: ``2 / 2**n_pairs`` (every difference with the same sign), capped at 1.

    With ``n_pairs <= 5`` this is at least 0.0625, so no outcome can be significant at 0.05. Zero
    differences make the reachable minimum larger still (``2 / 2**n_nonzero``). NaN when
    ``n_pairs < 1``.
    """
    if n_pairs < 1:
        return np.nan
    return float(min(1.0, 2.0 / 2.0**n_pairs))


def hodges_lehmann(differences) -> float:
    """Hodges-Lehmann estimate of the centre of the paired differences: the median of the
    ``n (n + 1) / 2`` Walsh averages ``(d_i + d_j) / 2``, ``i <= j``.

    It is the location estimate that goes with the Wilcoxon signed-rank test (the shift that makes
    the signed-rank statistic balanced), so its sign is the direction that test sees; unlike the
    mean, one outlying seed cannot flip it.

    Args:
        differences: ``(n,)`` finite paired differences ``a - b``.
    Returns:
        The estimate, or NaN when ``n == 0``.
    """
    differences = as_vector(differences, "differences")
    if not np.all(np.isfinite(differences)):
        raise ValueError("differences must be finite")
    if differences.size == 0:
        return np.nan
    i, j = np.triu_indices(differences.size)  # every pair i <= j, (n (n + 1) / 2,)
    return float(np.median((differences[i] + differences[j]) / 2))


def cliffs_delta(a, b, lower_is_better: bool = True) -> float:
    """Cliff's delta of ``a`` against ``b`` over all ``n_a * n_b`` pairs (the unpaired definition).

    With ``lower_is_better`` it is ``P(a < b) - P(a > b)``, otherwise ``P(a > b) - P(a < b)``; so it
    lies in ``[-1, 1]`` and is positive when ``a`` tends to be better. Ties count in neither term.

    Args:
        a: ``(n_a,)``, b: ``(n_b,)``, finite values.
    Returns:
        The delta, or NaN when either sample is empty.
    """
    a = as_vector(a, "a")
    b = as_vector(b, "b")
    if a.size == 0 or b.size == 0:
        return np.nan
    a_below = np.mean(a[:, None] < b[None, :])
    a_above = np.mean(a[:, None] > b[None, :])
    return float(a_below - a_above if lower_is_better else a_above - a_below)


def paired_cohens_d(a, b, lower_is_better: bool = True) -> float:
    """Cohen's d for paired samples (d_z): the mean of the paired differences over their standard
    deviation (``ddof=1``).

    The sign is that of ``b - a`` with ``lower_is_better`` (else ``a - b``), so positive means ``a``
    is better.

    Args:
        a, b: ``(n,)`` finite paired values.
    Returns:
        d_z, or NaN when ``n < 2`` or the differences do not vary.
    """
    a = as_vector(a, "a")
    b = as_vector(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    improvement = b - a if lower_is_better else a - b
    if improvement.size < 2:
        return np.nan
    spread = improvement.std(ddof=1)
    if spread == 0:
        return np.nan
    return float(improvement.mean() / spread)


def probability_of_improvement(a, b, lower_is_better: bool = True) -> float:
    """The paired probability of improvement: the fraction of seeds on which ``a`` is better than
    ``b``, ties counting one half.

    Args:
        a, b: ``(n,)`` finite paired values.
    Returns:
        A fraction in ``[0, 1]``, or NaN when ``n == 0``.
    """
    a = as_vector(a, "a")
    b = as_vector(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return np.nan
    better = a < b if lower_is_better else a > b
    return float(np.mean(better + 0.5 * (a == b)))


def paired_comparison(a, b, lower_is_better: bool = True, seed: int = 0, n_resamples: int = 10_000) -> dict:
    """Compares two configurations run on the same seeds.

    Args:
        a, b: ``(n,)`` one value per seed, in the same seed order. Pairs where either value is not
            finite are dropped (and counted in ``n_dropped``).
        lower_is_better: direction of the metric; fixes the sign of the effect sizes.
        seed: seed of the bootstrap.
        n_resamples: bootstrap resamples.
    Returns:
        A dict with the keys of :data:`COMPARISON_KEYS`:

        * ``n_pairs``, ``n_dropped``: pairs kept and dropped.
        * ``median_a``, ``median_b``: medians over the kept pairs.
        * ``mean_difference``: mean of ``a - b``; ``mean_difference_ci_low``/``_ci_high``: its 95%
          bootstrap CI (``scipy.stats.bootstrap``, BCa, percentile where BCa is undefined; NaN with
          one pair; the value itself when every difference is the same).
        * ``median_difference``: median of ``a - b``.
        * ``hodges_lehmann``: see :func:`hodges_lehmann`; the estimate of ``a - b`` that goes with
          the Wilcoxon test, so its sign, not the mean's, is the direction the test supports.
        * ``wilcoxon_statistic``, ``p_value``: see :func:`wilcoxon_test` (Pratt's zero handling;
          p = 1 when every difference is zero; NaN without pairs).
        * ``min_attainable_p``: see :func:`min_attainable_p`.
        * ``cliffs_delta``: see :func:`cliffs_delta` (unpaired, over all pairs of kept values).
        * ``paired_cohens_d``: see :func:`paired_cohens_d`.
        * ``probability_of_improvement``: see :func:`probability_of_improvement` (paired).
    """
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    a, b, n_dropped = finite_pairs(a, b)
    n_pairs = int(a.size)
    differences = a - b
    mean_difference, ci_low, ci_high = bootstrap_mean_ci(differences, n_resamples=int(n_resamples), seed=seed)
    statistic, p_value = wilcoxon_test(differences)
    return {
        "n_pairs": n_pairs,
        "n_dropped": n_dropped,
        "median_a": float(np.median(a)) if n_pairs else np.nan,
        "median_b": float(np.median(b)) if n_pairs else np.nan,
        "mean_difference": float(mean_difference),
        "mean_difference_ci_low": float(ci_low),
        "mean_difference_ci_high": float(ci_high),
        "median_difference": float(np.median(differences)) if n_pairs else np.nan,
        "hodges_lehmann": hodges_lehmann(differences),
        "wilcoxon_statistic": statistic,
        "p_value": p_value,
        "min_attainable_p": min_attainable_p(n_pairs),
        "cliffs_delta": cliffs_delta(a, b, lower_is_better),
        "paired_cohens_d": paired_cohens_d(a, b, lower_is_better),
        "probability_of_improvement": probability_of_improvement(a, b, lower_is_better),
    }


def holm_correct(p_values, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction for a family of p-values (statsmodels ``multipletests``).

    NaN p-values are not tests: they stay NaN, are not rejected, and do not count in the family size.

    Args:
        p_values: ``(m,)`` p-values in ``[0, 1]`` or NaN.
        alpha: family-wise error rate.
    Returns:
        ``(rejected, adjusted)``: ``(m,)`` bool and ``(m,)`` float.
    """
    p_values = as_vector(p_values, "p_values")
    tested = ~np.isnan(p_values)
    if np.any((p_values[tested] < 0) | (p_values[tested] > 1)):
        raise ValueError("p-values must lie in [0, 1] (or be NaN)")
    rejected = np.zeros(p_values.shape, dtype=bool)
    adjusted = np.full(p_values.shape, np.nan)
    if tested.any():
        rejected[tested], adjusted[tested], _, _ = multipletests(p_values[tested], alpha=alpha, method="holm")
    return rejected, adjusted


def compare_table(
    frame: pd.DataFrame,
    group_by: Sequence[str],
    contrast: str,
    metric: str,
    lower_is_better: bool = True,
    seed: int = 0,
    n_resamples: int = 10_000,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Every pairwise comparison between the levels of ``contrast`` within each group, paired by seed.

    Args:
        frame: tidy per-trial table with a ``seed`` column, the ``group_by`` columns, ``contrast``
            and ``metric``; at most one row per (group, level, seed).
        group_by: columns that define a group, e.g. ``["dataset", "activation", "optimizer",
            "model"]``, or one column name; may be empty (the whole table is one group).
        contrast: column whose levels are compared, e.g. ``"loss"``.
        metric: the value compared, e.g. ``"final_test_rmse"``.
        lower_is_better, n_resamples: as in :func:`paired_comparison`.
        seed: base seed; each row's bootstrap uses ``derive_seed(seed, "compare", metric,
            *group values, level_a, level_b)``.
    Returns:
        One row per group and unordered pair of levels, ``level_a < level_b`` in sorted order,
        groups in sorted order. Columns: the ``group_by`` columns, ``level_a``, ``level_b``, then
        :data:`COMPARISON_KEYS` for ``a = level_a`` and ``b = level_b`` (a seed present for only one
        of the two levels, or with a non-finite value, counts in ``n_dropped``), then ``p_holm``
        (Holm-adjusted over every row of the returned table as one family, NaN where ``p_value``
        is) and ``significant`` (Holm rejects at family-wise level ``alpha``, i.e. ``p_holm <= alpha``). Groups
        with one level give no row.
    """
    group_by = [group_by] if isinstance(group_by, str) else list(group_by)
    needed = group_by + [contrast, metric, "seed"]
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    if len(set(needed)) != len(needed):
        raise ValueError(f"group_by, contrast, metric and 'seed' must be distinct columns, got {needed}")
    clashes = {"level_a", "level_b", "p_holm", "significant", *COMPARISON_KEYS} & set(group_by)
    if clashes:
        raise ValueError(f"group_by columns {sorted(clashes)} clash with output column names")
    unlabeled = frame[[contrast, "seed"]].isna().any(axis=1)
    if unlabeled.any():
        raise ValueError(f"{int(unlabeled.sum())} rows have no {contrast} or no seed")
    duplicated = frame.duplicated(subset=group_by + [contrast, "seed"])
    if duplicated.any():
        raise ValueError(f"{int(duplicated.sum())} rows repeat a (group, {contrast}, seed) already present")

    columns = group_by + ["level_a", "level_b", *COMPARISON_KEYS, "p_holm", "significant"]
    groups = frame.groupby(group_by, sort=True, dropna=False) if group_by else [((), frame)]
    rows = []
    for key, group in groups:
        wide = group.pivot(index="seed", columns=contrast, values=metric)
        for level_a, level_b in itertools.combinations(sorted(group[contrast].unique()), 2):
            row = dict(zip(group_by, key))
            row["level_a"], row["level_b"] = level_a, level_b
            row_seed = derive_seed(seed, "compare", metric, *key, level_a, level_b)
            row.update(
                paired_comparison(
                    wide[level_a].to_numpy(dtype=np.float64),
                    wide[level_b].to_numpy(dtype=np.float64),
                    lower_is_better=lower_is_better,
                    seed=row_seed,
                    n_resamples=n_resamples,
                )
            )
            rows.append(row)
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows)
    rejected, adjusted = holm_correct(table["p_value"].to_numpy(dtype=np.float64), alpha=alpha)
    table["p_holm"] = adjusted
    table["significant"] = rejected
    return table[columns]
