"""Time to target and learning rates: the median test nRMSE of the cells the time-judged claims
compare against optimizer steps, over the whole horizon; and the final test nRMSE against the
learning rate for the cells of tuned experiments.

:func:`time_lines` turns the evaluations (``evals.parquet`` of the training jobs of
:func:`lossatlas.design.plan.time_jobs`) and the cells table into the lines of :func:`plot_time_to_target`;
one figure per group of claims that compare the same cells (:func:`lossatlas.design.plan.time_groups`),
whose cells :func:`lossatlas.design.plan.claim_view` picks per context and rate view.
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lossatlas.core.results import BASE, CELL
from lossatlas.core.textfmt import format_number, loss_name
from lossatlas.design import plan
from lossatlas.design.selection import RATE_FACTOR, select_rows
from lossatlas.figures.style import (
    BUDGET_STYLE,
    FLOOR_STYLES,
    MARKERS,
    STYLE,
    THRESHOLD_STYLE,
    check_columns,
    log_ticks,
    new_figure,
    y_scale,
)

#: The columns of :func:`time_lines`.
LINE_COLUMNS = ["panel", "rate", "level", "learning_rate", "experiment", "dataset", "step", "nrmse", "status",
                "reach_steps", "budget_steps"]
#: The columns of the cells table the time and rate figures read.
CELL_COLUMNS = [*CELL, "final_test_nrmse_median", "steps_to_threshold_median"]
#: The status of a cell that was not trained past the budget (``horizon_status`` empty).
NOT_PAST_BUDGET = "not trained past the budget"
#: The marker at the end of a line, by the cell's status past the budget (none: not trained past it).
STATUS_MARKERS = {
    "reached": {"marker": "o"},
    "stalled": {"marker": "s"},
    "diverged": {"marker": "X"},
    "undecided": {"marker": "o", "markerfacecolor": "white"},
}
#: The dash of a line by the rate view it is drawn at.
RATE_STYLES = {"default": "-", "tuned": "--"}
#: A time-to-target figure has this many panels (contexts) a row at most.
TIME_COLUMNS = 4
#: The columns of the data of :func:`plot_lr_sensitivity`: a row per point drawn.
SENSITIVITY_COLUMNS = ["panel", *plan.SENSITIVITY_CONTEXT, "loss", "activation", "learning_rate", "final_test_nrmse_median",
                       "tuned", "edge", "default_rate", "threshold"]


def median_curve(evals: pd.DataFrame, noise_sd: float) -> pd.DataFrame:
    """Per optimizer step of one cell's evaluations (``evals``: its rows, every seed): the median over
    the seeds with a finite value of the test nRMSE (``test_rmse / noise_sd``); step 0 (the initial
    weights) left out, for a log axis. Columns ``step``, ``nrmse``."""
    values = evals.assign(nrmse=evals["test_rmse"].astype(float) / noise_sd)
    values = values[np.isfinite(values["nrmse"]) & (values["step"] > 0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        curve = values.groupby("step", sort=True)["nrmse"].median()
    return curve.reset_index()


def _status(row) -> str:
    status = row.get("horizon_status")
    return status if isinstance(status, str) and status else NOT_PAST_BUDGET


def time_lines(evals: pd.DataFrame, cells: pd.DataFrame, study, group: Mapping, tuned: pd.DataFrame | None) -> pd.DataFrame:
    """The lines of one time-to-target figure: for each comparison of ``group`` (one of
    :func:`lossatlas.design.plan.time_groups`; :func:`lossatlas.design.plan.comparisons`: a context, its ``panel``,
    and a rate view; ``tuned``: ``tuned_rates.csv``), every cell it compares (its ``level`` of the
    contrast) and evaluation step: the median test nRMSE (:func:`median_curve`), the cell's ``status``
    past the budget (``horizon_status`` of the cells table, or :data:`NOT_PAST_BUDGET`),
    ``reach_steps`` (its Kaplan-Meier median steps to the threshold, ``steps_to_threshold_median``)
    and ``budget_steps``.

    Args:
        evals: the evaluations of the training jobs (``step``, ``seed``, ``test_rmse`` and the
            cell's coordinates; labels as text, the rate as a number).
        cells: the cells table.
    Returns:
        columns :data:`LINE_COLUMNS`, one row per comparison, cell and step.
    """
    check_columns(cells, CELL_COLUMNS, "cells")
    check_columns(evals, [*CELL, "seed", "step", "test_rmse"], "evals")
    grouped = {key: part for key, part in evals.groupby(BASE, sort=False)}
    parts = []
    for comparison in plan.comparisons(group):
        chosen = plan.claim_view(cells, comparison, study, tuned)
        for level in group["levels"]:
            for _, row in chosen[chosen["level"] == level].iterrows():
                part = grouped.get(tuple(str(row[c]) for c in BASE), evals.iloc[0:0])
                part = part[np.isclose(part["learning_rate"].astype(float), float(row["learning_rate"]), rtol=1e-9)]
                noise_sd = study.datasets[row["dataset"]].noise_sd
                if part.empty or noise_sd is None:
                    continue
                parts.append(median_curve(part, noise_sd).assign(
                    panel=comparison["panel"], rate=comparison["rate"], level=level,
                    learning_rate=float(row["learning_rate"]), experiment=row["experiment"], dataset=row["dataset"],
                    status=_status(row), reach_steps=float(row["steps_to_threshold_median"]),
                    budget_steps=plan.budget_steps(study, row["experiment"], row["dataset"]),
                ))
    if not parts:
        return pd.DataFrame(columns=LINE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[LINE_COLUMNS]


def level_text(contrast: str, level: str) -> str:
    """A contrast's level as a legend or title names it: a loss by its short name, a rate factor as
    ``"×10 default rate"``."""
    if contrast == "loss":
        return loss_name(level)
    if contrast == RATE_FACTOR:
        return f"×{level} default rate"
    return level


def context_title(context: Mapping) -> str:
    """``"seed_small · adam"``: a panel's context (its values), ``"all"`` without one."""
    return " · ".join(str(value) for value in context.values()) or "all"


def group_title(group: Mapping) -> str:
    """``"S2, S4: BCE vs MSE"``: the claims of a figure and the pairs they compare."""
    pairs = "; ".join(f"{level_text(group['contrast'], a)} vs {level_text(group['contrast'], b)}" for a, b in group["pairs"])
    return f"{', '.join(group['claims'])}: {pairs}"


def log_x_axis(ax, threshold: float, xlabel: str, ylabel: str) -> None:
    """A panel's log x axis with its grid and labels (the y label on the first column only) and the
    target's line at ``threshold``."""
    ax.axhline(threshold, zorder=2, **THRESHOLD_STYLE)
    ax.set_xscale("log")
    log_ticks(ax)
    ax.grid(True, which="major", linewidth=0.3, alpha=0.5)
    ax.set_xlabel(xlabel)
    if ax.get_subplotspec().is_first_col():
        ax.set_ylabel(ylabel)


def plot_time_to_target(lines: pd.DataFrame, group: Mapping, threshold: float) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """Median test nRMSE against optimizer steps (log-log), over the whole horizon, for the cells a
    group of time-judged claims compares (``group``: one of :func:`lossatlas.design.plan.time_groups`): one
    panel per context, one colour per level of the contrast, solid at each optimizer's default rate
    and dashed at each cell's tuned rate; a marker at the end of a line gives the cell's status past
    the budget (reached, stalled, diverged, undecided at the cap; none where it was not trained past
    the budget). Dashed red: the nRMSE threshold; dotted: the noise floor (nRMSE 1); vertical: the
    fixed budget. One legend below the panels.

    Args:
        lines: :func:`time_lines` of the group.
        threshold: the config's ``metrics.nrmse_threshold``.
    Returns:
        ``(fig, axes, data)``, ``axes`` of shape ``(len(group["contexts"]),)``; ``data``: the rows of
        ``lines`` drawn (a row per point), each with its panel's ``context`` (title) and the
        ``threshold``.
    """
    check_columns(lines, LINE_COLUMNS, "time lines")
    colormap = matplotlib.colormaps["tab10"]
    colors = {level: colormap(index % 10) for index, level in enumerate(group["levels"])}
    panels = max(len(group["contexts"]), 1)
    entries = len(group["levels"]) * len(group["rates"]) + len(STATUS_MARKERS) + 3
    with matplotlib.rc_context({**STYLE, "axes.titlesize": 7.5, "legend.fontsize": 6.5}):
        fig, axes = new_figure(panels, math.ceil(entries / 3) + 2, share_y=True, columns=min(TIME_COLUMNS, panels),
                               panel_height=1.9 if panels > 2 else 2.4)
        values = [np.array([threshold, 1.0]), lines["nrmse"].to_numpy(np.float64)]
        for index, ax in enumerate(axes):
            drawn = lines[lines["panel"] == index]
            for (rate, level), line in drawn.groupby(["rate", "level"], sort=False):
                line = line.sort_values("step")
                ax.plot(line["step"], line["nrmse"], color=colors[level], linestyle=RATE_STYLES.get(rate, ":"), linewidth=1.1)
                marker = STATUS_MARKERS.get(line["status"].iloc[0])
                if marker:
                    ax.plot(line["step"].iloc[-1:], line["nrmse"].iloc[-1:], linestyle="none", markersize=4.5, zorder=4,
                            color=colors[level], **{"markeredgecolor": colors[level], **marker})
            for budget in sorted(set(drawn["budget_steps"])):
                ax.axvline(float(budget), zorder=1, **BUDGET_STYLE)
            ax.axhline(1.0, zorder=2, **FLOOR_STYLES["raw"])
            log_x_axis(ax, threshold, "optimizer steps", "median test nRMSE")
            ax.set_title(context_title(group["contexts"][index]) if group["contexts"] else "all")
            if drawn.empty:
                ax.text(0.5, 0.5, "no evaluations", transform=ax.transAxes, ha="center", va="center", color="0.4")
        axes[0].set_yscale(y_scale(np.concatenate(values)))
        handles, labels = [], []
        for level in group["levels"]:
            for rate in group["rates"]:
                handles.append(Line2D([], [], color=colors[level], linestyle=RATE_STYLES[rate], linewidth=1.1))
                labels.append(f"{level_text(group['contrast'], level)}, {rate} rate")
        for status, marker in STATUS_MARKERS.items():
            handles.append(Line2D([], [], linestyle="none", color="0.3", markeredgecolor="0.3", markersize=4.5, **marker))
            labels.append(f"{status}" + (" at the cap" if status == "undecided" else ""))
        handles += [Line2D([], [], **THRESHOLD_STYLE), Line2D([], [], **FLOOR_STYLES["raw"]), Line2D([], [], **BUDGET_STYLE)]
        labels += [f"threshold, nRMSE {format_number(threshold)}", "noise floor, nRMSE 1", "fixed budget"]
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
        fig.suptitle(group_title(group), fontsize=8)
    titles = [context_title(context) for context in group["contexts"]] or ["all"]
    data = lines[lines["panel"].isin(range(len(axes)))].sort_values(["panel", "rate", "level", "step"], kind="stable")
    data.insert(1, "context", [titles[int(panel)] for panel in data["panel"]])
    return fig, axes, data.assign(threshold=float(threshold)).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Learning-rate sensitivity
# --------------------------------------------------------------------------------------------


def sensitivity_title(panel: Mapping, shown: Sequence[str]) -> str:
    return " · ".join(str(panel[column]) for column in shown)


def plot_lr_sensitivity(cells: pd.DataFrame, tuned: pd.DataFrame, panels: Sequence[dict], default_rates: Mapping[str, float],
                        threshold: float) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """Median final test nRMSE at the budget against the learning rate (log x), one panel per
    context of ``panels`` (:func:`lossatlas.design.plan.sensitivity_panels`, those of one tuned
    experiment), one line per (loss, output activation): every rate trained, the sweep's and those
    it was extended by. A star marks each line's tuned rate (``tuned_rates.csv``, chosen on the
    validation split), hollow when it stayed at an edge of the rates trained; a vertical dotted line
    the optimizer's default rate; a dashed red line the nRMSE threshold. One legend below the panels.

    Args:
        cells: the cells table (``final_test_nrmse_median``).
        tuned: ``tuned_rates.csv`` (``tuned_learning_rate``, ``edge``).
        default_rates: optimizer -> its default rate (:func:`lossatlas.design.views.default_rates`).
    Returns:
        ``(fig, axes, data)``, ``axes`` of shape ``(len(panels),)``; ``data``: a row per point drawn,
        :data:`SENSITIVITY_COLUMNS` (``tuned``: whether the star marks it, ``edge``: the edge where it
        stayed; ``default_rate``: the panel's optimizer's).
    """
    check_columns(cells, CELL_COLUMNS, "cells")
    check_columns(tuned, [*BASE, "tuned_learning_rate", "edge"], "tuned rates")
    shown = [c for c in plan.SENSITIVITY_CONTEXT if len({str(p[c]) for p in panels}) > 1] or ["dataset", "optimizer"]
    keys = list(dict.fromkeys(line for panel in panels for line in panel["lines"]))
    colormap = matplotlib.colormaps["tab10" if len(keys) <= 10 else "tab20"]
    styles = {key: {"color": colormap(number % colormap.N), "marker": MARKERS[number % len(MARKERS)]} for number, key in enumerate(keys)}
    count = max(len(panels), 1)
    rows = []
    with matplotlib.rc_context({**STYLE, "axes.titlesize": 7.5, "legend.fontsize": 6.5}):
        fig, axes = new_figure(count, math.ceil((len(keys) + 4) / 3) + 2, share_y=True, columns=min(TIME_COLUMNS, count),
                               panel_height=1.9 if count > 2 else 2.4)
        values = [np.array([threshold]), cells["final_test_nrmse_median"].to_numpy(np.float64)[:0]]
        for ax, panel in zip(axes, panels):
            context = {c: str(panel[c]) for c in plan.SENSITIVITY_CONTEXT}
            part = select_rows(cells, context)
            marks = select_rows(tuned, context)
            for loss, activation in panel["lines"]:
                style = styles[(loss, activation)]
                line = part[(part["loss"] == loss) & (part["activation"] == activation)].sort_values("learning_rate")
                if line.empty:
                    continue
                x = line["learning_rate"].to_numpy(np.float64)
                y = line["final_test_nrmse_median"].to_numpy(np.float64)
                ax.plot(x, y, linewidth=1.0, markersize=2.5, label=f"{loss_name(loss)} / {activation}", **style)
                mark = marks[(marks["loss"] == loss) & (marks["activation"] == activation)]
                tuned_at, edge_text = np.zeros(len(x), dtype=bool), ""
                if not mark.empty:
                    rate, edge = float(mark["tuned_learning_rate"].iloc[0]), mark["edge"].iloc[0]
                    at = np.isclose(x, rate, rtol=1e-9)
                    if at.any():
                        hollow = isinstance(edge, str) and bool(edge)
                        tuned_at[np.flatnonzero(at)[0]], edge_text = True, edge if hollow else ""
                        ax.plot(x[at][:1], y[at][:1], marker="*", markersize=8, linestyle="none", zorder=4,
                                markerfacecolor="white" if hollow else style["color"], markeredgecolor=style["color"])
                values.append(y)
                rows += [(sensitivity_title(panel, shown), *context.values(), loss, activation, rate_, value, bool(tuned_),
                          edge_text if tuned_ else "", default_rates.get(str(panel["optimizer"]), np.nan), float(threshold))
                         for rate_, value, tuned_ in zip(x, y, tuned_at)]
            rate = default_rates.get(str(panel["optimizer"]))
            if rate is not None:
                ax.axvline(rate, zorder=1, color="0.35", linestyle=":", linewidth=1.0)
            log_x_axis(ax, threshold, "learning rate", "median final test nRMSE")
            ax.set_title(sensitivity_title(panel, shown))
        axes[0].set_yscale(y_scale(np.concatenate(values)))
        handles = [Line2D([], [], linewidth=1.0, markersize=2.5, **styles[key]) for key in keys]
        labels = [f"{loss_name(loss)} / {activation}" for loss, activation in keys]
        handles += [Line2D([], [], marker="*", markersize=8, linestyle="none", color="0.3"),
                    Line2D([], [], marker="*", markersize=8, linestyle="none", markerfacecolor="white", markeredgecolor="0.3"),
                    Line2D([], [], color="0.35", linestyle=":", linewidth=1.0), Line2D([], [], **THRESHOLD_STYLE)]
        labels += ["tuned rate", "tuned rate at an edge of the rates trained", "the optimizer's default rate",
                   f"threshold, nRMSE {format_number(threshold)}"]
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, title="loss / activation")
    return fig, axes, pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
