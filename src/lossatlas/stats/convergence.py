"""Time to target: when a group of runs has *resolved* (the schedule of evaluations is
:class:`lossatlas.core.schedule.Horizon`).

A horizon experiment trains past its fixed budget until every cell of a context has resolved. The
horizon grows by doubling, from the budget up to a cap; at each horizon a run group (one cell at one
learning rate, all its seeds) is

* ``reached``: the Kaplan–Meier median of its seeds' steps to the threshold is finite (at least
  half the seeds reached it; a seed that reached it and diverged later counts as reached);
* ``diverged``: more than half of its seeds diverged before reaching it;
* ``stalled``: neither, the horizon is at least ``stall_factor`` times the steps the fastest group
  of its context needed to reach the threshold, and the median over seeds of the metric improved by
  less than ``stall_improvement`` (relative) over the last half of the horizon;
* ``running`` otherwise; at the cap, a group still running is ``undecided``.

The same rule (:func:`group_status`) decides when training stops and, in the analysis, what a
verdict may say: "stuck" only where the stall rule fired, "slow" where the group reached the
threshold later, "undecided at the cap" where neither happened. No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import numpy as np

from lossatlas.core.schedule import Horizon
from lossatlas.stats.survival import censored_median, steps_to_threshold

STATUSES = ("reached", "stalled", "diverged", "undecided")


def median_curve(values: np.ndarray) -> np.ndarray:
    """The median over seeds at each point of ``values`` ``(seeds, points)``, over the finite values
    (NaN where none is)."""
    ordered = np.sort(np.where(np.isfinite(values), values, np.nan), axis=0)  # NaN last
    if not len(ordered):
        return np.full(ordered.shape[1:], np.nan)
    count = np.isfinite(ordered).sum(axis=0)
    high = np.minimum(count // 2, len(ordered) - 1)
    low = np.where(count % 2, high, high - 1)  # -1 only where count is 0 and the result NaN
    columns = np.arange(ordered.shape[1])
    with np.errstate(invalid="ignore"):  # (a + b) / 2, as np.nanmedian averages the middle two
        return np.where(count > 0, (ordered[low, columns] + ordered[high, columns]) / 2, np.nan)


def reach_steps(nrmse: np.ndarray, epochs: Sequence[int], threshold: float, steps_per_epoch: int) -> float:
    """The Kaplan–Meier median steps to ``threshold`` of a group (``nrmse`` ``(seeds, points)`` at
    ``epochs``); ``inf`` when fewer than half are estimated to reach it."""
    steps, reached = steps_to_threshold(nrmse, threshold, steps_per_epoch, epochs=np.asarray(epochs, np.float64))
    return censored_median(steps, reached)


def improvement(median: np.ndarray, epochs: Sequence[int], horizon: int) -> float:
    """The relative improvement of ``median`` (one value per point of ``epochs``) over the last half
    of ``horizon``: ``(m(horizon / 2) - m(horizon)) / m(horizon / 2)``, at the points nearest to
    those epochs at or before them; NaN when either value is missing."""
    epochs = np.asarray(epochs)
    at_end = np.searchsorted(epochs, horizon, side="right") - 1
    at_half = np.searchsorted(epochs, horizon / 2, side="right") - 1
    if at_end < 0 or at_half < 0 or at_half == at_end:
        return math.nan
    start, end = median[at_half], median[at_end]
    if not (np.isfinite(start) and np.isfinite(end)) or start == 0:
        return math.nan
    return float((start - end) / abs(start))


def group_status(
    nrmse: np.ndarray,
    epochs: Sequence[int],
    diverged: np.ndarray,
    horizon: int,
    fastest_steps: float,
    settings: Horizon,
    steps_per_epoch: int,
) -> str:
    """The status of one run group at ``horizon`` (epochs; see the module doc), from its seeds'
    metric ``nrmse`` ``(seeds, points)`` at ``epochs`` (up to the horizon), which seeds ``diverged``
    ``(seeds,)``, and ``fastest_steps``, the KM median steps of the fastest group of its context
    (``inf`` when none reached the threshold: then nothing can be called stalled)."""
    epochs = np.asarray(epochs)
    within = epochs <= horizon
    nrmse, epochs = np.asarray(nrmse, np.float64)[:, within], epochs[within]
    if math.isfinite(reach_steps(nrmse, epochs, settings.threshold, steps_per_epoch)):
        return "reached"
    if np.mean(np.asarray(diverged, bool)) > 0.5:
        return "diverged"
    long_enough = math.isfinite(fastest_steps) and horizon * steps_per_epoch >= settings.stall_factor * fastest_steps
    gain = improvement(median_curve(nrmse), epochs, horizon)
    if long_enough and np.isfinite(gain) and gain < settings.stall_improvement:
        return "stalled"
    return "undecided" if horizon >= settings.cap else "running"


def fit_scale(study, dataset: str, rows, datasets, split: str = "test") -> np.ndarray:
    """What each row's RMSE on ``split`` (``test`` or ``validation``) is divided by to give its fit
    error (see :meth:`lossatlas.design.study.Study.fit_target`): the noise sd, or for an rRMSE target
    the seed's OLS RMSE on that split (``datasets[dataset]["ols_rmse_<split>"]``); ``(len(rows),)``
    for a table with ``seed``."""
    if study.fit_target(dataset)[0] == "nrmse":
        return np.full(len(rows), study.datasets[dataset].noise_sd)
    return np.asarray(datasets[dataset][f"ols_rmse_{split}"], np.float64)[rows["seed"].to_numpy()]


# ------------------------------------------------------------------------------------------------
# The time-tuned rate: successive halving over the doubling horizons
# ------------------------------------------------------------------------------------------------


def ranked_median(values: np.ndarray) -> np.ndarray:
    """The median over seeds at each point of ``values`` ``(seeds, points)``, a non-finite value
    (a diverged seed) counting as +inf: what the rates of a sweep are ranked by."""
    values = np.where(np.isfinite(values), np.asarray(values, np.float64), np.inf)
    return np.median(values, axis=0) if len(values) else np.full(values.shape[1:], np.inf)


def at_or_before(median: np.ndarray, epochs: Sequence[int], epoch: float) -> float:
    """``median`` at the last point of ``epochs`` at or before ``epoch`` (NaN before the first)."""
    index = np.searchsorted(np.asarray(epochs), epoch, side="right") - 1
    return float(median[index]) if index >= 0 else math.nan


@dataclasses.dataclass
class Halving:
    """Successive halving of one base cell's rates (:func:`successive_halving`).

    Attributes:
        winner: the time-tuned rate so far: the rate with the fewest validation steps to the
            threshold, or, while none has reached it, the best-ranked rate still in contention.
        decided: whether a rate has reached the threshold (then no rate left can beat it).
        contenders: the rates still in contention after the last checkpoint seen (empty once decided).
        kept_until: rate -> the last checkpoint (epochs) at which it was in contention.
        last: the last checkpoint seen.
        reach: rate -> its validation steps to the threshold (Kaplan–Meier median; inf: not reached).
    """

    winner: float
    decided: bool
    contenders: list[float]
    kept_until: dict[float, int]
    last: int
    reach: dict[float, float]


def successive_halving(
    curves: Mapping[float, tuple[np.ndarray, np.ndarray]],
    reach: Mapping[float, float],
    checkpoints: Sequence[int],
    steps_per_epoch: int,
    stall_improvement: float,
) -> Halving:
    """The time-tuned rate of one base cell by successive halving over the doubling horizons
    (Hyperband's inner loop; Li et al. 2017), from what the rates were trained.

    Every rate of the sweep is trained to the first checkpoint (the budget). At each checkpoint
    ``c`` that the contenders were trained to, in order:

    1. if any rate trained to ``c`` has reached the threshold on the validation split (``reach`` at
       most ``c``), the one with the fewest steps wins (ties: the lower error at ``c``, then the
       smaller rate) and the halving stops: a rate not yet there cannot reach it sooner;
    2. otherwise the better half of the contenders (rounded up) stays in contention, ranked first
       by whether their validation error still improved by at least ``stall_improvement`` over the
       last doubling (``c / 2`` to ``c``: a rate stuck above the threshold never reaches it, however
       low its error), then by the error at ``c`` (a diverged seed counts as +inf), then the smaller rate.

    The halving ends at the first checkpoint a contender was not trained to (its training stopped
    there, or it has not happened yet); the winner is then the best-ranked contender.

    Args:
        curves: rate -> ``(epochs, median)``: the median over seeds of the normalized validation
            error (:func:`ranked_median`) at each evaluation epoch it was trained to.
        reach: rate -> the Kaplan–Meier median steps to the threshold on the validation split (inf
            when not reached).
        checkpoints: the doubling horizons in epochs (:meth:`lossatlas.core.schedule.Horizon.checkpoints`).
    """
    def trained(rate, checkpoint):
        return len(curves[rate][0]) and curves[rate][0][-1] >= checkpoint

    def rank(rate, checkpoint):
        epochs, median = curves[rate]
        error = at_or_before(median, epochs, checkpoint)
        gain = improvement(np.where(np.isfinite(median), median, np.nan), epochs, checkpoint)
        stopped = not (np.isfinite(gain) and gain >= stall_improvement)
        return (stopped, error if np.isfinite(error) else math.inf, rate)

    rates = sorted(curves)
    contenders = [rate for rate in rates if trained(rate, checkpoints[0])]
    kept_until: dict[float, int] = {}
    last = checkpoints[0]
    for index, checkpoint in enumerate(checkpoints):
        if not contenders or not all(trained(rate, checkpoint) for rate in contenders):
            break
        last = checkpoint
        kept_until.update({rate: checkpoint for rate in contenders})
        reached = [rate for rate in rates if trained(rate, checkpoint) and reach.get(rate, math.inf) <= checkpoint * steps_per_epoch]
        if reached:
            winner = min(reached, key=lambda rate: (reach[rate], rank(rate, checkpoint)[1], rate))
            return Halving(winner, True, [], kept_until, checkpoint, dict(reach))
        contenders = sorted(contenders, key=lambda rate: rank(rate, checkpoint))
        if index < len(checkpoints) - 1:
            contenders = contenders[: math.ceil(len(contenders) / 2)]
    winner = contenders[0] if contenders else (rates[0] if rates else math.nan)
    return Halving(winner, False, contenders, kept_until, last, dict(reach))


# ------------------------------------------------------------------------------------------------
# Why a group that has not reached the threshold has not
# ------------------------------------------------------------------------------------------------

#: Diagnoses of a group that did not reach the threshold, in the order they are tried.
DIAGNOSES = ("diverged", "still descending", "saturated output", "vanishing step", "step-size floor")
#: Saturated output: the median share of training samples whose output derivative is below the
#: saturation threshold is at least this.
SATURATED_SHARE = 0.5
#: Vanishing step: the median update norm of the last epoch trained is at most this share of the first epoch's.
VANISHING_RATIO = 0.25


def improvement_per_doubling(median: np.ndarray, epochs: Sequence[int], end: int) -> float:
    """The relative improvement of ``median`` per doubling over the last two doublings before
    ``end``: ``1 - (m(end) / m(end / 4)) ** (1 / 2)`` (NaN where either is missing or not positive)."""
    start, last = at_or_before(median, epochs, end / 4), at_or_before(median, epochs, end)
    if not (np.isfinite(start) and np.isfinite(last)) or start <= 0 or last < 0:
        return math.nan
    return float(1 - math.sqrt(last / start))


def extrapolated_steps(median: np.ndarray, epochs: Sequence[int], end: int, threshold: float, steps_per_epoch: int) -> float:
    """The steps the group would need to reach ``threshold`` if ``median`` went on falling as a
    power law of the steps with its log–log slope over the last two doublings before ``end``;
    NaN where it is not falling. An extrapolation, never a verdict."""
    start, last = at_or_before(median, epochs, end / 4), at_or_before(median, epochs, end)
    if not (np.isfinite(start) and np.isfinite(last)) or not 0 < last < start:
        return math.nan
    if last <= threshold:
        return float(end * steps_per_epoch)
    slope = math.log(last / start) / math.log(4)  # per factor of steps, negative
    exponent = math.log(end * steps_per_epoch) + math.log(threshold / last) / slope
    return math.inf if exponent > 700 else float(math.exp(exponent))  # a barely falling error: beyond any float


def diagnose(status: str, gain: float, saturation: float, update_ratio: float, stall_improvement: float) -> str:
    """Why a group with horizon ``status`` has not reached the threshold (one of :data:`DIAGNOSES`;
    ``""`` for a group that reached it), from its median over seeds at the end of its training:

    * ``diverged``: most seeds diverged;
    * ``still descending``: not stalled, and its error still falls by at least ``stall_improvement``
      per doubling (``gain``, :func:`improvement_per_doubling`);
    * ``saturated output``: otherwise, when at least :data:`SATURATED_SHARE` of the training samples
      have an output derivative below the saturation threshold (``saturation``);
    * ``vanishing step``: otherwise, when the last epoch's update is at most :data:`VANISHING_RATIO`
      of the first epoch's (``update_ratio``; SGD, whose step scales with a gradient that has shrunk);
    * ``step-size floor``: otherwise: the steps stay large while the error stops falling (an
      adaptive optimizer's step of about its rate, oscillating around a point it cannot settle in).
    """
    if status == "reached":
        return ""
    if status == "diverged":
        return "diverged"
    if status != "stalled" and np.isfinite(gain) and gain >= stall_improvement:
        return "still descending"
    if np.isfinite(saturation) and saturation >= SATURATED_SHARE:
        return "saturated output"
    if np.isfinite(update_ratio) and update_ratio <= VANISHING_RATIO:
        return "vanishing step"
    return "step-size floor"


def time_tuned(study, evals, datasets) -> dict[tuple, Halving]:
    """The successive halving (:func:`successive_halving`) of every base cell of a tuned horizon
    experiment in ``evals`` (rows with the trial's coordinates, ``epoch`` and ``validation_rmse``),
    keyed by the base cell's coordinates (:data:`lossatlas.core.results.BASE`, as text).

    A seed whose error is not finite at a point (it diverged) counts as +inf there. Only what was
    measured up to a checkpoint decides there, so the same function follows the halving during
    training and replays it in the aggregation, and both name the same rate."""
    import pandas as pd

    from lossatlas.core.results import CELL, TRIAL, base_key

    halvings = {}
    for (experiment, dataset), part in evals.groupby(["experiment", "dataset"], sort=False):
        horizon, steps = study.horizon(experiment, dataset), study.steps_per_epoch(experiment, dataset)
        error = part["validation_rmse"].to_numpy(np.float64) / fit_scale(study, dataset, part, datasets, "validation")
        measured = part[[*TRIAL, "epoch"]].assign(error=error).set_index([*TRIAL, "epoch"])["error"]
        wide = measured.unstack("epoch")
        # Whether each trial was evaluated at each epoch (its error may be NaN there): a cell was
        # trained to an epoch where any of its trials was.
        present = pd.Series(True, index=measured.index).unstack("epoch", fill_value=False)
        present = present.reindex(index=wide.index, columns=wide.columns, fill_value=False).to_numpy(bool)
        epochs, values = wide.columns.to_numpy(), wide.to_numpy(np.float64)
        cells = wide.index.to_frame(index=False)
        bases: dict[tuple, tuple[dict, dict]] = {}
        for key, rows in cells.groupby(CELL, sort=False).indices.items():
            trained = present[rows].any(axis=0)
            rate = float(key[CELL.index("learning_rate")])
            curves, reach = bases.setdefault(base_key(key), ({}, {}))
            curves[rate] = (epochs[trained], ranked_median(values[rows][:, trained]))
            reach[rate] = reach_steps(values[rows][:, trained], epochs[trained], horizon.threshold, steps)
        for base, (curves, reach) in bases.items():
            halvings[base] = successive_halving(curves, reach, horizon.checkpoints(), steps, horizon.stall_improvement)
    return halvings
