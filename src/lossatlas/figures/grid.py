"""Heatmaps of the grid: the median test nRMSE of every cell of one experiment, model and targets."""

from __future__ import annotations

from typing import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from lossatlas.core.textfmt import flag_text, format_number
from lossatlas.figures.style import FIGURE_WIDTH, STYLE, check_columns

HEATMAP_COLUMNS = ["dataset", "optimizer", "loss", "activation", "final_test_nrmse_median", "reach_flag"]
#: The columns of a heatmap's data: a row per square drawn.
DATA_COLUMNS = ["dataset", "optimizer", "loss", "activation", "final_test_nrmse_median", "flagged", "excluded"]


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
) -> tuple[Figure, np.ndarray, pd.DataFrame]:
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
        ``(fig, axes, data)``, ``axes`` of shape ``(len(datasets) * len(optimizers),)``, dataset-major;
        ``data`` has a row per square drawn (:data:`DATA_COLUMNS`): its value (the text written in
        it), ``flagged`` (the dagger) and ``excluded`` (hatched, no value).
    """
    check_columns(cells, HEATMAP_COLUMNS, "cells")
    if not (datasets and optimizers and losses and activations):
        raise ValueError("a heatmap needs at least one dataset, optimizer, loss and activation")
    values = {
        (row.dataset, row.optimizer, row.loss, row.activation): (row.final_test_nrmse_median, bool(flag_text(row.reach_flag)))
        for row in cells[HEATMAP_COLUMNS].itertuples(index=False)
    }
    excluded = set(map(tuple, excluded))
    norm = heatmap_norm([value for value, _ in values.values()])
    drawn = []
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
                        text = format_number(value) + ("\u2020" if flagged else "")
                        drawn.append((dataset, optimizer, loss, activation, value, flagged, False))
                        shade = colormap(norm(value)) if np.isfinite(value) and value > 0 else (0.85, 0.85, 0.85, 1)
                        if not (np.isfinite(value) and value > 0):
                            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=shade, edgecolor="none"))
                        luminance = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2]
                        ax.text(c, r, text, ha="center", va="center", fontsize=5 if len(text) > 7 else 5.5,
                                color="white" if luminance < 0.5 else "black")
                    elif key in excluded:
                        drawn.append((dataset, optimizer, loss, activation, np.nan, False, True))
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
            ax.tick_params(length=0, pad=1.5, bottom=False, left=False)  # labels only: no tick marks
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.set_title(f"{dataset} · {optimizer}", pad=2)
        colorbar = fig.colorbar(mesh, ax=axes, location="bottom", shrink=0.5, aspect=40, pad=0.01)
        colorbar.set_label("median test nRMSE over seeds (log scale; 1 = noise floor)")
        if title:
            fig.suptitle(title, fontsize=8)
    return fig, axes.ravel(), pd.DataFrame(drawn, columns=DATA_COLUMNS)
