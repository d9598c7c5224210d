"""Why a cell fails at the budget: the distance its weights need to travel against the distance they
travelled in the budget and the optimizer's reach (``results/analysis/mechanism.csv``)."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from lossatlas.core.results import BASE, MECHANISM_CATEGORIES
from lossatlas.core.textfmt import format_number, loss_name
from lossatlas.figures.style import FIGURE_WIDTH, LOG_TICKS, STYLE, check_columns

MECHANISM_COLUMNS = [*BASE, "learning_rate", "category", "required_linf", "moved_linf", "capacity_linf"]
#: Cells are named next to their point when a figure has at most this many.
LABEL_LIMIT = 12


def category_colors(categories) -> dict[str, tuple]:
    """A colour per category, in the order of :data:`lossatlas.core.results.MECHANISM_CATEGORIES` (others after)."""
    known = list(MECHANISM_CATEGORIES)
    order = known + sorted(set(categories) - set(known))
    colormap = matplotlib.colormaps["tab10"]
    return {category: colormap(index % 10) for index, category in enumerate(order)}


def distance_axes(ax) -> None:
    """Log ticks at 1, 2 and 5 times the powers of ten on both axes, labelled in the report's number format."""
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=LOG_TICKS))
        axis.set_major_formatter(FuncFormatter(lambda value, _: format_number(float(value))))
        axis.set_minor_formatter(NullFormatter())


def log_range(values: np.ndarray, decades: float = 1.5) -> tuple[float, float]:
    """Limits of a log axis around the finite positive ``values``, at least ``decades`` wide."""
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return 1e-3, 1.0
    low, high = values.min() / 1.5, values.max() * 1.5
    centre, half = math.sqrt(low * high), max(math.log10(high / low), decades) / 2
    return centre / 10**half, centre * 10**half


def cell_label(row) -> str:
    """``"MSE/sigmoid lr 0.001"``: a cell's loss, activation and rate."""
    return f"{loss_name(str(row['loss']))}/{row['activation']} lr {format_number(float(row['learning_rate']))}"


def plot_mechanism(mechanism: pd.DataFrame) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """Distance the weights need to travel (the largest weight change to where the seeds that reached
    the threshold ended, median) against the distance they travelled in the budget (the same
    distance after the budget, median), log-log, one point per cell of ``mechanism`` coloured by its
    category; a hollow square above it at the optimizer's reach in the budget (learning rate x budget
    steps, Adam and RMSprop), joined by a thin line; grey: y = x. Cells whose needed distance is
    unknown (they never reached the threshold) go in a narrow panel on the right, on the same y axis.

    Args:
        mechanism: ``results/analysis/mechanism.csv``.
    Returns:
        ``(fig, axes, data)``: the log-log panel and the panel of unknown needs; ``data``: a row per
        cell drawn, its ``panel`` and :data:`MECHANISM_COLUMNS`.
    """
    check_columns(mechanism, MECHANISM_COLUMNS, "mechanism")
    colors = category_colors(mechanism["category"])
    rows = mechanism.reset_index(drop=True)
    known = rows[np.isfinite(rows["required_linf"].astype(float))]
    unknown = rows[~np.isfinite(rows["required_linf"].astype(float))]
    low, high = log_range(rows[["required_linf", "moved_linf", "capacity_linf"]].to_numpy(np.float64).ravel())
    label = len(known) <= LABEL_LIMIT
    with matplotlib.rc_context({**STYLE, "legend.fontsize": 6.5}):
        fig = Figure(figsize=(FIGURE_WIDTH, 3.6), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [4, 1]})
        main, side = axes
        for ax, part, xs in ((main, known, known["required_linf"].to_numpy(np.float64)),
                             (side, unknown, (np.arange(len(unknown)) + 0.5) / max(len(unknown), 1))):
            for x, (_, row) in zip(xs, part.iterrows()):
                color = colors[row["category"]]
                moved, reach = float(row["moved_linf"]), float(row["capacity_linf"])
                if math.isfinite(reach) and reach > 0:
                    ax.plot([x, x], [moved, reach], color=color, linewidth=0.6, alpha=0.7)
                    ax.plot([x], [reach], marker="s", markersize=5, markerfacecolor="white", markeredgecolor=color, linestyle="none")
                ax.plot([x], [moved], marker="o", markersize=5, color=color, linestyle="none", zorder=3)
                if label and ax is main:
                    ax.annotate(cell_label(row), (x, moved), xytext=(3, -3), textcoords="offset points", fontsize=5.5,
                                color="0.25", va="top")
        main.plot([low, high], [low, high], color="0.6", linewidth=0.8, zorder=0)
        main.set_xscale("log")
        main.set_yscale("log")
        main.set_xlim(low, high)
        main.set_ylim(low, high)
        distance_axes(main)
        if known.empty:
            main.text(0.5, 0.5, "no cell reached the threshold", transform=main.transAxes, ha="center", color="0.4")
        main.grid(True, which="major", linewidth=0.3, alpha=0.5)
        main.set_xlabel("distance needed: max |Δw| at the threshold")
        main.set_ylabel("max |Δw| travelled in the budget")
        main.set_title("cells that reached the threshold")
        side.set_xlim(0, 1)
        if len(unknown) <= LABEL_LIMIT:
            side.set_xticks((np.arange(len(unknown)) + 0.5) / max(len(unknown), 1),
                            [cell_label(row) for _, row in unknown.iterrows()], rotation=90, fontsize=5.5)
        else:
            side.set_xticks([])
        side.set_xlabel("need unknown")
        side.set_title("never reached")
        present = [c for c in colors if (rows["category"] == c).any()]
        handles = [Line2D([], [], marker="o", color=colors[c], linestyle="none") for c in present]
        handles += [Line2D([], [], marker="s", markerfacecolor="white", markeredgecolor="0.3", linestyle="none"),
                    Line2D([], [], color="0.6", linewidth=0.8)]
        labels = [*present, "optimizer's reach in the budget (lr × steps)", "travelled = needed"]
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, title="category")
    data = pd.concat([known.assign(panel=main.get_title()), unknown.assign(panel=side.get_title())], ignore_index=True)
    return fig, axes, data[["panel", *MECHANISM_COLUMNS]]
