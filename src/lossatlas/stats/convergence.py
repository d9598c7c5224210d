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

import math
import warnings
from typing import Sequence

import numpy as np

from lossatlas.core.schedule import Horizon
from lossatlas.stats.survival import censored_median, steps_to_threshold

STATUSES = ("reached", "stalled", "diverged", "undecided")


def median_curve(values: np.ndarray) -> np.ndarray:
    """The median over seeds at each point of ``values`` ``(seeds, points)``, over the finite values
    (NaN where none is)."""
    values = np.where(np.isfinite(values), values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=0)


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


def fit_scale(study, dataset: str, rows, datasets) -> np.ndarray:
    """What each row's test RMSE is divided by to give its fit error (see
    :meth:`lossatlas.design.study.Study.fit_target`): the noise sd, or for an rRMSE target the seed's OLS
    test RMSE (``datasets[dataset]["ols_rmse_test"]``); ``(len(rows),)`` for a table with ``seed``."""
    if study.fit_target(dataset)[0] == "nrmse":
        return np.full(len(rows), study.datasets[dataset].noise_sd)
    return np.asarray(datasets[dataset]["ols_rmse_test"], np.float64)[rows["seed"].to_numpy()]
