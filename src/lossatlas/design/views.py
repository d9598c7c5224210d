"""Two views of the results: every cell at its optimizer's default rate, and at its tuned rate.

Keras's default rate (each optimizer's ``learning_rate`` in the config) is the article's setting; a
tuned experiment also trains every cell over a sweep of rates and chooses each cell's rate on the
validation split (:func:`lossatlas.core.tuning.tuned_rates`). A *view* keeps one rate per cell:

* ``default``: the rows at the optimizer's own rate (every experiment has them);
* ``tuned``: the rows at the cell's tuned rate (tuned experiments only).

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


def tuned_table(trials: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Each base cell of a tuned experiment: its ``tuned_learning_rate`` (chosen on the validation
    split at the budget, :func:`lossatlas.core.tuning.tuned_rates`), ``default_learning_rate``, ``edge``
    (where the tuned rate lies: ``"low"``/``"high"`` at an end of the rates trained, after the sweep
    was extended as far as the config allows; ``""`` inside), ``n_rates``, and the rates' range."""
    tuned = [label for label, spec in study.experiments.items() if spec.tune]
    selected = trials[trials["experiment"].isin(tuned)]
    table = tuning.tuned_rates(selected, BASE)
    table["default_learning_rate"] = default_rate(table, study)
    ranges = selected.groupby(BASE, sort=False)["learning_rate"].agg(["min", "max"]).reset_index()
    return table.merge(ranges.rename(columns={"min": "lowest_rate", "max": "highest_rate"}), on=BASE, how="left")


def at_tuned(frame: pd.DataFrame, tuned: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` at their base cell's tuned rate (``tuned``: :func:`tuned_table`)."""
    keys = tuned[BASE].assign(learning_rate=tuned["tuned_learning_rate"])
    merged = frame.merge(keys.assign(_tuned=True), on=CELL, how="left")
    return frame[merged["_tuned"].eq(True).to_numpy()]


def view(frame: pd.DataFrame, name: str, study: Study, tuned: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` in view ``name`` (:data:`VIEWS`)."""
    if name == "default":
        return at_default(frame, study)
    if name == "tuned":
        return at_tuned(frame, tuned)
    raise ValueError(f"unknown view {name!r}; choose from {', '.join(VIEWS)}")
