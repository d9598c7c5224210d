"""Gradient diagnostics: gradient norms over training for the article's cells, and the gradient,
the first update and the final fit against the target scale."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lossatlas.core.textfmt import format_interval
from lossatlas.design.plan import ARTICLE_CELLS
from lossatlas.figures.style import (
    CURVE_COLUMNS,
    FLOOR_STYLES,
    LINESTYLES,
    MARKERS,
    STYLE,
    add_legend,
    check_columns,
    check_curves,
    draw_lines,
    legend_rows,
    new_figure,
    y_scale,
)

#: The cells-table metrics drawn against the target scale (``{metric}_mean``), with their axis labels.
SCALE_METRICS = {
    "initial_grad_norm": "gradient norm at the initial weights",
    "first_epoch_update_norm": "update norm, first epoch",
}
#: The columns of the data of :func:`plot_scale_diagnostics`.
SCALE_DATA_COLUMNS = ["metric", "optimizer", "loss", "dataset", "scale", "value", "slope", "slope_ci_low", "slope_ci_high"]


def plot_gradient_curves(
    curves: pd.DataFrame, panels: Sequence[tuple[str, str]], cells: Sequence[tuple[str, str]] = ARTICLE_CELLS
) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """Output-layer gradient norm vs epoch (metric ``grad_norm_output``), log y, one panel per
    ``(experiment, optimizer)`` of ``panels``, one line and 95% CI band per ``(loss, activation)`` of
    ``cells``; as many panels a row as the experiment with the most of them has.

    Args:
        curves: curves-table rows of one dataset, model and target preprocessing.
    Returns:
        ``(fig, axes, data)``, ``axes`` of shape ``(len(panels),)``; ``data``: a row per point drawn,
        ``panel`` (its title) and :data:`lossatlas.figures.style.CURVE_COLUMNS`.
    """
    rows = check_curves(curves, "grad_norm_output")
    keys = [tuple(cell) for cell in cells]
    colormap = matplotlib.colormaps["tab10"]
    columns = max(sum(e == experiment for e, _ in panels) for experiment, _ in panels) if panels else 1
    parts = [pd.DataFrame(columns=["panel", *CURVE_COLUMNS])]
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(len(panels), legend_rows(keys), columns=columns, panel_height=2.2)
        for ax, (experiment, optimizer) in zip(axes, panels):
            panel = rows[(rows["experiment"] == experiment) & (rows["optimizer"] == optimizer)]
            panel = panel[np.array([tuple(key) in keys for key in panel[["loss", "activation"]].itertuples(index=False)], dtype=bool)]
            points = draw_lines(ax, panel, keys, ["loss", "activation"], colormap)
            points.insert(0, "panel", f"{experiment} · {optimizer}")
            parts.append(points)
            ax.set_yscale(y_scale(panel[["mean", "ci_low", "ci_high"]].to_numpy()) if not panel.empty else "linear")
            ax.set_title(f"{experiment} · {optimizer}")
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("output-layer gradient norm")
        add_legend(fig, axes, keys, ["loss", "activation"])
    return fig, axes, pd.concat([part for part in parts if not part.empty] or parts[:1], ignore_index=True)


def slope_row(slopes: pd.DataFrame | None, metric: str, optimizer: str, loss: str) -> tuple[float, float, float]:
    """``(slope, slope_ci_low, slope_ci_high)`` of the slopes table's row of ``metric``, ``optimizer``
    and ``loss`` (NaN when it has none)."""
    if slopes is None or slopes.empty:
        return (np.nan, np.nan, np.nan)
    row = slopes[(slopes["metric"] == metric) & (slopes["optimizer"] == optimizer) & (slopes["loss"] == loss)]
    if row.empty:
        return (np.nan, np.nan, np.nan)
    return tuple(float(row.iloc[0][column]) for column in ("slope", "slope_ci_low", "slope_ci_high"))


def slope_label(slopes: pd.DataFrame | None, metric: str, optimizer: str, loss: str) -> str:
    """``"1.002 [0.98, 1.01]"``: the slope and its 95% CI from the slopes table's row of ``metric``,
    ``optimizer`` and ``loss`` (``""`` when it has none)."""
    if slopes is None or slopes.empty:
        return ""
    row = slopes[(slopes["metric"] == metric) & (slopes["optimizer"] == optimizer) & (slopes["loss"] == loss)]
    if row.empty:
        return ""
    row = row.iloc[0]
    return format_interval(row["slope"], row["slope_ci_low"], row["slope_ci_high"], "ratio")


def plot_scale_diagnostics(
    cells: pd.DataFrame, slopes: pd.DataFrame, scales: Mapping[str, float], optimizers: Sequence[str], losses: Sequence[str]
) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """The gradient norm at the initial weights (top row) and the first epoch's update norm (bottom
    row) against the target scale, log-log, one panel per optimizer, one line per loss, each with
    its log-log slope and 95% CI in the legend below the panel, and a grey reference line of slope 1
    (proportional to the scale).

    Args:
        cells: cells-table rows of one experiment, model, target preprocessing and activation, with
            ``{metric}_mean`` of each of :data:`SCALE_METRICS`.
        slopes: the rows of the slopes table (``results/analysis/scale_slopes.csv``) of the same
            experiment, targets, model and activation.
        scales: dataset label -> target scale, of the datasets drawn.
    Returns:
        ``(fig, axes, data)``, ``axes`` of shape ``(2 * len(optimizers),)``, row-major; ``data``: a row
        per point drawn, :data:`SCALE_DATA_COLUMNS` (``value``: the mean over seeds of ``metric``;
        the slope and its CI are the legend's, empty where the slopes table has none).
    """
    check_columns(cells, ["dataset", "optimizer", "loss", *(f"{m}_mean" for m in SCALE_METRICS)], "cells")
    colormap = matplotlib.colormaps["tab10"]
    rows = []
    with matplotlib.rc_context({**STYLE, "legend.fontsize": 5.5}):
        fig, axes = new_figure(2 * len(optimizers), 0, columns=len(optimizers), panel_height=2.0 + 0.1 * (len(losses) + 1))
        for row, metric in enumerate(SCALE_METRICS):
            for column, optimizer in enumerate(optimizers):
                ax = axes[row * len(optimizers) + column]
                drawn = []
                for index, loss in enumerate(losses):
                    line = cells[(cells["optimizer"] == optimizer) & (cells["loss"] == loss) & cells["dataset"].isin(scales)]
                    if line.empty:
                        continue
                    x = np.array([scales[d] for d in line["dataset"]])
                    y = line[f"{metric}_mean"].to_numpy(dtype=np.float64)
                    order = np.argsort(x)
                    label = f"{loss} {slope_label(slopes, metric, optimizer, loss)}".rstrip()
                    ax.plot(x[order], y[order], marker=MARKERS[index % len(MARKERS)], markersize=3, linewidth=1.1,
                            color=colormap(index % 10), label=label)
                    slope = slope_row(slopes, metric, optimizer, loss)
                    datasets = line["dataset"].to_numpy()[order]
                    rows += [(metric, optimizer, loss, dataset, scale, value, *slope)
                             for dataset, scale, value in zip(datasets, x[order], y[order])]
                    drawn.append(y[order][np.isfinite(y[order]) & (y[order] > 0)])
                values = np.concatenate(drawn) if drawn else np.array([])
                if values.size:
                    x = np.array(sorted(scales.values()))
                    anchor = np.exp(np.mean(np.log(values)))
                    middle = np.exp(np.mean(np.log(x)))
                    ax.plot(x, anchor * x / middle, color="0.55", linestyle="--", linewidth=0.9, label="slope 1 (∝ scale)")
                ax.set_xscale("log")
                ax.set_yscale("log" if values.size and values.min() > 0 else "linear")
                ax.grid(True, which="major", linewidth=0.3, alpha=0.5)
                ax.set_title(f"{optimizer}")
                ax.set_xlabel("target scale")
                if column == 0:
                    ax.set_ylabel(SCALE_METRICS[metric])
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False, handlelength=1.6,
                          title="log–log slope [95% CI]", title_fontsize=5.5)
    return fig, axes, pd.DataFrame(rows, columns=SCALE_DATA_COLUMNS)


def plot_nrmse_vs_scale(
    cells: pd.DataFrame,
    scales: Mapping[str, float],
    targets: Sequence[str],
    optimizers: Sequence[str],
    losses: Sequence[str],
    activations: Sequence[str],
) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """Median final test nRMSE against the target scale (log-log), one panel per (target
    preprocessing, optimizer), one line per (loss, activation): colour by loss, marker and dash by
    activation; the noise floor nRMSE = 1 drawn.

    Args:
        cells: cells-table rows of one experiment and model, with ``final_test_nrmse_median``.
        scales: dataset label -> target scale, of the datasets drawn.
    Returns:
        ``(fig, axes, data)``, ``axes`` of shape ``(len(targets) * len(optimizers),)``, targets-major;
        ``data``: a row per point drawn, ``targets, optimizer, loss, activation, dataset, scale,
        final_test_nrmse_median``.
    """
    check_columns(cells, ["dataset", "targets", "optimizer", "loss", "activation", "final_test_nrmse_median"], "cells")
    colormap = matplotlib.colormaps["tab10"]
    present = cells[cells["dataset"].isin(scales)]
    keys = [(loss, activation) for loss in losses for activation in activations
            if ((present["loss"] == loss) & (present["activation"] == activation)).any()]
    styles = {
        (loss, activation): {
            "color": colormap(losses.index(loss) % 10),
            "marker": MARKERS[activations.index(activation) % len(MARKERS)],
            "linestyle": LINESTYLES[activations.index(activation) % len(LINESTYLES)],
        }
        for loss, activation in keys
    }
    values = present["final_test_nrmse_median"].to_numpy(dtype=np.float64)
    log_y = y_scale(np.append(values, 1.0))
    rows = []
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(
            len(targets) * len(optimizers), legend_rows(keys, 1), share_y=True, columns=len(optimizers), panel_height=2.4
        )
        for row, target in enumerate(targets):
            for column, optimizer in enumerate(optimizers):
                ax = axes[row * len(optimizers) + column]
                for key in keys:
                    line = present[(present["targets"] == target) & (present["optimizer"] == optimizer)
                                   & (present["loss"] == key[0]) & (present["activation"] == key[1])]
                    if line.empty:
                        continue
                    x = np.array([scales[d] for d in line["dataset"]])
                    order = np.argsort(x)
                    y = line["final_test_nrmse_median"].to_numpy(dtype=np.float64)[order]
                    ax.plot(x[order], y, markersize=2.5, linewidth=0.9, label=" / ".join(key), **styles[key])
                    rows += [(target, optimizer, *key, dataset, scale, value)
                             for dataset, scale, value in zip(line["dataset"].to_numpy()[order], x[order], y)]
                ax.axhline(1.0, zorder=3, **FLOOR_STYLES["raw"])
                ax.set_xscale("log")
                ax.set_yscale(log_y)
                ax.grid(True, linewidth=0.3, alpha=0.5)
                ax.set_title(f"{target} targets · {optimizer}")
                ax.set_xlabel("target scale")
                if column == 0:
                    ax.set_ylabel("median test nRMSE")
        add_legend(fig, axes, keys, ["loss", "activation"], [(Line2D([], [], **FLOOR_STYLES["raw"]), "noise floor (nRMSE = 1)")])
    columns = ["targets", "optimizer", "loss", "activation", "dataset", "scale", "final_test_nrmse_median"]
    return fig, axes, pd.DataFrame(rows, columns=columns)
