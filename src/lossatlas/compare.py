"""Comparisons between configurations over seeds: robust summaries, paired tests, effect sizes,
family-wise correction, time-to-threshold with censoring, and stagnation.

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
from fractions import Fraction
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from lossatlas.seeds import derive_seed
from lossatlas.stats import bootstrap_mean_ci, interquartile_mean  # noqa: F401 (interquartile_mean is re-exported)

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


def _one_dimensional(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (n,), got shape {array.shape}")
    return array


def _two_dimensional(curves, name: str = "curves") -> np.ndarray:
    array = np.asarray(curves, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be two-dimensional (n_trials, n_epochs), got shape {array.shape}")
    return array


def finite_pairs(a, b) -> tuple[np.ndarray, np.ndarray, int]:
    """The pairs where both values are finite.

    Args:
        a, b: ``(n,)`` each, in the same seed order.
    Returns:
        ``(a_kept, b_kept, n_dropped)``; ``a_kept`` and ``b_kept`` are ``(n_pairs,)``.
    """
    a = _one_dimensional(a, "a")
    b = _one_dimensional(b, "b")
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
    differences = _one_dimensional(differences, "differences")
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
    differences = _one_dimensional(differences, "differences")
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
    a = _one_dimensional(a, "a")
    b = _one_dimensional(b, "b")
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
    a = _one_dimensional(a, "a")
    b = _one_dimensional(b, "b")
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
    a = _one_dimensional(a, "a")
    b = _one_dimensional(b, "b")
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
    p_values = _one_dimensional(p_values, "p_values")
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


def steps_to_threshold(curves, threshold: float, steps_per_epoch: int, epochs=None) -> tuple[np.ndarray, np.ndarray]:
    """Training steps until a metric first reaches ``threshold``, with censoring.

    A trial reaches the threshold at the first epoch whose recorded value is ``<= threshold``; its
    time is that epoch times ``steps_per_epoch``. It counts as reached also if it diverges later:
    the event happened. A trial that never does is *censored*, not dropped: its time is the steps
    observed, i.e. its last recorded epoch times ``steps_per_epoch`` (0 with nothing recorded), and
    ``reached`` is False. Only finite values count as recorded, so a run that diverged before
    reaching the threshold is censored at its last finite epoch.

    Args:
        curves: ``(n_trials, n_points)`` the metric at each point, NaN where not recorded.
        threshold: the target value (lower is better).
        steps_per_epoch: optimizer steps per epoch, positive.
        epochs: ``(n_points,)`` the epoch of each column, increasing; by default ``1..n_points``.
    Returns:
        ``(steps, reached)``: ``(n_trials,)`` float and ``(n_trials,)`` bool.
    """
    curves = _two_dimensional(curves)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    if not steps_per_epoch > 0:
        raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch}")
    n_points = curves.shape[1]
    epochs = np.arange(1, n_points + 1) if epochs is None else np.asarray(epochs, np.float64)
    if epochs.shape != (n_points,) or np.any(np.diff(epochs) <= 0):
        raise ValueError(f"epochs must be {n_points} increasing values, one per column")
    recorded = np.isfinite(curves)
    with np.errstate(invalid="ignore"):
        hits = recorded & (curves <= threshold)
    reached = hits.any(axis=1)
    first_hit = epochs[np.argmax(hits, axis=1)]
    last_recorded = np.where(recorded.any(axis=1), epochs[n_points - 1 - np.argmax(recorded[:, ::-1], axis=1)], 0)
    observed = np.where(reached, first_hit, last_recorded)
    return observed.astype(np.float64) * steps_per_epoch, reached


def censored_median(steps, reached) -> float:
    """Kaplan–Meier median time to threshold, from :func:`steps_to_threshold`.

    The survival curve ``S(t)`` is the estimated probability of not yet having reached the threshold
    after ``t`` steps; at each time ``t`` where some trials reach it, ``S`` is multiplied by
    ``1 - reached_at_t / at_risk_at_t``, with a trial censored at ``t`` still at risk at ``t``. The
    median is the smallest such ``t`` with ``S(t) <= 0.5`` (the textbook definition, computed in
    exact fractions; statsmodels' ``SurvfuncRight.quantile`` uses ``S(t) < 0.5`` in floating point
    and so can differ when ``S`` equals one half exactly).

    Args:
        steps: ``(n,)`` finite, non-negative times.
        reached: ``(n,)`` bool, False for censored trials.
    Returns:
        The median in steps; ``inf`` when ``S`` never falls to 0.5 (fewer than half the trials are
        estimated to reach the threshold within the steps observed; with every trial observed for
        the same number of steps, exactly when fewer than half reach it); NaN when ``n == 0``.
    """
    steps = _one_dimensional(steps, "steps")
    reached = np.asarray(reached)
    if reached.shape != steps.shape:
        raise ValueError(f"steps and reached must have the same shape, got {steps.shape} and {reached.shape}")
    if reached.dtype != bool:
        raise ValueError(f"reached must be boolean, got dtype {reached.dtype}")
    if not np.all(np.isfinite(steps)) or np.any(steps < 0):
        raise ValueError("steps must be finite and non-negative")
    if steps.size == 0:
        return np.nan
    survival = Fraction(1)  # exact, so that a survival of exactly 1/2 is not lost to rounding
    for time in np.unique(steps[reached]):
        at_risk = int(np.sum(steps >= time))
        survival *= Fraction(at_risk - int(np.sum(reached & (steps == time))), at_risk)
        if survival <= Fraction(1, 2):
            return float(time)
    return np.inf


def stagnation(
    curves, window: int, relative_tolerance: float, floor: float | np.ndarray = 0.0, margin: float = 0.0
) -> np.ndarray:
    """Which trials stagnate: still well above the floor, and no longer improving.

    Definition (for a metric where lower is better, e.g. a loss): a trial *stagnates* when, over its
    last ``window`` recorded epochs, the metric improved by less than ``relative_tolerance`` times
    its value at the start of that window, while its final value is still above
    ``floor * (1 + margin)``. In symbols, with ``v`` the trial's recorded (finite) values in epoch
    order, ``start = v[-window - 1]`` and ``end = v[-1]``, it stagnates when
    ``start - end < relative_tolerance * |start|`` and ``end > floor * (1 + margin)``. A window of
    ``window`` epochs thus compares the last value with the one recorded ``window`` epochs before
    it; epochs not recorded (NaN) and non-finite values are skipped. A trial with fewer than
    ``window + 1`` recorded values is not counted as stagnating. A metric that got worse counts as
    not improving.

    Args:
        curves: ``(n_trials, n_epochs)`` the metric per epoch, NaN where not recorded.
        window: number of recorded epochs the improvement is measured over, at least 1.
        relative_tolerance: smallest relative improvement that counts as progress, ``>= 0``.
        floor: the best value reachable (e.g. the noise floor), a number or ``(n_trials,)``.
        margin: relative slack above ``floor`` within which a trial counts as converged, ``>= 0``.
    Returns:
        ``(n_trials,)`` bool.
    """
    curves = _two_dimensional(curves)
    if int(window) != window or window < 1:
        raise ValueError(f"window must be a positive integer, got {window}")
    if not relative_tolerance >= 0:
        raise ValueError(f"relative_tolerance must be non-negative, got {relative_tolerance}")
    if not margin >= 0:
        raise ValueError(f"margin must be non-negative, got {margin}")
    floors = np.broadcast_to(np.asarray(floor, dtype=np.float64), (curves.shape[0],))
    if not np.all(np.isfinite(floors)):
        raise ValueError("floor must be finite")
    window = int(window)
    stagnant = np.zeros(curves.shape[0], dtype=bool)
    for trial, row in enumerate(curves):
        values = row[np.isfinite(row)]
        if values.size < window + 1:
            continue
        start, end = values[-window - 1], values[-1]
        not_improving = start - end < relative_tolerance * abs(start)
        stagnant[trial] = not_improving and end > floors[trial] * (1 + margin)
    return stagnant


def km_medians(steps, reached, counts) -> np.ndarray:
    """Kaplan–Meier medians of many weighted copies of one sample, vectorized (for the bootstrap).

    Args:
        steps: ``(n,)`` times; ``reached``: ``(n,)`` bool, False for censored trials.
        counts: ``(R, n)`` how many times each trial appears in each resample.
    Returns:
        ``(R,)``: the smallest event time at which the estimated survival ``S(t)`` falls to 1/2 or
        below, ``inf`` where it never does. Float arithmetic; :func:`censored_median` is the exact
        point estimate.
    """
    steps = _one_dimensional(steps, "steps")
    reached = np.asarray(reached, bool)
    counts = np.asarray(counts, np.float64)
    times = np.unique(steps[reached])
    if times.size == 0:
        return np.full(counts.shape[0], np.inf)
    events = (reached[:, None] & (steps[:, None] == times[None, :])).astype(np.float64)
    at_risk = (steps[:, None] >= times[None, :]).astype(np.float64)
    d, n = counts @ events, counts @ at_risk
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 0, 1.0 - d / n, 1.0)
    survival = np.cumprod(factor, axis=1)
    below = survival <= 0.5 + 1e-12
    return np.where(below.any(axis=1), times[np.argmax(below, axis=1)], np.inf)


def time_ratio(steps_a, reached_a, steps_b, reached_b, n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """How many times sooner ``a`` reaches the threshold than ``b``, paired by seed: the ratio of the
    Kaplan–Meier medians ``median_b / median_a`` and its percentile bootstrap CI (seeds resampled,
    the same seeds for both).

    Args:
        steps_a, reached_a, steps_b, reached_b: ``(n,)`` each, in the same seed order (see
            :func:`steps_to_threshold`).
    Returns:
        ``median_a``, ``median_b`` (:func:`censored_median`, ``inf`` when not reached), ``ratio``
        (``inf`` when only ``a`` reaches it, NaN when neither does), ``ratio_ci_low``,
        ``ratio_ci_high`` (over the resamples where the ratio is defined) and ``n_pairs``.
    """
    steps_a, steps_b = _one_dimensional(steps_a, "steps_a"), _one_dimensional(steps_b, "steps_b")
    if steps_a.shape != steps_b.shape:
        raise ValueError(f"a and b must pair seeds one to one, got shapes {steps_a.shape} and {steps_b.shape}")
    reached_a, reached_b = np.asarray(reached_a, bool), np.asarray(reached_b, bool)
    median_a, median_b = censored_median(steps_a, reached_a), censored_median(steps_b, reached_b)

    def ratio(b, a):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isinf(a) & np.isinf(b), np.nan, np.asarray(b, np.float64) / np.asarray(a, np.float64))

    n = steps_a.size
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_resamples, n))
    picks = rng.integers(0, n, (n_resamples, n))
    np.add.at(counts, (np.repeat(np.arange(n_resamples), n), picks.reshape(-1)), 1.0)
    ratios = ratio(km_medians(steps_b, reached_b, counts), km_medians(steps_a, reached_a, counts))
    defined = ratios[~np.isnan(ratios)]
    tail = 100 * (1 - confidence) / 2
    # no interpolation between resamples, so that infinite ratios (b never reached) stay well defined
    low, high = np.percentile(defined, [tail, 100 - tail], method="inverted_cdf") if defined.size else (np.nan, np.nan)
    return {"n_pairs": n, "median_a": median_a, "median_b": median_b, "ratio": float(ratio(median_b, median_a)),
            "ratio_ci_low": float(low), "ratio_ci_high": float(high)}
