"""Time to target and learning rates: the median test error of the cells the time-judged claims
compare against optimizer steps, over the whole horizon; and the final test error against the
learning rate for the cells of tuned experiments.

The error a time or rate panel draws is the one its cells' target is defined on
(:meth:`lossatlas.design.study.Study.fit_target`): the test nRMSE (test RMSE over the generator's
noise sd) where the noise is known and a linear model can reach it, else the test rRMSE (test RMSE
over the test RMSE of an ordinary least-squares fit on the same seed's split; real data, Friedman #1),
each panel with its own threshold line and y label (:func:`panel_targets`).

:func:`time_lines` turns the evaluations (``evals.parquet`` of the training jobs of
:func:`lossatlas.design.plan.time_jobs`), the cells table and, for rRMSE panels, the datasets'
arrays into the lines of :func:`plot_time_to_target`; one figure per group of claims that compare
the same cells (:func:`lossatlas.design.plan.time_groups`), whose cells
:func:`lossatlas.design.plan.claim_view` picks per context and rate view. :func:`panels_without_data`
names the panels of a figure that draw no finite point (what a test checks).
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.textpath import text_to_path

from lossatlas.core.results import BASE, CELL
from lossatlas.core.textfmt import format_number, loss_name
from lossatlas.design import plan
from lossatlas.design.selection import RATE_FACTOR, select_rows
from lossatlas.figures.style import (
    BUDGET_STYLE,
    FIGURE_WIDTH,
    FLOOR_STYLES,
    FONT,
    MARKERS,
    STYLE,
    THRESHOLD_STYLE,
    check_columns,
    log_ticks,
    new_figure,
    y_scale,
)
from lossatlas.stats.convergence import fit_scale

#: The columns of :func:`time_lines`: ``metric`` is the error drawn (a key of :data:`ERRORS`),
#: ``error`` its median over seeds at ``step``, ``threshold`` the target's on that error.
LINE_COLUMNS = ["panel", "rate", "level", "learning_rate", "experiment", "dataset", "step", "metric", "error", "threshold",
                "status", "reach_steps", "budget_steps"]
#: The columns of the cells table the time and rate figures read.
CELL_COLUMNS = [*CELL, "final_test_nrmse_median", "steps_to_threshold_median"]
#: The errors a time panel can draw (:meth:`lossatlas.design.study.Study.fit_target`), by name: how
#: an axis and the legend name it, and the reference line at error 1 (its label and style).
ERRORS = {
    "nrmse": {"name": "nRMSE", "reference": "noise floor, nRMSE 1", "style": FLOOR_STYLES["raw"]},
    "rrmse": {"name": "rRMSE", "reference": "least-squares fit, rRMSE 1", "style": FLOOR_STYLES["standardized"]},
}
#: The ``gid`` of a panel's reference lines (threshold, noise floor, budget, default rate): what
#: :func:`panels_without_data` does not count as data.
REFERENCE = "reference"
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
#: The font size of a panel title of the time and rate figures (points).
TITLE_SIZE = 7.5
#: A panel title is at most this share of its column of the figure wide (the rest keeps neighbours apart).
TITLE_SHARE = 0.88
#: The columns of the data of :func:`plot_lr_sensitivity`: a row per point drawn.
SENSITIVITY_COLUMNS = ["panel", *plan.SENSITIVITY_CONTEXT, "loss", "activation", "learning_rate", "metric", "error",
                       "tuned", "edge", "default_rate", "threshold", "divergence_rate"]


def error_name(metric: str) -> str:
    """``"nRMSE"`` or ``"rRMSE"``: how a figure names the error ``metric`` (a key of :data:`ERRORS`);
    ValueError for another."""
    if metric not in ERRORS:
        raise ValueError(f"unknown error {metric!r}; known: {', '.join(ERRORS)}")
    return ERRORS[metric]["name"]


def median_curve(evals: pd.DataFrame, scale) -> pd.DataFrame:
    """Per optimizer step of one cell's evaluations (``evals``: its rows, every seed): the median over
    the seeds with a finite value of the test error ``test_rmse / scale``; step 0 (the initial
    weights) left out, for a log axis.

    Args:
        evals: one cell's evaluations, ``(n,)`` rows with ``step`` and ``test_rmse``.
        scale: what each row's test RMSE is divided by: a number (the noise sd: nRMSE) or an array of
            shape ``(n,)``, one per row (each seed's least-squares test RMSE: rRMSE;
            :func:`lossatlas.stats.convergence.fit_scale`); ValueError for another shape or a value
            that is not finite and positive.
    Returns:
        columns ``step``, ``error``: one row per step with a finite value, by step.
    """
    divisor = np.asarray(scale, dtype=np.float64)
    if divisor.ndim > 1 or (divisor.ndim == 1 and divisor.shape != (len(evals),)):
        raise ValueError(f"scale has shape {divisor.shape}; expected a number or ({len(evals)},), one per row")
    if not (np.isfinite(divisor).all() and (divisor > 0).all()):
        raise ValueError("scale must be finite and positive (a noise sd or least-squares RMSE)")
    values = evals.assign(error=evals["test_rmse"].to_numpy(np.float64) / divisor)
    values = values[np.isfinite(values["error"]) & (values["step"] > 0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        curve = values.groupby("step", sort=True)["error"].median()
    return curve.reset_index()


def _status(row) -> str:
    status = row.get("horizon_status")
    return status if isinstance(status, str) and status else NOT_PAST_BUDGET


def panel_targets(study, group: Mapping) -> list[tuple[str, float]]:
    """The target each panel of a time-to-target figure draws: per context of ``group`` (one of
    :func:`lossatlas.design.plan.time_groups`), in panel order, ``(metric, threshold)`` of
    :meth:`lossatlas.design.study.Study.fit_target` of the datasets of the config's cells it selects:
    ``("nrmse", metrics.nrmse_threshold)`` or ``("rrmse", metrics.rrmse_threshold)``.

    Raises:
        ValueError: a panel whose cells have targets on different errors (one axis cannot show both:
            the claims' ``contexts`` should name the dataset), or that selects no cell of the config.
    """
    cells = plan.config_cells(study)
    targets = []
    for context in group["contexts"] or [{}]:
        rows = select_rows(cells, {**group["select"], **context})
        datasets = list(dict.fromkeys(rows["dataset"].astype(str)))
        if not datasets:
            raise ValueError(f"time-to-target panel {context_title(context)!r} selects no cell of the config")
        found = {study.fit_target(label) for label in datasets}
        if len(found) > 1:
            by_error = {error_name(metric): [d for d in datasets if study.fit_target(d)[0] == metric] for metric, _ in found}
            named = "; ".join(f"{name}: {', '.join(labels)}" for name, labels in sorted(by_error.items()))
            raise ValueError(f"time-to-target panel {context_title(context)!r} mixes datasets whose targets are on "
                             f"different errors ({named}); one axis shows one error: add dataset to the claims' contexts")
        metric, threshold = found.pop()
        targets.append((metric, float(threshold)))
    return targets


def rows_by_cell(evals: pd.DataFrame) -> dict[tuple, np.ndarray]:
    """The row positions in ``evals`` of each base cell (:data:`lossatlas.core.results.BASE`, as text): the
    grouping :func:`time_lines` takes the lines' rows from, made once for all the figures of one
    table of evaluations."""
    return evals.groupby(BASE, sort=False).indices


def time_lines(evals: pd.DataFrame, cells: pd.DataFrame, study, group: Mapping, tuned: pd.DataFrame | None,
               datasets: Mapping[str, Mapping[str, np.ndarray]] | None = None,
               rows_of: Mapping[tuple, np.ndarray] | None = None) -> pd.DataFrame:
    """The lines of one time-to-target figure: for each comparison of ``group`` (one of
    :func:`lossatlas.design.plan.time_groups`; :func:`lossatlas.design.plan.comparisons`: a context, its ``panel``,
    and a rate view; ``tuned``: ``tuned_rates.csv``), every cell it compares (its ``level`` of the
    contrast) and evaluation step: the median test error the cell's target is defined on
    (:meth:`lossatlas.design.study.Study.fit_target`: ``metric`` nrmse or rrmse, its ``threshold``;
    :func:`median_curve` of the test RMSE over :func:`lossatlas.stats.convergence.fit_scale`), the
    cell's ``status`` past the budget (``horizon_status`` of the cells table, or
    :data:`NOT_PAST_BUDGET`), ``reach_steps`` (its Kaplan-Meier median steps to the threshold,
    ``steps_to_threshold_median``) and ``budget_steps``.

    Args:
        evals: the evaluations of the training jobs (``step``, ``seed``, ``test_rmse`` and the
            cell's coordinates; labels as text, the rate as a number).
        cells: the cells table.
        datasets: dataset label -> its arrays (``results/datasets/<label>.npz``); those of a dataset
            with an rRMSE target need ``ols_rmse_test`` of shape ``(S,)``, indexed by ``seed``.
            None: no arrays (every cell must then have an nRMSE target).
        rows_of: :func:`rows_by_cell` of ``evals``, where the caller has it (made here when None).
    Returns:
        columns :data:`LINE_COLUMNS`, one row per comparison, cell and step.
    Raises:
        ValueError: a missing column, or a cell with an rRMSE target whose dataset has no
            ``ols_rmse_test`` in ``datasets`` (or none for one of its seeds).
    """
    check_columns(cells, CELL_COLUMNS, "cells")
    check_columns(evals, [*CELL, "seed", "step", "test_rmse"], "evals")
    arrays = datasets or {}
    rows_of = rows_by_cell(evals) if rows_of is None else rows_of  # only the rows of the cells shown are taken
    evals = evals[["learning_rate", "seed", "step", "test_rmse"]]  # what a line needs: taking rows of every column is slow
    parts = []
    for comparison in plan.comparisons(group):
        chosen = plan.claim_view(cells, comparison, study, tuned)
        for level in group["levels"]:
            for _, row in chosen[chosen["level"] == level].iterrows():
                part = evals.iloc[rows_of.get(tuple(str(row[c]) for c in BASE), [])]
                part = part[np.isclose(part["learning_rate"].astype(float), float(row["learning_rate"]), rtol=1e-9)]
                if part.empty:
                    continue
                dataset = str(row["dataset"])
                metric, threshold = study.fit_target(dataset)
                if metric == "rrmse":
                    check_ols(arrays, dataset, part["seed"].to_numpy())
                scale = fit_scale(study, dataset, part, arrays)
                parts.append(median_curve(part, scale).assign(
                    panel=comparison["panel"], rate=comparison["rate"], level=level,
                    learning_rate=float(row["learning_rate"]), experiment=row["experiment"], dataset=dataset,
                    metric=metric, threshold=float(threshold), status=_status(row),
                    reach_steps=float(row["steps_to_threshold_median"]),
                    budget_steps=plan.budget_steps(study, row["experiment"], dataset),
                ))
    if not parts:
        return pd.DataFrame(columns=LINE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[LINE_COLUMNS]


def check_ols(datasets: Mapping[str, Mapping[str, np.ndarray]], dataset: str, seeds: np.ndarray) -> None:
    """ValueError unless ``datasets[dataset]["ols_rmse_test"]`` (shape ``(S,)``) holds a value for
    every seed of ``seeds`` (what an rRMSE curve divides by)."""
    arrays = datasets.get(dataset)
    if arrays is None or "ols_rmse_test" not in arrays:
        raise ValueError(f"dataset {dataset!r} has an rRMSE target: the time-to-target figure needs its arrays "
                         "(ols_rmse_test, results/datasets/<label>.npz); none were given")
    count = len(np.asarray(arrays["ols_rmse_test"]))
    if len(seeds) and (int(np.max(seeds)) >= count or int(np.min(seeds)) < 0):
        raise ValueError(f"dataset {dataset!r}: ols_rmse_test has {count} seeds; the evaluations have seed {int(np.max(seeds))}")


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


def text_width(text: str, size: float = TITLE_SIZE) -> float:
    """The width in points of one line of ``text`` in :data:`lossatlas.figures.style.FONT` at ``size``."""
    width, _, _ = text_to_path.get_text_width_height_descent(text, FontProperties(family=FONT, size=size), ismath=False)
    return float(width)


def break_word(word: str, width: float, size: float = TITLE_SIZE) -> list[str]:
    """``word`` in pieces each at most ``width`` points wide: broken after an underscore, hyphen or
    dot where one fits, else between characters (a single character wider than ``width`` stays whole)."""
    pieces, rest = [], word
    while rest and text_width(rest, size) > width:
        fits = [i for i in range(1, len(rest)) if text_width(rest[:i], size) <= width] or [1]
        cut = fits[-1]
        marks = [i for i in range(1, cut + 1) if rest[i - 1] in "_-."]
        cut = marks[-1] if marks and marks[-1] < len(rest) else cut
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return [*pieces, rest] if rest else pieces


def wrap_title(parts: Sequence[str], width: float, size: float = TITLE_SIZE, separator: str = " · ") -> str:
    """``parts`` joined by ``separator``, in lines at most ``width`` points wide (at ``size`` points):
    a line breaks between parts, a part wider than a line breaks within (:func:`break_word`).
    ValueError for a width that is not positive."""
    if not width > 0:
        raise ValueError(f"a title's width must be positive, got {width}")
    lines: list[str] = []
    for part in parts:
        for index, piece in enumerate(break_word(str(part), width, size)):
            joined = f"{lines[-1]}{separator}{piece}" if lines and index == 0 else None
            if joined is not None and text_width(joined, size) <= width:
                lines[-1] = joined
            else:
                lines.append(piece)
    return "\n".join(lines)


def title_width(columns: int) -> float:
    """The width in points a panel title may take in a figure of ``columns`` panels a row
    (:data:`TITLE_SHARE` of its column; neighbouring titles stay apart)."""
    return TITLE_SHARE * FIGURE_WIDTH * 72 / max(columns, 1)


def panels_without_data(axes) -> list[int]:
    """The indices of the panels of ``axes`` (shape ``(n,)``, as the plot functions of this module
    return them) that draw no line with a finite point (x and y finite): reference lines
    (``gid`` :data:`REFERENCE`: thresholds, floors, the budget, the default rate) do not count.
    Empty when every panel shows data."""
    empty = []
    for index, ax in enumerate(np.ravel(axes)):
        drawn = False
        for line in ax.get_lines():
            if line.get_gid() == REFERENCE:
                continue
            x = np.asarray(line.get_xdata(), dtype=np.float64)
            y = np.asarray(line.get_ydata(), dtype=np.float64)
            if x.shape == y.shape and (np.isfinite(x) & np.isfinite(y)).any():
                drawn = True
                break
        if not drawn:
            empty.append(index)
    return empty


def log_x_axis(ax, threshold: float, xlabel: str, ylabel: str, label_every: bool = False) -> None:
    """A panel's log x axis with its grid and labels (the y label on the first column only, on
    every panel with ``label_every``) and the target's line at ``threshold``."""
    ax.axhline(threshold, zorder=2, gid=REFERENCE, **THRESHOLD_STYLE)
    ax.set_xscale("log")
    log_ticks(ax)
    ax.grid(True, which="major", linewidth=0.3, alpha=0.5)
    ax.set_xlabel(xlabel)
    if label_every or ax.get_subplotspec().is_first_col():
        ax.set_ylabel(ylabel)


def plot_time_to_target(lines: pd.DataFrame, group: Mapping, targets: Sequence[tuple[str, float]]
                        ) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """Median test error against optimizer steps (log-log), over the whole horizon, for the cells a
    group of time-judged claims compares (``group``: one of :func:`lossatlas.design.plan.time_groups`): one
    panel per context, one colour per level of the contrast, solid at each optimizer's default rate
    and dashed at each cell's tuned rate; a marker at the end of a line gives the cell's status past
    the budget (reached, stalled, diverged, undecided at the cap; none where it was not trained past
    the budget). Each panel draws the error its target is defined on (nRMSE or rRMSE), with that
    target's threshold (dashed red) and the error's reference at 1 (dotted: the noise floor, nRMSE 1;
    dash-dotted: the least-squares fit, rRMSE 1); vertical: the fixed budget. Panels share their y
    axis when they all draw the same error; otherwise each panel has its own y axis and label. One
    legend below the panels.

    Args:
        lines: :func:`time_lines` of the group.
        targets: ``(metric, threshold)`` per panel, shape ``(len(group["contexts"]),)``
            (:func:`panel_targets`).
    Returns:
        ``(fig, axes, data)``, ``axes`` of shape ``(len(group["contexts"]),)``; ``data``: the rows of
        ``lines`` drawn (a row per point), each with its panel's ``context`` (title), ``metric`` and
        ``threshold``.
    Raises:
        ValueError: a missing column, ``targets`` not one per panel or with an unknown error, or a
            line whose ``metric`` or ``threshold`` is not its panel's.
    """
    check_columns(lines, LINE_COLUMNS, "time lines")
    panels = max(len(group["contexts"]), 1)
    targets = [(str(metric), float(threshold)) for metric, threshold in targets]
    if len(targets) != panels:
        raise ValueError(f"targets has {len(targets)} entries; the figure has {panels} panel(s)")
    for metric, _ in targets:
        error_name(metric)
    for (panel, metric, threshold), _ in lines.groupby(["panel", "metric", "threshold"], sort=True):
        if not 0 <= int(panel) < panels or (metric, float(threshold)) != targets[int(panel)]:
            raise ValueError(f"time lines of panel {panel} draw {metric} with threshold {threshold}; "
                             f"the panel's target is {targets[int(panel)] if 0 <= int(panel) < panels else 'none'}")
    colormap = matplotlib.colormaps["tab10"]
    colors = {level: colormap(index % 10) for index, level in enumerate(group["levels"])}
    metrics = list(dict.fromkeys(metric for metric, _ in targets))
    shared = len(metrics) == 1
    references = list(dict.fromkeys(targets))
    entries = len(group["levels"]) * len(group["rates"]) + len(STATUS_MARKERS) + len(references) + len(metrics) + 1
    columns = min(TIME_COLUMNS, panels)
    titles = [context_title(context) for context in group["contexts"]] or ["all"]
    title_parts = [[str(value) for value in context.values()] or ["all"] for context in group["contexts"]] or [["all"]]
    with matplotlib.rc_context({**STYLE, "axes.titlesize": TITLE_SIZE, "legend.fontsize": 6.5}):
        fig, axes = new_figure(panels, math.ceil(entries / 3) + 2, share_y=shared, columns=columns,
                               panel_height=1.9 if panels > 2 else 2.4)
        for index, ax in enumerate(axes):
            metric, threshold = targets[index]
            drawn = lines[lines["panel"] == index]
            for (rate, level), line in drawn.groupby(["rate", "level"], sort=False):
                line = line.sort_values("step")
                ax.plot(line["step"], line["error"], color=colors[level], linestyle=RATE_STYLES.get(rate, ":"), linewidth=1.1)
                marker = STATUS_MARKERS.get(line["status"].iloc[0])
                if marker:
                    ax.plot(line["step"].iloc[-1:], line["error"].iloc[-1:], linestyle="none", markersize=4.5, zorder=4,
                            color=colors[level], **{"markeredgecolor": colors[level], **marker})
            for budget in sorted(set(drawn["budget_steps"])):
                ax.axvline(float(budget), zorder=1, gid=REFERENCE, **BUDGET_STYLE)
            ax.axhline(1.0, zorder=2, gid=REFERENCE, **ERRORS[metric]["style"])
            log_x_axis(ax, threshold, "optimizer steps", f"median test {error_name(metric)}", label_every=not shared)
            ax.set_title(wrap_title(title_parts[index], title_width(columns)))
            if drawn.empty:
                ax.text(0.5, 0.5, "no evaluations", transform=ax.transAxes, ha="center", va="center", color="0.4")
            if not shared:
                ax.set_yscale(y_scale(np.concatenate([[threshold, 1.0], drawn["error"].to_numpy(np.float64)])))
        if shared:
            axes[0].set_yscale(y_scale(np.concatenate([[threshold for _, threshold in targets], [1.0],
                                                       lines["error"].to_numpy(np.float64)])))
        handles, labels = [], []
        for level in group["levels"]:
            for rate in group["rates"]:
                handles.append(Line2D([], [], color=colors[level], linestyle=RATE_STYLES[rate], linewidth=1.1))
                labels.append(f"{level_text(group['contrast'], level)}, {rate} rate")
        for status, marker in STATUS_MARKERS.items():
            handles.append(Line2D([], [], linestyle="none", color="0.3", markeredgecolor="0.3", markersize=4.5, **marker))
            labels.append(f"{status}" + (" at the cap" if status == "undecided" else ""))
        for metric, threshold in references:
            handles.append(Line2D([], [], **THRESHOLD_STYLE))
            labels.append(f"threshold, {error_name(metric)} {format_number(threshold)}")
        for metric in metrics:
            handles.append(Line2D([], [], **ERRORS[metric]["style"]))
            labels.append(ERRORS[metric]["reference"])
        handles.append(Line2D([], [], **BUDGET_STYLE))
        labels.append("fixed budget")
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
        fig.suptitle(group_title(group), fontsize=8)
    data = lines[lines["panel"].isin(range(len(axes)))].sort_values(["panel", "rate", "level", "step"], kind="stable")
    data.insert(1, "context", [titles[int(panel)] for panel in data["panel"]])
    return fig, axes, data.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Learning-rate sensitivity
# --------------------------------------------------------------------------------------------


#: Words after a coordinate's value in a panel title, so that values alike read apart ("raw inputs", "raw targets").
TITLE_SUFFIXES = {"inputs": " inputs", "targets": " targets"}


def sensitivity_title_parts(panel: Mapping, shown: Sequence[str]) -> list[str]:
    """The values of ``shown`` (coordinates of :data:`lossatlas.design.plan.SENSITIVITY_CONTEXT`) of
    ``panel``, each a part of its title, input and target preprocessing named as such."""
    return [f"{panel[column]}{TITLE_SUFFIXES.get(column, '')}" for column in shown]


def sensitivity_title(panel: Mapping, shown: Sequence[str]) -> str:
    """``"friedman1_1e-3 · raw targets · adam"``: a panel's title on one line (the ``panel`` of the
    figure's data; the figure wraps it to its panel's width, :func:`wrap_title`)."""
    return " · ".join(sensitivity_title_parts(panel, shown))


def plot_lr_sensitivity(cells: pd.DataFrame, tuned: pd.DataFrame, panels: Sequence[dict], default_rates: Mapping[str, float],
                        threshold: float, targets: Sequence[tuple[str, float]] | None = None
                        ) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """Median final test error at the budget against the learning rate (log x), one panel per
    context of ``panels`` (:func:`lossatlas.design.plan.sensitivity_panels`, those of one tuned
    experiment), one line per (loss, output activation): every rate trained, the sweep's and those
    it was extended by. A star marks each line's tuned rate (``tuned_rates.csv``, chosen on the
    validation split), hollow when it stayed at an edge of the rates trained; a vertical dotted line
    the optimizer's default rate; a dashed red line the panel's threshold. Each panel draws the error
    its target is defined on (``targets``: nRMSE, or rRMSE on real data and Friedman #1), sharing
    the y axis with the others when they all draw the same error, else with its own y axis and
    label. One legend below the panels. Each panel's title names the coordinates that vary between
    panels, wrapped to its column's width (:func:`wrap_title`), so that neighbouring titles never
    run into each other.

    Args:
        cells: the cells table (``final_test_nrmse_median``; ``final_test_rrmse_median`` where a
            panel draws rRMSE).
        tuned: ``tuned_rates.csv`` (``tuned_learning_rate``, ``edge``).
        default_rates: optimizer -> its default rate (:func:`lossatlas.design.views.default_rates`).
        threshold: the nRMSE threshold of every panel when ``targets`` is None.
        targets: ``(metric, threshold)`` per panel, shape ``(len(panels),)``
            (:meth:`lossatlas.design.study.Study.fit_target` of the panel's dataset); None: every
            panel ``("nrmse", threshold)``.
    Returns:
        ``(fig, axes, data)``, ``axes`` of shape ``(len(panels),)``; ``data``: a row per point drawn,
        :data:`SENSITIVITY_COLUMNS` (``metric`` and ``error``: the error drawn and its median;
        ``tuned``: whether the star marks it, ``edge``: the edge where it stayed;
        ``default_rate``: the panel's optimizer's; ``threshold``: the panel's).
    Raises:
        ValueError: a missing column, or ``targets`` not one per panel or with an unknown error.
    """
    targets = [("nrmse", float(threshold))] * len(panels) if targets is None else [(str(m), float(t)) for m, t in targets]
    if len(targets) != len(panels):
        raise ValueError(f"targets has {len(targets)} entries; the figure has {len(panels)} panel(s)")
    metrics = list(dict.fromkeys(metric for metric, _ in targets)) or ["nrmse"]
    for metric in metrics:
        error_name(metric)
    check_columns(cells, [*CELL_COLUMNS, *(f"final_test_{metric}_median" for metric in metrics)], "cells")
    check_columns(tuned, [*BASE, "tuned_learning_rate", "edge"], "tuned rates")
    shared = len(metrics) == 1
    shown = [c for c in plan.SENSITIVITY_CONTEXT if len({str(p[c]) for p in panels}) > 1] or ["dataset", "optimizer"]
    keys = list(dict.fromkeys(line for panel in panels for line in panel["lines"]))
    colormap = matplotlib.colormaps["tab10" if len(keys) <= 10 else "tab20"]
    styles = {key: {"color": colormap(number % colormap.N), "marker": MARKERS[number % len(MARKERS)]} for number, key in enumerate(keys)}
    count = max(len(panels), 1)
    columns = min(TIME_COLUMNS, count)
    references = list(dict.fromkeys(targets)) or [("nrmse", float(threshold))]
    rows = []
    with matplotlib.rc_context({**STYLE, "axes.titlesize": TITLE_SIZE, "legend.fontsize": 6.5}):
        fig, axes = new_figure(count, math.ceil((len(keys) + 3 + len(references)) / 3) + 2, share_y=shared, columns=columns,
                               panel_height=1.9 if count > 2 else 2.4)
        values = [np.array([target for _, target in references], dtype=np.float64)]
        for ax, panel, (metric, target) in zip(axes, panels, targets):
            context = {c: str(panel[c]) for c in plan.SENSITIVITY_CONTEXT}
            part = select_rows(cells, context)
            marks = select_rows(tuned, context)
            drawn = [np.array([target])]
            for loss, activation in panel["lines"]:
                style = styles[(loss, activation)]
                line = part[(part["loss"] == loss) & (part["activation"] == activation)].sort_values("learning_rate")
                if line.empty:
                    continue
                x = line["learning_rate"].to_numpy(np.float64)
                y = line[f"final_test_{metric}_median"].to_numpy(np.float64)
                diverged = line["divergence_rate"].to_numpy(np.float64) if "divergence_rate" in line else np.full(len(x), np.nan)
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
                drawn.append(y)
                rows += [(sensitivity_title(panel, shown), *context.values(), loss, activation, rate_, metric, value, bool(tuned_),
                          edge_text if tuned_ else "", default_rates.get(str(panel["optimizer"]), np.nan), target, share)
                         for rate_, value, tuned_, share in zip(x, y, tuned_at, diverged)]
            rate = default_rates.get(str(panel["optimizer"]))
            if rate is not None:
                ax.axvline(rate, zorder=1, gid=REFERENCE, color="0.35", linestyle=":", linewidth=1.0)
            if not np.isfinite(np.concatenate(drawn[1:] or [np.array([np.nan])])).any():
                # Nothing to draw: say why instead of leaving the panel blank.
                ax.text(0.5, 0.5, "every seed diverged\nat every rate", transform=ax.transAxes, ha="center", va="center", color="0.3")
            log_x_axis(ax, target, "learning rate", f"median final test {error_name(metric)}", label_every=not shared)
            ax.set_title(wrap_title(sensitivity_title_parts(panel, shown), title_width(columns)))
            values += drawn
            if not shared:
                ax.set_yscale(y_scale(np.concatenate(drawn)))
        if shared:
            axes[0].set_yscale(y_scale(np.concatenate(values)))
        handles = [Line2D([], [], linewidth=1.0, markersize=2.5, **styles[key]) for key in keys]
        labels = [f"{loss_name(loss)} / {activation}" for loss, activation in keys]
        handles += [Line2D([], [], marker="*", markersize=8, linestyle="none", color="0.3"),
                    Line2D([], [], marker="*", markersize=8, linestyle="none", markerfacecolor="white", markeredgecolor="0.3"),
                    Line2D([], [], color="0.35", linestyle=":", linewidth=1.0)]
        labels += ["tuned rate", "tuned rate at an edge of the rates trained", "the optimizer's default rate"]
        for metric, target in references:
            handles.append(Line2D([], [], **THRESHOLD_STYLE))
            labels.append(f"threshold, {error_name(metric)} {format_number(target)}")
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, title="loss / activation")
    return fig, axes, pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
