"""Curves of one dataset and experiment: training loss and test RMSE against epoch, a panel per loss.

The curves table (``results/aggregate/curves.parquet``, :data:`lossatlas.core.results.TABLES`) is long,
one row per cell, metric and evaluation point: the cell's coordinates and ``metric, epoch, mean,
ci_low, ci_high``. Epoch 0 is the initial weights; ``train_loss`` has no value there.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lossatlas.design.plan import panel_by_activation
from lossatlas.design.study import LOSSES
from lossatlas.figures.style import (
    BUDGET_STYLE,
    FLOOR_STYLES,
    LINE_DIMENSIONS,
    STYLE,
    add_legend,
    check_curves,
    draw_lines,
    legend_rows,
    new_figure,
    varying_dimensions,
    y_scale,
)


def curve_panels(rows: pd.DataFrame) -> list[str]:
    """The dimensions that make a panel: ``loss``, and ``activation`` too when a loss would otherwise
    have too many lines (:func:`lossatlas.design.plan.panel_by_activation`)."""
    others = varying_dimensions(rows, tuple(d for d in LINE_DIMENSIONS if d != "loss"))
    lines = rows.groupby(["loss", *others]).ngroups / max(rows["loss"].nunique(), 1)
    if "activation" in others and panel_by_activation(lines, rows["activation"].nunique()):
        return ["loss", "activation"]
    return ["loss"]


def plot_by_loss(
    curves: pd.DataFrame,
    metric: str,
    ylabel: str,
    share_y: bool,
    floors: Mapping[tuple[str, str], float] | None = None,
    reference: tuple[float, str] | None = None,
    budget: float | None = None,
    reference_column: str = "reference",
) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """``metric`` vs epoch, one panel per loss function (and per activation when a loss has too many
    lines), one line and 95% CI band per cell.

    Args:
        curves: curves table (see module doc) of one dataset.
        metric: the ``metric`` value to plot.
        ylabel: the y-axis label; ``{loss}`` is replaced by each panel's loss.
        share_y: one y axis for all panels (for metrics comparable across losses).
        floors: ``(loss, targets) -> value``: drawn as a horizontal line in the panels of ``loss``
            with lines of that target preprocessing (dotted for raw targets, dash-dotted for
            standardized ones).
        reference: ``(value, label)`` drawn as a horizontal line in every panel.
        budget: the experiment's fixed budget in epochs, drawn as a vertical line (for curves that
            run past it, those of a horizon experiment); None: none.
        reference_column: the name of the reference's column in the data.
    Returns:
        ``(fig, axes, data)``, ``axes`` of shape ``(n_panels,)``, losses in the order of
        :data:`lossatlas.design.study.LOSSES` (others after them, in the order they first appear in
        ``curves``). Lines are labelled by the other dimensions that vary; a line keeps its colour in
        every panel, and one legend below the panels names them. ``data``: one row per point drawn,
        ``panel`` (its title), :data:`lossatlas.figures.style.CURVE_COLUMNS`, and the lines drawn with
        it: ``floor`` (its loss's floor for its targets; empty where none is drawn) when ``floors``
        are given, ``reference_column`` with ``reference``, ``budget_epochs`` with ``budget``.
    """
    rows = check_curves(curves, metric)
    has_floors, floors = floors is not None, dict(floors or {})
    panel_dimensions = curve_panels(rows)
    panels = list(dict.fromkeys(map(tuple, rows[panel_dimensions].itertuples(index=False))))
    order = {loss: index for index, loss in enumerate(dict.fromkeys(curves.loc[curves["metric"] == metric, "loss"]))}
    panels.sort(key=lambda key: (LOSSES.index(key[0]) if key[0] in LOSSES else len(LOSSES), order[key[0]]))
    dimensions = varying_dimensions(rows, tuple(d for d in LINE_DIMENSIONS if d not in panel_dimensions))
    keys = sorted({tuple(key) for key in rows[dimensions].itertuples(index=False)})
    colormap = matplotlib.colormaps["tab10" if len(keys) <= 10 else "tab20"]
    extra, parts = [], []
    with matplotlib.rc_context(STYLE):
        drawn = {(loss, targets) for loss, targets in floors if ((rows["loss"] == loss) & (rows["targets"] == targets)).any()}
        kinds = sorted({targets for _, targets in drawn}, key=list(FLOOR_STYLES).index)
        fig, axes = new_figure(len(panels), legend_rows(keys, len(kinds) + bool(reference) + (budget is not None)), share_y=share_y)
        for ax, panel_key in zip(axes, panels):
            mask = np.logical_and.reduce([rows[d] == v for d, v in zip(panel_dimensions, panel_key)])
            panel = rows[mask]
            loss = panel_key[0]
            title = " · ".join(f"{d}: {v}" for d, v in zip(panel_dimensions, panel_key))
            points = draw_lines(ax, panel, keys, dimensions, colormap)
            lines = [panel[["mean", "ci_low", "ci_high"]].to_numpy().ravel()]
            shown = {}
            for targets in FLOOR_STYLES:
                if (loss, targets) in drawn and (panel["targets"] == targets).any():
                    ax.axhline(floors[(loss, targets)], zorder=3, **FLOOR_STYLES[targets])
                    lines.append(np.array([floors[(loss, targets)]]))
                    shown[targets] = floors[(loss, targets)]
            points.insert(0, "panel", title)
            if has_floors:
                points["floor"] = points["targets"].map(shown).astype(float)
            if reference is not None:
                points[reference_column] = float(reference[0])
            if budget is not None:
                points["budget_epochs"] = budget
            parts.append(points)
            if reference is not None:
                ax.axhline(reference[0], zorder=3, **FLOOR_STYLES["raw"])
                lines.append(np.array([reference[0]]))
            scaled = rows[["mean", "ci_low", "ci_high"]].to_numpy().ravel() if share_y else np.concatenate(lines)
            if share_y and reference is not None:
                scaled = np.append(scaled, reference[0])
            ax.set_yscale(y_scale(scaled))
            if budget is not None:
                ax.axvline(budget, zorder=2, **BUDGET_STYLE)
            ax.set_title(title)
            if not share_y or ax.get_subplotspec().is_first_col():
                ax.set_ylabel(ylabel.format(loss=loss))
        for targets in kinds:
            extra.append((Line2D([], [], **FLOOR_STYLES[targets]), f"loss floor, {targets} targets"))
        if reference is not None:
            extra.append((Line2D([], [], **FLOOR_STYLES["raw"]), reference[1]))
        if budget is not None:
            extra.append((Line2D([], [], **BUDGET_STYLE), "fixed budget"))
        add_legend(fig, axes, keys, dimensions, extra)
    return fig, axes, pd.concat(parts, ignore_index=True)


def plot_loss_curves(curves: pd.DataFrame, floors: Mapping[tuple[str, str], float] | None = None,
                     budget: float | None = None) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """Training loss vs epoch, one panel per loss function, each with its own y axis (losses of
    different functions are not comparable), with each loss's floor (``results/aggregate/floors.csv``)
    where ``floors`` gives one. See :func:`plot_by_loss`."""
    return plot_by_loss(curves, "train_loss", "training loss ({loss})", share_y=False, floors=floors, budget=budget)


def plot_test_rmse(curves: pd.DataFrame, noise_sd: float | None = None,
                   budget: float | None = None) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """Test RMSE vs epoch, one panel per loss function on one shared y axis, so that cells trained
    with different losses compare directly; with the noise standard deviation (the RMSE of the
    noise-free function) drawn when ``noise_sd`` is known. See :func:`plot_by_loss`."""
    reference = None if noise_sd is None else (noise_sd, "noise sd (RMSE of the generating function)")
    return plot_by_loss(curves, "test_rmse", "test RMSE", share_y=True, reference=reference, budget=budget,
                        reference_column="noise_sd")
