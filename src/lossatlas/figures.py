"""Figures of the report: per-epoch curves with their 95% bootstrap bands.

Plot functions take a slice of the aggregated curves table and return ``(fig, ax)``; they never
write files. :func:`save_svg` writes a figure as deterministic SVG, and :func:`write_figures` makes
and saves the figures of one dataset (the Snakemake ``figures`` rule).

The curves table (``results/aggregate/curves.parquet``, see :func:`lossatlas.aggregate.summarize_curves`)
is long, one row per cell, metric and epoch: the cell's coordinates (the columns of
:data:`lossatlas.aggregate.CELL`: experiment, dataset, model, optimizer, loss, activation, ...) and
``metric, epoch, mean, ci_low, ci_high``.
"""

from __future__ import annotations

import math
import os

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from lossatlas.aggregate import CELL  # noqa: E402
from lossatlas.atomic import atomic_path  # noqa: E402

CURVE_COLUMNS = [*CELL, "metric", "epoch", "mean", "ci_low", "ci_high"]
# Dimensions a line of a figure can differ in, in the order its label names them.
LINE_DIMENSIONS = tuple(d for d in CELL if d != "dataset")
LINESTYLES = ("-", "--", ":", "-.")
PANEL_COLUMNS = 3
FIGURE_WIDTH = 7.0  # inches: the text width of an A4 page, so that the report shows figures at 1:1
PANEL_HEIGHT = 2.6  # inches per row of panels
LEGEND_ROW_HEIGHT = 0.16  # inches per row of legend entries, below the panels
STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",
}


def check_curves(curves: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows of ``metric``, sorted by cell and epoch; ValueError if a column or the metric is missing."""
    missing = [column for column in CURVE_COLUMNS if column not in curves.columns]
    if missing:
        raise ValueError(f"curves table lacks column(s) {', '.join(missing)}")
    rows = curves[curves["metric"] == metric]
    if rows.empty:
        raise ValueError(f"curves table has no rows for metric {metric!r}")
    return rows.sort_values([*CELL, "epoch"], kind="stable")


def varying_dimensions(curves: pd.DataFrame, dimensions=LINE_DIMENSIONS) -> list[str]:
    """The dimensions that take more than one value in ``curves`` (at least the last one)."""
    varying = [d for d in dimensions if curves[d].nunique() > 1]
    return varying or [dimensions[-1]]


def line_style(index: int, colormap) -> dict:
    """Colour and dash of the ``index``-th line: the colormap's colours, then the next dash."""
    count = colormap.N
    return {"color": colormap(index % count), "linestyle": LINESTYLES[(index // count) % len(LINESTYLES)]}


def y_scale(values: np.ndarray) -> str:
    """``"log"`` when every finite value is positive and they span more than a factor of 10."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
        return "log"
    return "linear"


def draw_band(ax, curve: pd.DataFrame, label: str, style: dict) -> None:
    """One mean line and its ``ci_low..ci_high`` band; ``curve`` holds one cell's rows, by epoch."""
    epochs = curve["epoch"].to_numpy()
    ax.fill_between(
        epochs, curve["ci_low"].to_numpy(), curve["ci_high"].to_numpy(), color=style["color"], alpha=0.18, linewidth=0
    )
    ax.plot(epochs, curve["mean"].to_numpy(), label=label, linewidth=1.2, **style)


def draw_lines(ax, curves: pd.DataFrame, keys: list[tuple], dimensions: list[str], colormap) -> None:
    """Draws every line of ``curves`` (grouped by ``dimensions``); ``keys`` fixes each line's style."""
    for key, curve in curves.groupby(dimensions, sort=True):
        draw_band(ax, curve, line_labels([key])[0], line_style(keys.index(key), colormap))
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, linewidth=0.3, alpha=0.5)


def new_figure(panels: int, legend_rows: int, share_y: bool = False) -> tuple[Figure, np.ndarray]:
    """A figure ``FIGURE_WIDTH`` wide with ``panels`` axes in rows of at most ``PANEL_COLUMNS`` and
    room below them for ``legend_rows`` rows of legend; returns ``(fig, axes)``, ``axes`` of shape ``(panels,)``."""
    if panels < 1:
        raise ValueError(f"a figure needs at least one panel, got {panels}")
    columns = min(panels, PANEL_COLUMNS)
    rows = math.ceil(panels / columns)
    height = PANEL_HEIGHT * rows + 0.4 + LEGEND_ROW_HEIGHT * legend_rows
    fig = Figure(figsize=(FIGURE_WIDTH, height), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False, sharey=share_y).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes[:panels]


def legend_columns(labels: list[str], font_size: float = STYLE["legend.fontsize"]) -> int:
    """How many legend entries of the longest label fit side by side across ``FIGURE_WIDTH``."""
    entry_points = 0.6 * font_size * max(len(label) for label in labels) + 3 * font_size
    return max(1, min(len(labels), int(FIGURE_WIDTH * 72 * 0.95 // entry_points)))


def line_labels(keys: list[tuple]) -> list[str]:
    """The legend label of each line key: its values joined by " / "."""
    return [" / ".join(map(str, key)) for key in keys]


def legend_rows(keys: list[tuple]) -> int:
    """Rows the legend of ``keys`` takes, its title included."""
    labels = line_labels(keys)
    return math.ceil(len(labels) / legend_columns(labels)) + 1


def add_legend(fig: Figure, axes, keys: list[tuple], dimensions: list[str]) -> None:
    """One legend below the panels naming every line, in ``keys`` order."""
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    labels = line_labels(keys)
    fig.legend(
        [handles[label] for label in labels],
        labels,
        loc="outside lower center",
        ncols=legend_columns(labels),
        frameon=False,
        title=" / ".join(dimensions),
    )


def plot_by_loss(curves: pd.DataFrame, metric: str, ylabel: str, share_y: bool) -> tuple[Figure, np.ndarray]:
    """``metric`` vs epoch, one panel per loss function, one line and 95% CI band per cell.

    Args:
        curves: curves table (see module doc) of one dataset.
        metric: the ``metric`` value to plot.
        ylabel: the y-axis label; ``{loss}`` is replaced by each panel's loss.
        share_y: one y axis for all panels (for metrics comparable across losses).
    Returns:
        ``(fig, axes)``, ``axes`` of shape ``(n_losses,)`` in the order losses first appear in
        ``curves``. Lines are labelled by the other dimensions that vary; a line keeps its colour in
        every panel, and one legend below the panels names them.
    """
    rows = check_curves(curves, metric)
    losses = list(dict.fromkeys(curves.loc[curves["metric"] == metric, "loss"]))  # input order
    dimensions = varying_dimensions(rows, tuple(d for d in LINE_DIMENSIONS if d != "loss"))
    keys = sorted({tuple(key) for key in rows[dimensions].itertuples(index=False)})
    colormap = matplotlib.colormaps["tab10" if len(keys) <= 10 else "tab20"]
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(len(losses), legend_rows(keys), share_y=share_y)
        for ax, loss in zip(axes, losses):
            panel = rows[rows["loss"] == loss]
            draw_lines(ax, panel, keys, dimensions, colormap)
            scaled = rows if share_y else panel
            ax.set_yscale(y_scale(scaled[["mean", "ci_low", "ci_high"]].to_numpy()))
            ax.set_title(f"loss: {loss}")
            if not share_y or ax.get_subplotspec().is_first_col():
                ax.set_ylabel(ylabel.format(loss=loss))
        add_legend(fig, axes, keys, dimensions)
    return fig, axes


def plot_loss_curves(curves: pd.DataFrame) -> tuple[Figure, np.ndarray]:
    """Training loss vs epoch, one panel per loss function, each with its own y axis (losses of
    different functions are not comparable). See :func:`plot_by_loss`."""
    return plot_by_loss(curves, "train_loss", "training loss ({loss})", share_y=False)


def plot_test_rmse(curves: pd.DataFrame) -> tuple[Figure, np.ndarray]:
    """Test RMSE vs epoch, one panel per loss function on one shared y axis, so that cells trained
    with different losses compare directly. See :func:`plot_by_loss`."""
    return plot_by_loss(curves, "test_rmse", "test RMSE", share_y=True)


def save_svg(fig: Figure, path: str | os.PathLike) -> None:
    """Writes ``fig`` to ``path`` as SVG, atomically, with the same bytes for the same figure.

    Element ids are hashed with a fixed salt, and the SVG carries no date or other metadata.
    """
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": "lossatlas"}):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None, "Format": None, "Type": None, "Creator": None})


def write_figures(curves_path: str | os.PathLike, dataset: str, loss_curves: str | os.PathLike, test_rmse: str | os.PathLike) -> None:
    """Reads the curves table and writes ``dataset``'s loss-curve and test-RMSE figures as SVG."""
    curves = pd.read_parquet(curves_path)
    curves = curves[curves["dataset"] == dataset]
    if curves.empty:
        raise ValueError(f"{curves_path} has no curves for dataset {dataset!r}")
    fig, _ = plot_loss_curves(curves)
    save_svg(fig, loss_curves)
    fig, _ = plot_test_rmse(curves)
    save_svg(fig, test_rmse)
