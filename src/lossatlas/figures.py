"""Figures of the report: per-epoch curves with their 95% bootstrap bands, heatmaps of the grid,
gradient diagnostics against the target scale, and the article's seed reproduction.

Plot functions take slices of the results tables and return ``(fig, axes)``; they never write
files. :func:`save_svg` writes a figure as deterministic SVG; :func:`write_figures` makes and saves
the curve figures of one dataset and experiment (the Snakemake ``figures`` rule) and
:func:`write_study_figures` the study-wide ones (the ``study_figures`` rule). Which figures a study
gets is decided from the study alone (:func:`curve_experiments`, :func:`study_figures`), so that the
workflow knows every output before anything runs.

The curves table (``results/aggregate/curves.parquet``, see :func:`lossatlas.aggregate.summarize_curves`)
is long, one row per cell, metric and epoch: the cell's coordinates (the columns of
:data:`lossatlas.aggregate.CELL`: experiment, dataset, model, optimizer, loss, activation, ...) and
``metric, epoch, mean, ci_low, ci_high``. The cells table is ``results/aggregate/cells.csv`` (see
:func:`lossatlas.aggregate.summarize_cells`).
"""

from __future__ import annotations

import io
import math
import os
import re
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from lossatlas.aggregate import CELL  # noqa: E402
from lossatlas.atomic import atomic_path  # noqa: E402
from lossatlas.config import LOSSES  # noqa: E402

CURVE_COLUMNS = [*CELL, "metric", "epoch", "mean", "ci_low", "ci_high"]
# Dimensions a line of a figure can differ in, in the order its label names them.
LINE_DIMENSIONS = tuple(d for d in CELL if d != "dataset")
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
PANEL_COLUMNS = 4
FIGURE_WIDTH = 7.0  # inches: the text width of an A4 page, so that the report shows figures at 1:1
PANEL_HEIGHT = 2.2  # inches per row of panels
LEGEND_ROW_HEIGHT = 0.16  # inches per row of legend entries, below the panels
# A curve is drawn at this many evenly spaced epochs at most (see thin).
MAX_POINTS = 400
# A curve panel shows at most this many lines; with more, each loss gets a panel per activation.
MAX_LINES_PER_PANEL = 12
# Curve figures of a dataset are drawn for the experiments with at most this many cells on it; the
# larger ones (the full grid) are summarised by the heatmaps instead.
CURVE_CELL_LIMIT = 40
# The article's cells (loss, output activation), on its small-target data and its Dense(1) model.
ARTICLE_CELLS = (("mse", "sigmoid"), ("binary_crossentropy", "sigmoid"), ("mse", "linear"))
ARTICLE_FAMILY = "seed_small"
SCALE_FAMILY = "target_scale"
STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",
}
FLOOR_STYLES = {
    "raw": {"color": "black", "linestyle": (0, (1, 1.5)), "linewidth": 1.0},
    "standardized": {"color": "0.45", "linestyle": (0, (4, 1.5, 1, 1.5)), "linewidth": 1.0},
}


# ---------------------------------------------------------------------------------------------
# Loss floors
# ---------------------------------------------------------------------------------------------


def binary_entropy(y) -> np.ndarray:
    """``H(y) = -y ln y - (1 - y) ln(1 - y)`` elementwise, in nats, with ``0 ln 0 = 0``.

    ``y`` must lie in [0, 1]; raises ValueError otherwise."""
    y = np.asarray(y, dtype=np.float64)
    if np.any((y < 0) | (y > 1)) or not np.all(np.isfinite(y)):
        raise ValueError("binary entropy needs values in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y > 0, -y * np.log(np.where(y > 0, y, 1.0)), 0.0)
        terms += np.where(y < 1, -(1 - y) * np.log(np.where(y < 1, 1 - y, 1.0)), 0.0)
    return terms


def mean_binary_entropy(y_train) -> float:
    """The floor of binary cross-entropy on targets ``y_train`` ``(seeds, n, 1)``: the mean over seeds
    of ``mean_i H(y_i)`` (:func:`binary_entropy`). Cross-entropy ``-y ln p - (1 - y) ln(1 - p)`` is
    at least ``H(y)`` for every prediction ``p``, with equality at ``p = y``, so no model trains below it."""
    y = np.asarray(y_train, dtype=np.float64)
    if y.ndim < 2:
        raise ValueError(f"y_train must be (seeds, n, ...), got shape {y.shape}")
    per_seed = binary_entropy(y).reshape(y.shape[0], -1).mean(axis=1)
    return float(per_seed.mean())


def loss_floors(y_train, noise_sd: float, targets: str) -> dict[str, float]:
    """The training loss a model reaches when it predicts the noise-free generating function, per loss
    where that is exactly derivable, in the units the model is trained in.

    For additive Gaussian noise of standard deviation ``sigma`` (in target units): MSE ``sigma**2``,
    MAE ``sigma * sqrt(2 / pi)`` (the mean absolute value of the noise). For ``targets ==
    "standardized"`` the targets of seed ``r`` are divided by their training standard deviation
    ``s_r``, so the floors are the means over seeds of ``sigma**2 / s_r**2`` and ``sigma sqrt(2/pi) / s_r``.
    Binary cross-entropy (raw targets only): :func:`mean_binary_entropy`, a true lower bound. Huber and
    log-cosh have no closed form here and get no floor.

    Args:
        y_train: ``(seeds, n, 1)`` the training targets of the seeds trained (raw, in target units).
        noise_sd: the generator's noise standard deviation in target units.
        targets: ``"raw"`` or ``"standardized"``.
    """
    y = np.asarray(y_train, dtype=np.float64)
    if targets == "raw":
        floors = {"mse": noise_sd**2, "mae": noise_sd * math.sqrt(2 / math.pi)}
        if np.all((y >= 0) & (y <= 1)):
            floors["binary_crossentropy"] = mean_binary_entropy(y)
        return floors
    if targets == "standardized":
        spread = y.reshape(y.shape[0], -1).std(axis=1)
        return {
            "mse": float(np.mean(noise_sd**2 / spread**2)),
            "mae": float(np.mean(noise_sd * math.sqrt(2 / math.pi) / spread)),
        }
    raise ValueError(f"unknown target preprocessing {targets!r}; expected raw or standardized")


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def check_curves(curves: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows of ``metric``, sorted by cell and epoch; ValueError if a column or the metric is missing."""
    missing = [column for column in CURVE_COLUMNS if column not in curves.columns]
    if missing:
        raise ValueError(f"curves table lacks column(s) {', '.join(missing)}")
    rows = curves[curves["metric"] == metric]
    if rows.empty:
        raise ValueError(f"curves table has no rows for metric {metric!r}")
    return rows.sort_values([*CELL, "epoch"], kind="stable")


def check_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """ValueError naming the columns of ``columns`` that ``frame`` (the ``name`` table) lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} table lacks column(s) {', '.join(missing)}")


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


def thin(curve: pd.DataFrame, points: int = MAX_POINTS) -> pd.DataFrame:
    """At most ``points`` rows of ``curve``, evenly spaced, the first and last kept (a long curve's
    drawing, to keep the SVG small; the values are not changed)."""
    if len(curve) <= points:
        return curve
    return curve.iloc[np.unique(np.linspace(0, len(curve) - 1, points).round().astype(int))]


def draw_band(ax, curve: pd.DataFrame, label: str, style: dict) -> None:
    """One mean line and its ``ci_low..ci_high`` band; ``curve`` holds one cell's rows, by epoch
    (drawn at :data:`MAX_POINTS` epochs at most, :func:`thin`)."""
    curve = thin(curve)
    epochs = curve["epoch"].to_numpy()
    ax.fill_between(
        epochs, curve["ci_low"].to_numpy(), curve["ci_high"].to_numpy(), color=style["color"], alpha=0.18, linewidth=0
    )
    ax.plot(epochs, curve["mean"].to_numpy(), label=label, linewidth=1.2, **style)


def draw_lines(ax, curves: pd.DataFrame, keys: list[tuple], dimensions: list[str], colormap) -> None:
    """Draws every line of ``curves`` (grouped by ``dimensions``); ``keys`` fixes each line's style."""
    for key, curve in curves.groupby(dimensions, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        draw_band(ax, curve, line_labels([key])[0], line_style(keys.index(key), colormap))
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.grid(True, linewidth=0.3, alpha=0.5)


def new_figure(
    panels: int, legend_rows: int, share_y: bool = False, columns: int | None = None, panel_height: float = PANEL_HEIGHT
) -> tuple[Figure, np.ndarray]:
    """A figure ``FIGURE_WIDTH`` wide with ``panels`` axes in rows of at most ``columns``
    (``PANEL_COLUMNS``) and room below them for ``legend_rows`` rows of legend; returns
    ``(fig, axes)``, ``axes`` of shape ``(panels,)``."""
    if panels < 1:
        raise ValueError(f"a figure needs at least one panel, got {panels}")
    columns = min(panels, columns or PANEL_COLUMNS)
    rows = math.ceil(panels / columns)
    height = panel_height * rows + 0.4 + LEGEND_ROW_HEIGHT * legend_rows
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


def legend_rows(keys: list[tuple], extra: int = 0) -> int:
    """Rows the legend of ``keys`` (and ``extra`` more entries) takes, its title included."""
    labels = line_labels(keys) + ["floor, standardized targets"] * extra
    return math.ceil(len(labels) / legend_columns(labels)) + 1


def add_legend(fig: Figure, axes, keys: list[tuple], dimensions: list[str], extra: Sequence[tuple] = ()) -> None:
    """One legend below the panels naming every line, in ``keys`` order, then the ``extra``
    ``(handle, label)`` entries."""
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    labels = line_labels(keys)
    entries = [(handles[label], label) for label in labels if label in handles] + list(extra)
    fig.legend(
        [handle for handle, _ in entries],
        [label for _, label in entries],
        loc="outside lower center",
        ncols=legend_columns([label for _, label in entries]),
        frameon=False,
        title=" / ".join(dimensions),
    )


def number_text(value) -> str:
    """A number as the report writes it (:func:`lossatlas.report.format_number`)."""
    from lossatlas.report import format_number  # the report's one number format

    return format_number(value)


# ---------------------------------------------------------------------------------------------
# Curves of one dataset and experiment
# ---------------------------------------------------------------------------------------------


def curve_panels(rows: pd.DataFrame) -> list[str]:
    """The dimensions that make a panel: ``loss``, and ``activation`` too when a loss would otherwise
    have more than :data:`MAX_LINES_PER_PANEL` lines."""
    others = [d for d in varying_dimensions(rows, tuple(d for d in LINE_DIMENSIONS if d != "loss"))]
    lines = rows.groupby(["loss", *others]).ngroups / max(rows["loss"].nunique(), 1)
    if lines > MAX_LINES_PER_PANEL and "activation" in others and rows["activation"].nunique() > 1:
        return ["loss", "activation"]
    return ["loss"]


def plot_by_loss(
    curves: pd.DataFrame,
    metric: str,
    ylabel: str,
    share_y: bool,
    floors: Mapping[tuple[str, str], float] | None = None,
    reference: tuple[float, str] | None = None,
) -> tuple[Figure, np.ndarray]:
    """``metric`` vs epoch, one panel per loss function (and per activation when a loss has more than
    :data:`MAX_LINES_PER_PANEL` lines), one line and 95% CI band per cell.

    Args:
        curves: curves table (see module doc) of one dataset.
        metric: the ``metric`` value to plot.
        ylabel: the y-axis label; ``{loss}`` is replaced by each panel's loss.
        share_y: one y axis for all panels (for metrics comparable across losses).
        floors: ``(loss, targets) -> value``: drawn as a horizontal line in the panels of ``loss``
            with lines of that target preprocessing (dotted for raw targets, dash-dotted for
            standardized ones).
        reference: ``(value, label)`` drawn as a horizontal line in every panel.
    Returns:
        ``(fig, axes)``, ``axes`` of shape ``(n_panels,)``, losses in the order of
        :data:`lossatlas.config.LOSSES` (others after them, in the order they first appear in
        ``curves``). Lines are labelled by the other dimensions that vary; a line keeps its colour in
        every panel, and one legend below the panels names them.
    """
    rows = check_curves(curves, metric)
    floors = dict(floors or {})
    panel_dimensions = curve_panels(rows)
    panels = list(dict.fromkeys(map(tuple, rows[panel_dimensions].itertuples(index=False))))
    order = {loss: index for index, loss in enumerate(dict.fromkeys(curves.loc[curves["metric"] == metric, "loss"]))}
    panels.sort(key=lambda key: (LOSSES.index(key[0]) if key[0] in LOSSES else len(LOSSES), order[key[0]]))
    dimensions = varying_dimensions(rows, tuple(d for d in LINE_DIMENSIONS if d not in panel_dimensions))
    keys = sorted({tuple(key) for key in rows[dimensions].itertuples(index=False)})
    colormap = matplotlib.colormaps["tab10" if len(keys) <= 10 else "tab20"]
    extra = []
    with matplotlib.rc_context(STYLE):
        drawn = {(loss, targets) for loss, targets in floors if ((rows["loss"] == loss) & (rows["targets"] == targets)).any()}
        kinds = sorted({targets for _, targets in drawn}, key=list(FLOOR_STYLES).index)
        fig, axes = new_figure(len(panels), legend_rows(keys, len(kinds) + bool(reference)), share_y=share_y)
        for ax, panel_key in zip(axes, panels):
            mask = np.logical_and.reduce([rows[d] == v for d, v in zip(panel_dimensions, panel_key)])
            panel = rows[mask]
            loss = panel_key[0]
            draw_lines(ax, panel, keys, dimensions, colormap)
            lines = [panel[["mean", "ci_low", "ci_high"]].to_numpy().ravel()]
            for targets in FLOOR_STYLES:
                if (loss, targets) in drawn and (panel["targets"] == targets).any():
                    ax.axhline(floors[(loss, targets)], zorder=3, **FLOOR_STYLES[targets])
                    lines.append(np.array([floors[(loss, targets)]]))
            if reference is not None:
                ax.axhline(reference[0], zorder=3, **FLOOR_STYLES["raw"])
                lines.append(np.array([reference[0]]))
            scaled = rows[["mean", "ci_low", "ci_high"]].to_numpy().ravel() if share_y else np.concatenate(lines)
            if share_y and reference is not None:
                scaled = np.append(scaled, reference[0])
            ax.set_yscale(y_scale(scaled))
            ax.set_title(" · ".join(f"{d}: {v}" for d, v in zip(panel_dimensions, panel_key)))
            if not share_y or ax.get_subplotspec().is_first_col():
                ax.set_ylabel(ylabel.format(loss=loss))
        for targets in kinds:
            extra.append((Line2D([], [], **FLOOR_STYLES[targets]), f"loss floor, {targets} targets"))
        if reference is not None:
            extra.append((Line2D([], [], **FLOOR_STYLES["raw"]), reference[1]))
        add_legend(fig, axes, keys, dimensions, extra)
    return fig, axes


def plot_loss_curves(curves: pd.DataFrame, floors: Mapping[tuple[str, str], float] | None = None) -> tuple[Figure, np.ndarray]:
    """Training loss vs epoch, one panel per loss function, each with its own y axis (losses of
    different functions are not comparable), with each loss's floor (:func:`loss_floors`) where
    ``floors`` gives one. See :func:`plot_by_loss`."""
    return plot_by_loss(curves, "train_loss", "training loss ({loss})", share_y=False, floors=floors)


def plot_test_rmse(curves: pd.DataFrame, noise_sd: float | None = None) -> tuple[Figure, np.ndarray]:
    """Test RMSE vs epoch, one panel per loss function on one shared y axis, so that cells trained
    with different losses compare directly; with the noise standard deviation (the RMSE of the
    noise-free function) drawn when ``noise_sd`` is given. See :func:`plot_by_loss`."""
    reference = None if noise_sd is None else (noise_sd, "noise sd (RMSE of the generating function)")
    return plot_by_loss(curves, "test_rmse", "test RMSE", share_y=True, reference=reference)


# ---------------------------------------------------------------------------------------------
# Heatmaps of the grid
# ---------------------------------------------------------------------------------------------

HEATMAP_COLUMNS = ["dataset", "optimizer", "loss", "activation", "final_test_nrmse_median", "reach_flag"]


def flag_of(value) -> str:
    """A cells-table reach flag as text, ``""`` when there is none (CSV reads it as NaN)."""
    return value.strip() if isinstance(value, str) else ""


def heatmap_norm(values) -> LogNorm:
    """A log colour scale over the finite positive ``values`` (one decade around 1 when there are none)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return LogNorm(0.1, 10)
    low, high = values.min(), values.max()
    if high <= low * 1.0001:
        low, high = low / 2, high * 2
    return LogNorm(low, high)


def plot_nrmse_heatmap(
    cells: pd.DataFrame,
    datasets: Sequence[str],
    optimizers: Sequence[str],
    losses: Sequence[str],
    activations: Sequence[str],
    excluded: Sequence[tuple[str, str, str, str]] = (),
    title: str | None = None,
) -> tuple[Figure, np.ndarray]:
    """Median test nRMSE of every cell, as heatmaps: one panel per (dataset, optimizer) (rows of
    panels: datasets, columns: optimizers), rows of a panel: losses, columns: output activations,
    a log colour scale shared by all panels and each cell's value written in it.

    Args:
        cells: cells-table rows of one experiment, model and target preprocessing (columns of
            :data:`HEATMAP_COLUMNS`); a non-empty ``reach_flag`` marks the cell with a dagger.
        datasets, optimizers, losses, activations: the order of each axis.
        excluded: ``(dataset, optimizer, loss, activation)`` of the combinations left out before
            training: drawn hatched. Other combinations without a row stay blank.
        title: the figure's title.
    Returns:
        ``(fig, axes)``, ``axes`` of shape ``(len(datasets) * len(optimizers),)``, dataset-major.
    """
    check_columns(cells, HEATMAP_COLUMNS, "cells")
    if not (datasets and optimizers and losses and activations):
        raise ValueError("a heatmap needs at least one dataset, optimizer, loss and activation")
    values = {
        (row.dataset, row.optimizer, row.loss, row.activation): (row.final_test_nrmse_median, bool(flag_of(row.reach_flag)))
        for row in cells[HEATMAP_COLUMNS].itertuples(index=False)
    }
    excluded = set(map(tuple, excluded))
    norm = heatmap_norm([value for value, _ in values.values()])
    colormap = matplotlib.colormaps["viridis_r"]
    columns, rows = len(optimizers), len(datasets)
    panel_width = min(2.3, (FIGURE_WIDTH - 0.9) / columns)
    panel_height = 0.17 * len(losses) + 0.32
    with matplotlib.rc_context({**STYLE, "axes.titlesize": 7, "xtick.labelsize": 6, "ytick.labelsize": 6}):
        fig = Figure(
            figsize=(min(FIGURE_WIDTH, 1.0 + panel_width * columns), panel_height * rows + 0.95 + 0.25 * bool(title)),
            layout="constrained",
        )
        axes = fig.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
        for (i, dataset), (j, optimizer) in ((a, b) for a in enumerate(datasets) for b in enumerate(optimizers)):
            ax = axes[i, j]
            grid = np.full((len(losses), len(activations)), np.nan)
            for r, loss in enumerate(losses):
                for c, activation in enumerate(activations):
                    key = (dataset, optimizer, loss, activation)
                    if key in values:
                        value, flagged = values[key]
                        grid[r, c] = value if np.isfinite(value) and value > 0 else np.nan
                        text = number_text(value) + ("\u2020" if flagged else "")
                        shade = colormap(norm(value)) if np.isfinite(value) and value > 0 else (0.85, 0.85, 0.85, 1)
                        if not (np.isfinite(value) and value > 0):
                            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=shade, edgecolor="none"))
                        luminance = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2]
                        ax.text(c, r, text, ha="center", va="center", fontsize=5 if len(text) > 7 else 5.5,
                                color="white" if luminance < 0.5 else "black")
                    elif key in excluded:
                        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor="white", edgecolor="0.6",
                                               hatch="/////", linewidth=0))
            mesh = ax.pcolormesh(
                np.arange(len(activations) + 1) - 0.5, np.arange(len(losses) + 1) - 0.5,
                np.ma.masked_invalid(grid), cmap=colormap, norm=norm, edgecolors="white", linewidth=0.5,
            )
            ax.set_xlim(-0.5, len(activations) - 0.5)
            ax.set_ylim(len(losses) - 0.5, -0.5)
            ax.set_xticks(range(len(activations)), activations, rotation=30, ha="right")
            ax.set_yticks(range(len(losses)), losses)
            ax.tick_params(length=0, pad=1.5)
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.set_title(f"{dataset} · {optimizer}", pad=2)
        colorbar = fig.colorbar(mesh, ax=axes, location="bottom", shrink=0.5, aspect=40, pad=0.01)
        colorbar.set_label("median test nRMSE over seeds (log scale; 1 = noise floor)")
        if title:
            fig.suptitle(title, fontsize=8)
    return fig, axes.ravel()


# ---------------------------------------------------------------------------------------------
# Gradient diagnostics
# ---------------------------------------------------------------------------------------------


def plot_gradient_curves(
    curves: pd.DataFrame, panels: Sequence[tuple[str, str]], cells: Sequence[tuple[str, str]] = ARTICLE_CELLS
) -> tuple[Figure, np.ndarray]:
    """Output-layer gradient norm vs epoch (metric ``grad_norm_output``), log y, one panel per
    ``(experiment, optimizer)`` of ``panels``, one line and 95% CI band per ``(loss, activation)`` of
    ``cells``; as many panels a row as the experiment with the most of them has.

    Args:
        curves: curves-table rows of one dataset, model and target preprocessing.
    Returns:
        ``(fig, axes)``, ``axes`` of shape ``(len(panels),)``.
    """
    rows = check_curves(curves, "grad_norm_output")
    keys = [tuple(cell) for cell in cells]
    colormap = matplotlib.colormaps["tab10"]
    columns = max(sum(e == experiment for e, _ in panels) for experiment, _ in panels) if panels else 1
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(len(panels), legend_rows(keys), columns=columns, panel_height=2.2)
        for ax, (experiment, optimizer) in zip(axes, panels):
            panel = rows[(rows["experiment"] == experiment) & (rows["optimizer"] == optimizer)]
            panel = panel[[tuple(key) in keys for key in panel[["loss", "activation"]].itertuples(index=False)]]
            draw_lines(ax, panel, keys, ["loss", "activation"], colormap)
            ax.set_yscale(y_scale(panel[["mean", "ci_low", "ci_high"]].to_numpy()) if not panel.empty else "linear")
            ax.set_title(f"{experiment} · {optimizer}")
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("output-layer gradient norm")
        add_legend(fig, axes, keys, ["loss", "activation"])
    return fig, axes


SCALE_METRICS = {
    "first_epoch_grad_norm": "gradient norm, first epoch",
    "first_epoch_update_norm": "update norm, first epoch",
}


def slope_label(slopes: pd.DataFrame, metric: str, optimizer: str, loss: str) -> str:
    """``"1.002 [0.98, 1.01]"``: the slope and its 95% CI from the slopes table's row of ``metric``,
    ``optimizer`` and ``loss`` (``""`` when it has none)."""
    if slopes is None or slopes.empty:
        return ""
    row = slopes[(slopes["metric"] == metric) & (slopes["optimizer"] == optimizer) & (slopes["loss"] == loss)]
    if row.empty:
        return ""
    row = row.iloc[0]
    return f"{number_text(row['slope'])} [{number_text(row['slope_ci_low'])}, {number_text(row['slope_ci_high'])}]"


def plot_scale_diagnostics(
    cells: pd.DataFrame, slopes: pd.DataFrame, scales: Mapping[str, float], optimizers: Sequence[str], losses: Sequence[str]
) -> tuple[Figure, np.ndarray]:
    """First-epoch gradient norm (top row) and update norm (bottom row) against the target scale,
    log-log, one panel per optimizer, one line per loss, each with its log-log slope and 95% CI in
    the legend below the panel, and a grey reference line of slope 1 (proportional to the scale).

    Args:
        cells: cells-table rows of one experiment, model, target preprocessing and activation, with
            ``{metric}_mean`` of each of :data:`SCALE_METRICS`.
        slopes: the rows of the slopes table (``results/analysis/scale_slopes.csv``) of the same
            experiment, targets, model and activation.
        scales: dataset label -> target scale, of the datasets drawn.
    Returns:
        ``(fig, axes)``, ``axes`` of shape ``(2 * len(optimizers),)``, row-major.
    """
    check_columns(cells, ["dataset", "optimizer", "loss", *(f"{m}_mean" for m in SCALE_METRICS)], "cells")
    colormap = matplotlib.colormaps["tab10"]
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
    return fig, axes


def plot_nrmse_vs_scale(
    cells: pd.DataFrame,
    scales: Mapping[str, float],
    targets: Sequence[str],
    optimizers: Sequence[str],
    losses: Sequence[str],
    activations: Sequence[str],
) -> tuple[Figure, np.ndarray]:
    """Median final test nRMSE against the target scale (log-log), one panel per (target
    preprocessing, optimizer), one line per (loss, activation): colour by loss, marker and dash by
    activation; the noise floor nRMSE = 1 drawn.

    Args:
        cells: cells-table rows of one experiment and model, with ``final_test_nrmse_median``.
        scales: dataset label -> target scale, of the datasets drawn.
    Returns:
        ``(fig, axes)``, ``axes`` of shape ``(len(targets) * len(optimizers),)``, targets-major.
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
                    ax.plot(x[order], line["final_test_nrmse_median"].to_numpy()[order], markersize=2.5, linewidth=0.9,
                            label=" / ".join(key), **styles[key])
                ax.axhline(1.0, zorder=3, **FLOOR_STYLES["raw"])
                ax.set_xscale("log")
                ax.set_yscale(log_y)
                ax.grid(True, linewidth=0.3, alpha=0.5)
                ax.set_title(f"{target} targets · {optimizer}")
                ax.set_xlabel("target scale")
                if column == 0:
                    ax.set_ylabel("median test nRMSE")
        add_legend(fig, axes, keys, ["loss", "activation"], [(Line2D([], [], **FLOOR_STYLES["raw"]), "noise floor (nRMSE = 1)")])
    return fig, axes


# ---------------------------------------------------------------------------------------------
# The article's examples over seeds
# ---------------------------------------------------------------------------------------------


def log_ticks(ax) -> None:
    """On a log x axis, labelled ticks at 1, 2 and 5 times the powers of ten, and no minor labels."""
    if ax.get_xscale() == "log":
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
        ax.xaxis.set_minor_formatter(NullFormatter())


def strip(ax, values: np.ndarray, position: float, color, seed: int = 0) -> np.ndarray:
    """Draws ``values`` as a horizontal strip of points at height ``position`` (a fixed jitter);
    returns the points' heights."""
    jitter = np.random.default_rng(seed).uniform(-0.18, 0.18, size=len(values))
    ax.scatter(values, position + jitter, s=9, color=color, alpha=0.75, linewidths=0, zorder=3)
    if len(values):
        low, median, high = np.quantile(values, [0.025, 0.5, 0.975])
        ax.plot([low, high], [position - 0.3, position - 0.3], color="0.3", linewidth=1.0)
        ax.plot([median], [position - 0.3], marker="|", markersize=7, color="0.1")
    return position + jitter


def plot_article_seeds(runs: pd.DataFrame, summary: pd.DataFrame) -> tuple[Figure, np.ndarray]:
    """The article's examples run over seeds: one panel per example with the final training loss of
    every seed (points; below them the median and 2.5-97.5% range) and the article's printed value
    (a red line, labelled); a last panel with the test MSE of examples 2 and 3 (the same metric for
    both), seeds paired by grey lines. Log x where the values span more than a factor of 10.

    Args:
        runs: ``results/analysis/article_runs.csv`` (``example, seed, final_loss, test_mse``).
        summary: ``results/analysis/article_summary.csv`` (``example, printed_loss``).
    Returns:
        ``(fig, axes)``, ``axes`` of shape ``(n_examples + 1,)``.
    """
    check_columns(runs, ["example", "seed", "final_loss", "test_mse"], "article runs")
    check_columns(summary, ["example", "printed_loss"], "article summary")
    examples = list(summary["example"])
    printed = dict(zip(summary["example"], summary["printed_loss"]))
    colormap = matplotlib.colormaps["tab10"]
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(len(examples) + 1, 0, columns=2, panel_height=1.55)
        for index, (ax, example) in enumerate(zip(axes, examples)):
            values = runs.loc[runs["example"] == example, "final_loss"].to_numpy(dtype=np.float64)
            strip(ax, values, 0.0, colormap(index), seed=index)
            ax.axvline(printed[example], color="#c0392b", linewidth=1.2, zorder=4)
            ax.text(printed[example], 0.42, f" printed {number_text(printed[example])}", color="#c0392b",
                    fontsize=6.5, va="bottom", ha="left", clip_on=False)
            ax.set_xscale(y_scale(np.append(values, printed[example])))
            log_ticks(ax)
            ax.set_ylim(-0.55, 0.75)
            ax.set_yticks([])
            ax.spines["left"].set_visible(False)
            ax.set_xlabel("final training loss (last epoch)")
            ax.set_title(f"{example}: {len(values)} seeds")
        ax = axes[-1]
        pair = [example for example in ("example 2", "example 3") if example in examples]
        wide = runs[runs["example"].isin(pair)].pivot(index="seed", columns="example", values="test_mse")
        heights = [
            strip(ax, wide[example].to_numpy(dtype=np.float64), float(position), colormap(examples.index(example)), seed=10 + position)
            for position, example in enumerate(pair)
        ]
        for seed in range(len(wide)):  # a seed's two values, joined
            ax.plot(wide[pair].to_numpy(dtype=np.float64)[seed], [height[seed] for height in heights], color="0.8",
                    linewidth=0.5, zorder=1)
        ax.set_yticks(range(len(pair)), pair)
        ax.set_ylim(-0.6, len(pair) - 0.4)
        ax.set_xscale(y_scale(wide.to_numpy()))
        log_ticks(ax)
        ax.set_xlabel("test MSE (target units)")
        ax.set_title("examples 2 and 3 on the same metric")
    return fig, axes


# ---------------------------------------------------------------------------------------------
# Which figures a study gets
# ---------------------------------------------------------------------------------------------


def curve_experiments(study, dataset: str) -> list[str]:
    """The experiments whose curves of ``dataset`` get figures, in config order: those with at most
    :data:`CURVE_CELL_LIMIT` cells on it."""
    counts = {}
    for cell in study.cells:
        if cell.dataset == dataset:
            counts[cell.experiment] = counts.get(cell.experiment, 0) + 1
    return [e for e in study.experiments if 0 < counts.get(e, 0) <= CURVE_CELL_LIMIT]


def overview_experiment(study) -> str:
    """The experiment with the most datasets (the first in config order on a tie): the heatmaps' one."""
    return max(study.experiments, key=lambda label: (len(study.experiments[label].datasets), -list(study.experiments).index(label)))


def article_model(study) -> str | None:
    """The first model that is the article's single Dense(1) layer, or None."""
    return next((label for label, model in study.models.items() if not model.hidden_units), None)


def _has(study, **coordinates) -> bool:
    return any(all(getattr(cell, k) == v for k, v in coordinates.items()) for cell in study.cells)


def gradient_plan(study) -> dict | None:
    """The panels of the gradient-norm-vs-epoch figure: the article's cells on the first dataset of
    the article's small-target family, raw targets, the article's model; per optimizer of the
    overview experiment and of the experiment with the most epochs that has one of those cells.
    None when no experiment has them."""
    model = article_model(study)
    dataset = next((label for label, spec in study.datasets.items() if spec.family == ARTICLE_FAMILY), None)
    if model is None or dataset is None:
        return None
    def panels(experiment):
        spec = study.experiments[experiment]
        return [
            (experiment, optimizer) for optimizer in spec.optimizers
            if any(_has(study, experiment=experiment, dataset=dataset, targets="raw", model=model, optimizer=optimizer,
                        loss=loss, activation=activation) for loss, activation in ARTICLE_CELLS)
        ]
    main = overview_experiment(study)
    longest = max(study.experiments, key=lambda label: (study.experiments[label].epochs, -list(study.experiments).index(label)))
    chosen = [main] if longest == main else [main, longest]
    result = [panel for experiment in chosen for panel in panels(experiment)]
    if not result:
        return None
    return {"dataset": dataset, "model": model, "targets": "raw", "panels": result}


def scale_plan(study) -> dict | None:
    """The datasets, experiment and model of the figures against the target scale: the experiment
    with the most datasets of the target-scale family (at least two), the article's model. None
    when no experiment has two target scales."""
    model = article_model(study)
    scaled = {label: spec.scale for label, spec in study.datasets.items() if spec.family == SCALE_FAMILY}
    best = None
    for label, experiment in study.experiments.items():
        datasets = [d for d in experiment.datasets if d in scaled and _has(study, experiment=label, dataset=d, model=model)]
        if len(datasets) >= 2 and (best is None or len(datasets) > len(best[1])):
            best = (label, datasets)
    if model is None or best is None:
        return None
    label, datasets = best
    experiment = study.experiments[label]
    return {
        "experiment": label,
        "model": model,
        "scales": {d: scaled[d] for d in datasets},
        "targets": list(experiment.targets),
        "optimizers": list(experiment.optimizers),
        "losses": list(experiment.losses),
        "activations": list(experiment.activations),
    }


def study_figures(study) -> dict[str, dict]:
    """The study-wide figures, in report order: name -> ``{"kind", ...}`` with what each shows.

    Kinds: ``article_seeds`` (always), ``gradient_curves`` (:func:`gradient_plan`),
    ``scale_diagnostics`` (raw targets, linear output) and ``nrmse_vs_scale`` (:func:`scale_plan`),
    ``nrmse_heatmap`` (one per model and target preprocessing of :func:`overview_experiment`).
    """
    figures = {"article_seeds": {"kind": "article_seeds"}}
    gradients = gradient_plan(study)
    if gradients:
        figures["gradient_curves"] = {"kind": "gradient_curves", **gradients}
    scales = scale_plan(study)
    if scales:
        if "raw" in scales["targets"] and "linear" in scales["activations"]:
            figures["scale_diagnostics"] = {"kind": "scale_diagnostics", **scales, "targets": "raw", "activation": "linear"}
        figures["nrmse_vs_scale"] = {"kind": "nrmse_vs_scale", **scales}
    experiment = overview_experiment(study)
    spec = study.experiments[experiment]
    for model in spec.models:
        for targets in spec.targets:
            if _has(study, experiment=experiment, model=model, targets=targets):
                figures[f"nrmse_heatmap_{experiment}_{model}_{targets}"] = {
                    "kind": "nrmse_heatmap", "experiment": experiment, "model": model, "targets": targets,
                }
    return figures


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def round_path_data(svg: str, decimals: int = 2) -> str:
    """``svg`` with the coordinates of every path (``d`` attributes) rounded to ``decimals`` places:
    a hundredth of a point is finer than any display, and the file gets much smaller."""
    number = re.compile(r"-?\d+\.\d{%d,}" % (decimals + 1))

    def shorten(match: re.Match) -> str:
        text = f"{float(match.group(0)):.{decimals}f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text

    return re.sub(r'(\sd=")([^"]*)(")', lambda m: m.group(1) + number.sub(shorten, m.group(2)) + m.group(3), svg)


def save_svg(fig: Figure, path: str | os.PathLike) -> None:
    """Writes ``fig`` to ``path`` as SVG, atomically, with the same bytes for the same figure.

    Element ids are hashed with a fixed salt, the SVG carries no date or other metadata, and path
    coordinates are rounded to a hundredth of a point (:func:`round_path_data`).
    """
    buffer = io.StringIO()
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": "lossatlas"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Format": None, "Type": None, "Creator": None})
    with atomic_path(path) as tmp:
        tmp.write_text(round_path_data(buffer.getvalue()), encoding="utf-8")


def write_figures(
    curves_path: str | os.PathLike,
    dataset: str,
    experiment: str,
    loss_curves: str | os.PathLike,
    test_rmse: str | os.PathLike,
    floors_path: str | os.PathLike | None = None,
    data_path: str | os.PathLike | None = None,
    noise_sd: float | None = None,
    n_seeds: int | None = None,
) -> None:
    """Reads the curves table and writes the loss-curve and test-RMSE figures of ``dataset`` in
    ``experiment`` as SVG. With ``data_path`` (the dataset's ``.npz``), ``noise_sd`` and ``n_seeds``
    (the replicates the experiment trains), each loss's floor (:func:`loss_floors`) is drawn, and the
    floors drawn are written to ``floors_path`` as JSON: ``{"noise_sd", "floors": {targets: {loss: value}}}``."""
    import json

    from lossatlas.atomic import write_text

    curves = pd.read_parquet(curves_path)
    curves = curves[(curves["dataset"] == dataset) & (curves["experiment"] == experiment)]
    if curves.empty:
        raise ValueError(f"{curves_path} has no curves for dataset {dataset!r} in experiment {experiment!r}")
    floors = {}
    if data_path is not None and noise_sd is not None:
        with np.load(data_path, allow_pickle=False) as archive:
            y_train = archive["y_train"][:n_seeds]
        present = set(map(tuple, curves[["loss", "targets"]].drop_duplicates().itertuples(index=False)))
        for targets in sorted(set(curves["targets"])):
            for loss, value in loss_floors(y_train, noise_sd, targets).items():
                if (loss, targets) in present:
                    floors[(loss, targets)] = value
    fig, _ = plot_loss_curves(curves, floors)
    save_svg(fig, loss_curves)
    fig, _ = plot_test_rmse(curves, noise_sd)
    save_svg(fig, test_rmse)
    if floors_path is not None:
        table: dict[str, dict[str, float]] = {}
        for (loss, targets), value in sorted(floors.items()):
            table.setdefault(targets, {})[loss] = float(value)
        write_text(floors_path, json.dumps({"noise_sd": noise_sd, "floors": table}, indent=1, sort_keys=True) + "\n")


def matches(frame: pd.DataFrame, spec: Mapping, columns: Sequence[str]) -> pd.Series:
    """The rows of ``frame`` whose ``columns`` equal the values ``spec`` gives them."""
    mask = pd.Series(True, index=frame.index)
    for column in columns:
        mask &= frame[column] == spec[column]
    return mask


def write_study_figures(
    study,
    outputs: Mapping[str, str | os.PathLike],
    cells_path: str | os.PathLike,
    curves_path: str | os.PathLike,
    slopes_path: str | os.PathLike,
    runs_path: str | os.PathLike,
    summary_path: str | os.PathLike,
) -> None:
    """Makes every figure of :func:`study_figures` and writes it to ``outputs[name]``."""
    from lossatlas.report import read_cells  # coordinates as text

    plan = study_figures(study)
    if set(outputs) != set(plan):
        raise ValueError(f"outputs {sorted(outputs)} do not match the study's figures {sorted(plan)}")
    cells = read_cells(cells_path)
    slopes = pd.read_csv(slopes_path, dtype={c: str for c in CELL if c != "dataset"})
    curves = None
    for name, spec in plan.items():
        kind = spec["kind"]
        if kind == "article_seeds":
            fig, _ = plot_article_seeds(pd.read_csv(runs_path), pd.read_csv(summary_path))
        elif kind == "nrmse_heatmap":
            experiment = study.experiments[spec["experiment"]]
            subset = cells[matches(cells, spec, ("experiment", "model", "targets"))]
            excluded = [
                (item.cell.dataset, item.cell.optimizer, item.cell.loss, item.cell.activation)
                for item in study.excluded
                if (item.cell.experiment, item.cell.model, item.cell.targets)
                == (spec["experiment"], spec["model"], spec["targets"])
            ]
            fig, _ = plot_nrmse_heatmap(
                subset, list(experiment.datasets), list(experiment.optimizers), list(experiment.losses),
                list(experiment.activations), excluded,
                title=f"experiment {spec['experiment']} · model {spec['model']} · {spec['targets']} targets",
            )
        elif kind == "gradient_curves":
            if curves is None:
                curves = pd.read_parquet(curves_path)
            subset = curves[matches(curves, spec, ("dataset", "model", "targets"))]
            fig, _ = plot_gradient_curves(subset, spec["panels"])
        elif kind == "scale_diagnostics":
            columns = ("experiment", "model", "targets", "activation")
            chosen = slopes[matches(slopes, spec, columns)]
            fig, _ = plot_scale_diagnostics(
                cells[matches(cells, spec, columns)], chosen, spec["scales"], spec["optimizers"], spec["losses"]
            )
        elif kind == "nrmse_vs_scale":
            subset = cells[matches(cells, spec, ("experiment", "model"))]
            fig, _ = plot_nrmse_vs_scale(
                subset, spec["scales"], spec["targets"], spec["optimizers"], spec["losses"], spec["activations"]
            )
        else:  # pragma: no cover - study_figures makes no other kind
            raise ValueError(f"unknown figure kind {kind!r}")
        save_svg(fig, outputs[name])
