"""Two views of the results: every cell at its optimizer's default rate, and at its tuned rate.

Keras's default rate (each optimizer's ``learning_rate`` in the config) is the article's setting; a
tuned experiment also trains every cell over a sweep of rates and chooses each cell's rate on the
validation split (:func:`lossatlas.core.tuning.tuned_rates`). A *view* keeps one rate per cell:

* ``default``: the rows at the optimizer's own rate (every experiment has them);
* ``tuned``: the rows at the cell's tuned rate (tuned experiments only). A judgment at a fixed
  budget uses the *budget-tuned* rate (the best validation error at the budget); a judgment by time
  to target uses the *time-tuned* rate (the fewest validation steps to the threshold, found by
  successive halving over the doubling horizons: :func:`lossatlas.stats.convergence.successive_halving`)
  where the experiment has a horizon, the budget-tuned rate elsewhere.

A *base cell* is a cell without its rate (:data:`lossatlas.core.results.BASE`). Works on any table with the cell's
coordinates (trials, cells, evals). No TensorFlow here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lossatlas.core import tuning
from lossatlas.core.results import BASE, CELL
from lossatlas.design.study import Study

VIEWS = ("default", "tuned")


def default_rates(study: Study) -> dict[str, float]:
    """Each optimizer's default learning rate (its ``learning_rate`` in the config)."""
    return {label: spec.learning_rate for label, spec in study.optimizers.items()}


def default_rate(frame: pd.DataFrame, study: Study) -> np.ndarray:
    """The default rate of each row's optimizer ``(n,)``."""
    return frame["optimizer"].map(default_rates(study)).to_numpy(np.float64)


def default_cells(study: Study) -> list:
    """The cells of the study at their optimizer's default rate (the default view), in grid order."""
    rates = default_rates(study)
    return [cell for cell in study.cells if math.isclose(cell.learning_rate, rates[cell.optimizer], rel_tol=1e-9)]


def at_default(frame: pd.DataFrame, study: Study) -> pd.DataFrame:
    """The rows of ``frame`` at their optimizer's default rate."""
    return frame[np.isclose(frame["learning_rate"].to_numpy(np.float64), default_rate(frame, study), rtol=1e-9)]


def tuned_table(trials: pd.DataFrame, study: Study, cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each base cell of a tuned experiment: its ``tuned_learning_rate`` (chosen on the validation
    split at the budget, :func:`lossatlas.core.tuning.tuned_rates`), ``default_learning_rate``, ``edge``
    (where the tuned rate lies: ``"low"``/``"high"`` at an end of the rates trained, after the sweep
    was extended as far as the config allows; ``""`` inside), ``n_rates``, and the rates' range.

    With the aggregated ``cells`` (a horizon experiment's cells carry ``time_tuned``,
    ``horizon_status`` and ``diagnosis``; :func:`lossatlas.aggregation.aggregate.horizon_statuses`), also
    ``time_tuned_learning_rate`` (NaN without a horizon), ``time_tuned_validation_steps``, and the
    ``horizon_status`` and ``diagnosis`` at both rates (``budget_tuned_*``, ``time_tuned_*``);
    ``trap``: the budget-tuned rate stalls or diverges while the time-tuned rate does not."""
    tuned = [label for label, spec in study.experiments.items() if spec.tune]
    selected = trials[trials["experiment"].isin(tuned)]
    table = tuning.tuned_rates(selected, BASE)
    table["default_learning_rate"] = default_rate(table, study)
    ranges = selected.groupby(BASE, sort=False)["learning_rate"].agg(["min", "max"]).reset_index()
    table = table.merge(ranges.rename(columns={"min": "lowest_rate", "max": "highest_rate"}), on=BASE, how="left")
    if cells is None or "time_tuned" not in cells:
        return table
    status = cells[[*CELL, "horizon_status", "diagnosis"]]
    fastest = cells[cells["time_tuned"].eq(True)][[*BASE, "learning_rate", "validation_steps_to_threshold_median"]]
    table = table.merge(fastest.rename(columns={"learning_rate": "time_tuned_learning_rate",
                                                "validation_steps_to_threshold_median": "time_tuned_validation_steps"}), on=BASE, how="left")
    for prefix, column in (("budget_tuned", "tuned_learning_rate"), ("time_tuned", "time_tuned_learning_rate")):
        named = status.rename(columns={"learning_rate": column, "horizon_status": f"{prefix}_status", "diagnosis": f"{prefix}_diagnosis"})
        table = table.merge(named, on=[*BASE, column], how="left")
    stopped = ["stalled", "diverged"]
    table["trap"] = table["budget_tuned_status"].isin(stopped) & table["time_tuned_status"].notna() & ~table["time_tuned_status"].isin(stopped)
    return table


def at_tuned(frame: pd.DataFrame, tuned: pd.DataFrame, judged: str = "budget") -> pd.DataFrame:
    """The rows of ``frame`` at their base cell's tuned rate (``tuned``: :func:`tuned_table`): the
    time-tuned rate for a judgment by ``time`` where there is one, else the budget-tuned rate."""
    rate = tuned["tuned_learning_rate"]
    if judged == "time" and "time_tuned_learning_rate" in tuned:
        rate = tuned["time_tuned_learning_rate"].fillna(rate)
    keys = tuned[BASE].assign(learning_rate=rate.astype(float))
    merged = frame.merge(keys.assign(_tuned=True), on=CELL, how="left")
    return frame[merged["_tuned"].eq(True).to_numpy()]


def view(frame: pd.DataFrame, name: str, study: Study, tuned: pd.DataFrame, judged: str = "budget") -> pd.DataFrame:
    """The rows of ``frame`` in view ``name`` (:data:`VIEWS`), for a judgment at the budget or by time."""
    if name == "default":
        return at_default(frame, study)
    if name == "tuned":
        return at_tuned(frame, tuned, judged)
    raise ValueError(f"unknown view {name!r}; choose from {', '.join(VIEWS)}")
