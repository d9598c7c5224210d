"""The article's examples run over seeds: each seed's final training loss against the value the
article printed, and the test MSE of examples 2 and 3 paired by seed."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lossatlas.core.textfmt import format_number
from lossatlas.figures.style import STYLE, check_columns, log_ticks, new_figure, y_scale

PRINTED_COLOR = "#c0392b"


def strip(ax, values: np.ndarray, position: float, color, seed: int = 0) -> np.ndarray:
    """Draws ``values`` as a horizontal strip of points at height ``position`` (a fixed jitter),
    with the 2.5-97.5% range and the median below them; returns the points' heights."""
    jitter = np.random.default_rng(seed).uniform(-0.18, 0.18, size=len(values))
    ax.scatter(values, position + jitter, s=9, color=color, alpha=0.75, linewidths=0, zorder=3)
    if len(values):
        low, median, high = np.quantile(values, [0.025, 0.5, 0.975])
        ax.plot([low, high], [position - 0.3, position - 0.3], color="0.3", linewidth=1.0)
        ax.plot([median], [position - 0.3], marker="|", markersize=7, color="0.1")
    return position + jitter


def plot_article_seeds(runs: pd.DataFrame, summary: pd.DataFrame) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """The article's examples run over seeds: one panel per example with the final training loss of
    every seed (points; below them the median and 2.5-97.5% range) and the article's printed value
    (a red line, labelled); a last panel with the test MSE of examples 2 and 3 (the same metric for
    both), seeds paired by grey lines. Log x where the values span more than a factor of 10.

    Args:
        runs: ``results/analysis/article_runs.csv`` (``example, seed, final_loss, test_mse``).
        summary: ``results/analysis/article_summary.csv`` (``example, printed_loss``).
    Returns:
        ``(fig, axes, data)``, ``axes`` of shape ``(n_examples + 1,)``; ``data``: a row per example and
        seed drawn, ``example, seed, final_loss, printed_loss`` and ``test_mse`` (empty for an example
        the last panel does not show).
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
            ax.axvline(printed[example], color=PRINTED_COLOR, linewidth=1.2, zorder=4)
            ax.text(printed[example], 0.42, f" printed {format_number(printed[example])}", color=PRINTED_COLOR,
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
    data = runs[runs["example"].isin(examples)][["example", "seed", "final_loss", "test_mse"]].copy()
    data["printed_loss"] = data["example"].map(printed).astype(float)
    data.loc[~data["example"].isin(pair), "test_mse"] = np.nan
    order = {example: index for index, example in enumerate(examples)}
    data = data.sort_values(["example", "seed"], key=lambda c: c.map(order) if c.name == "example" else c, kind="stable")
    return fig, axes, data[["example", "seed", "final_loss", "printed_loss", "test_mse"]].reset_index(drop=True)
