"""Tuned learning rates: the sweep, and each cell's rate chosen on the validation split.

A tuned experiment trains every cell at every rate of a log-spaced sweep (the config's ``tuning``
section; each optimizer's own rate, Keras's default, is always one of them). A cell's *tuned* rate is
the one with the lowest median over seeds of the validation RMSE at the fixed budget (a seed that
diverged counts as infinitely bad); ties go to the smaller rate. The test split is never used to
choose. When the chosen rate is the smallest or largest of the sweep, the sweep is extended in that
direction one step at a time, up to ``extend_steps`` steps; a cell still at the edge then is
flagged. The same functions choose during training (to extend the sweep and to pick the rates that
run past the budget) and in the analysis (the tuned view of each claim), so both agree.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd


def sweep(settings: Mapping, default: float) -> list[float]:
    """The sweep of an optimizer whose own rate is ``default``: ``per_decade`` rates per decade
    from ``min`` to ``max`` (``settings``: the config's ``tuning`` section), with ``default``
    replacing the grid rate within 1e-9 of it, or added."""
    low, high, per_decade = settings["min"], settings["max"], settings["per_decade"]
    count = int(round(math.log10(high / low) * per_decade))
    rates = [10 ** (math.log10(low) + k / per_decade) for k in range(count + 1)]
    rates = [default if math.isclose(rate, default, rel_tol=1e-9) else rate for rate in rates]
    return sorted(set(rates) | {default})


def step(rates: Sequence[float], side: str, per_decade: int) -> float:
    """The next rate beyond the ``side`` (``"low"`` or ``"high"``) end of ``rates``."""
    factor = 10 ** (1 / per_decade)
    return min(rates) / factor if side == "low" else max(rates) * factor


def validation_score(values: np.ndarray, diverged: np.ndarray) -> float:
    """The median over seeds of ``values`` ``(seeds,)``, a diverged or non-finite seed counting as +inf."""
    values = np.where(np.asarray(diverged, bool) | ~np.isfinite(values), np.inf, np.asarray(values, np.float64))
    return float(np.median(values)) if values.size else math.inf


def choose(scores: Mapping[float, float]) -> tuple[float, str]:
    """The tuned rate among ``scores`` (rate -> validation score, lower is better; ties go to the
    smaller rate) and where it lies: ``"low"`` or ``"high"`` at an end of the rates scored, ``""``
    inside. With a single rate it is both ends: ``"low"``."""
    rates = sorted(scores)
    best = min(rates, key=lambda rate: (scores[rate], rate))
    if not math.isfinite(scores[best]):
        return best, ""  # every rate diverges: no direction to extend in
    return best, "low" if best == rates[0] else "high" if best == rates[-1] else ""


def tuned_rates(trials: pd.DataFrame, cell_columns: Sequence[str], metric: str = "final_validation_rmse") -> pd.DataFrame:
    """Each cell's tuned rate from a trials table with ``learning_rate``, ``diverged`` and
    ``metric``, one row per (cell, rate, seed); ``cell_columns`` are the coordinates of a cell
    without the rate. Returns one row per cell: its coordinates, ``tuned_learning_rate``, ``edge``
    (``"low"``, ``"high"`` or ``""``) and ``n_rates``."""
    rows = []
    for key, group in trials.groupby(list(cell_columns), sort=False):
        scores = {
            float(rate): validation_score(part[metric].to_numpy(), part["diverged"].to_numpy())
            for rate, part in group.groupby("learning_rate", sort=True)
        }
        best, edge = choose(scores)
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(cell_columns, key)), "tuned_learning_rate": best, "edge": edge, "n_rates": len(scores)})
    return pd.DataFrame(rows, columns=[*cell_columns, "tuned_learning_rate", "edge", "n_rates"])
