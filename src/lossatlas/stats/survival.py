"""Time to a threshold over seeds, with censoring: steps to the threshold, Kaplan–Meier medians,
their paired ratio with a bootstrap CI, and stagnation.

Curves are ``(n_trials, n_epochs)``; column ``j`` is epoch ``j + 1`` (epochs are 1-based in the
epoch tables), and NaN marks an epoch where the metric was not recorded. A trial that never reaches
the threshold is *censored* at the steps observed, never dropped.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from lossatlas.stats.bootstrap import as_curves, as_vector


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
    curves = as_curves(curves)
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
    steps = as_vector(steps, "steps")
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
    curves = as_curves(curves)
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
    steps = as_vector(steps, "steps")
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
    steps_a, steps_b = as_vector(steps_a, "steps_a"), as_vector(steps_b, "steps_b")
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
