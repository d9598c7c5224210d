"""The report: its context, built from the results files and the study, rendered to HTML and PDF.

Every number the report shows is computed from the results files or the config and formatted by
:func:`format_number`; a confidence interval reads ``"mean [low, high]"`` (:func:`format_interval`).

The cells table (``results/aggregate/cells.csv``, see :func:`lossatlas.aggregate.summarize_cells`)
has one row per cell: the cell's coordinates (the columns of :data:`lossatlas.aggregate.CELL`:
experiment, dataset, targets, model, optimizer, loss, activation), ``n_seeds, n_diverged,
divergence_rate, stagnation_rate, reach_rate, steps_to_threshold_median, reach_flag``, for each
metric of :data:`lossatlas.aggregate.SUMMARY_METRICS` ``{metric}_mean, _ci_low, _ci_high, _median,
_iqm`` and for the others ``{metric}_mean``; :data:`CELLS_COLUMNS` lists the ones the report reads.

The analysis files (``results/analysis/``, see :mod:`lossatlas.analysis` and
:mod:`lossatlas.claims`) give the article's reproduction, the claims' verdicts and the paired
comparisons between losses; :func:`build_context` takes their paths by the names of
:data:`ANALYSIS_FILES`.

Tables and figures are numbered in the order the report shows them (ids ``T1, T2, ...`` and ``F1,
F2, ...``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import itertools
import logging
import math
import numbers
import os
import re
import sys
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import jinja2
import markupsafe
import pandas as pd

import lossatlas
from lossatlas import figures as figure_plans
from lossatlas import provenance
from lossatlas.aggregate import CELL
from lossatlas.article import N_TEST
from lossatlas.atomic import atomic_path, write_text
from lossatlas.compare import COMPARISON_KEYS
from lossatlas.config import Experiment, Study
from lossatlas.datasets import FAMILIES

ARTICLE_TITLE = "Why are gradients missing when using MSE with TensorFlow Keras?"
ARTICLE_DATE = "2025-01-30"
# Cell coordinates every results table shows; the others but dataset only where they vary.
TABLE_DIMENSIONS = ("loss", "activation")
# Columns of the per-dataset results tables: (key, heading). See :func:`table_rows`.
RESULT_COLUMNS = (
    ("nrmse", "Test nRMSE mean [95% CI]"),
    ("median", "Median"),
    ("iqm", "IQM"),
    ("divergence", "Diverged"),
    ("stagnation", "Stagnated"),
    ("reach", "Reached"),
    ("steps", "Steps to threshold"),
)
# Metrics of the appendix table of every cell: (column prefix in cells.csv, heading).
SUMMARY_METRICS = (
    ("final_test_rmse", "Test RMSE"),
    ("final_test_mae", "Test MAE"),
    ("final_train_loss", "Final training loss"),
)
CELLS_COLUMNS = [
    *CELL,
    "n_seeds",
    "n_diverged",
    "divergence_rate",
    "stagnation_rate",
    "reach_rate",
    "steps_to_threshold_median",
    "reach_flag",
    *(f"final_test_nrmse_{stat}" for stat in ("mean", "ci_low", "ci_high", "median", "iqm")),
    "final_test_r2_mean",
    "best_test_r2_mean",
    *(f"{metric}_{stat}" for metric, _ in SUMMARY_METRICS for stat in ("mean", "ci_low", "ci_high")),
]
# The analysis files the report reads, by the names build_context takes them.
ANALYSIS_FILES = ("article_runs", "article_summary", "article_examples", "comparisons", "verdicts")
# The appendix of every cell is printed in the PDF only up to this many cells (it is always in the HTML).
APPENDIX_PRINT_LIMIT = 400
# Family-wise level at which lossatlas.compare.compare_table marks a comparison significant (Holm).
COMPARISON_ALPHA = 0.05
# Columns of a best-loss table at most (see comparison_tables).
MAX_BEST_COLUMNS = 8
# Short names of the losses, for the compact tables.
LOSS_NAMES = {"mse": "MSE", "mae": "MAE", "huber": "Huber", "log_cosh": "log-cosh", "binary_crossentropy": "BCE"}
# Captions of the curve figures of a dataset and experiment; fields from curve_figure_fields.
CURVE_CAPTIONS = {
    "loss_curves": (
        "Training loss vs epoch on dataset {dataset}, experiment {experiment} ({n_cells} cells, {n_seeds} "
        "seeds each, {epochs} epochs), one panel per loss function{panel_note} (values of different losses "
        "are not comparable). Lines: mean over seeds; shaded bands: 95% percentile-bootstrap confidence "
        "interval of the mean; seeds with a non-finite value are left out.{thinning} {floors} {selection}"
    ),
    "test_rmse": (
        "Test RMSE (target units) vs epoch on dataset {dataset}, experiment {experiment}, one panel per loss "
        "function{panel_note} on one shared y axis (test RMSE is comparable across losses). Lines: mean over "
        "seeds; shaded bands: 95% percentile-bootstrap confidence interval of the mean.{thinning} Dotted line: the "
        "generator's noise standard deviation, {noise_sd}, the RMSE of the noise-free generating function "
        "(nRMSE 1)."
    ),
}
LOGGERS = ("weasyprint", "fontTools")
PORTRAIT_WIDTH = 510  # points of text width on an A4 portrait page (182 mm = 516 pt, style.css margins), less a margin


def format_number(value) -> str:
    """The report's one number format: 4 significant digits (``"1.235e+04"`` beyond that), ``"n/a"`` for NaN.

    Integers are written as they are; ``None`` counts as NaN. Raises ValueError for anything not a number.
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"format_number needs a real number, got {value!r} ({type(value).__name__})")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return "n/a"
    return f"{value:.4g}"


def format_bounds(low, high) -> str:
    """``"[low, high]"`` with both ends formatted by :func:`format_number`."""
    return f"[{format_number(low)}, {format_number(high)}]"


def format_interval(mean, low, high) -> str:
    """``"mean [low, high]"``: a mean and its confidence interval, each by :func:`format_number`."""
    return f"{format_number(mean)} {format_bounds(low, high)}"


def format_count(value) -> str:
    """A count read from a CSV (possibly as a float): as an integer by :func:`format_number`."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and float(value).is_integer():
        return format_number(int(value))
    return format_number(value)


def read_cells(path: str | os.PathLike) -> pd.DataFrame:
    """The cells table at ``path``, its coordinates as text even where a label looks like a number."""
    return pd.read_csv(path, dtype={column: str for column in CELL})


def check_cells(cells: pd.DataFrame) -> None:
    """Raises ValueError if ``cells`` lacks a column of the cells table (see module doc)."""
    missing = [column for column in CELLS_COLUMNS if column not in cells.columns]
    if missing:
        raise ValueError(f"cells table lacks column(s) {', '.join(missing)}")


def flag_text(value) -> str:
    """The reach flag of a cells-table row as text; empty when there is none (CSV reads it as NaN)."""
    return value.strip() if isinstance(value, str) else ""


def heading(name: str) -> str:
    """A column heading from a field name: ``"batch_size"`` -> ``"Batch size"``."""
    return name.replace("_", " ").capitalize()


def table_dimensions(cells: pd.DataFrame, always: Sequence[str] = TABLE_DIMENSIONS, skip: Sequence[str] = ("dataset",)) -> list[str]:
    """The cell coordinates a table of ``cells`` shows, in cells-table order: those of ``always``, and
    any other but those of ``skip`` that takes more than one value."""
    return [d for d in CELL if d not in skip and (d in always or cells[d].nunique() > 1)]


def rate_text(rate, count, total) -> str:
    """``"rate (count/total)"``."""
    return f"{format_number(rate)} ({format_count(count)}/{format_count(total)})"


def table_rows(cells: pd.DataFrame) -> list[dict]:
    """One results-table row per row of ``cells`` (see module doc), in the order given.

    Returns:
        dicts with ``labels`` (cell coordinate -> text, dataset left out, the loss by its short name
        of :data:`LOSS_NAMES`, to keep the table on a portrait page), ``flag`` (the reach
        flag, ``""`` when none) and ``values``: one ``{"main", "ci"}`` per entry of
        :data:`RESULT_COLUMNS` (``ci`` empty but for the nRMSE, where ``main + " " + ci`` is
        :func:`format_interval`): test nRMSE mean [CI], median and IQM over the seeds that did not
        diverge; divergence as ``"rate (diverged/seeds)"``; the stagnation
        and reach rates (of the seeds that did not diverge); the Kaplan-Meier median steps to the
        nRMSE threshold (``inf`` when fewer than half reach it).
    """
    check_cells(cells)
    rows = []
    for _, cell in cells.iterrows():
        kept = cell["n_seeds"] - cell["n_diverged"]
        values = {
            "nrmse": {
                "main": format_number(cell["final_test_nrmse_mean"]),
                "ci": format_bounds(cell["final_test_nrmse_ci_low"], cell["final_test_nrmse_ci_high"]),
            },
            "median": {"main": format_number(cell["final_test_nrmse_median"]), "ci": ""},
            "iqm": {"main": format_number(cell["final_test_nrmse_iqm"]), "ci": ""},
            "divergence": {"main": rate_text(cell["divergence_rate"], cell["n_diverged"], cell["n_seeds"]), "ci": ""},
            "stagnation": {"main": format_number(cell["stagnation_rate"]), "ci": ""},
            "reach": {"main": format_number(cell["reach_rate"]), "ci": ""},
            "steps": {"main": format_number(cell["steps_to_threshold_median"]), "ci": ""},
        }
        rows.append(
            {
                "labels": {
                    column: loss_name(str(cell[column])) if column == "loss" else str(cell[column])
                    for column in CELL
                    if column != "dataset"
                },
                "flag": flag_text(cell["reach_flag"]),
                "values": [values[key] for key, _ in RESULT_COLUMNS],
                "kept": format_count(kept),
            }
        )
    return rows


def appendix_rows(cells: pd.DataFrame) -> list[dict]:
    """One appendix row per row of ``cells``: ``labels`` (every coordinate), ``flag``, ``seeds``,
    ``r2`` (``"mean R² (mean best R²)"``) and ``metrics``: one ``{"mean", "ci"}`` per entry of
    :data:`SUMMARY_METRICS` (so that ``mean + " " + ci`` is :func:`format_interval`)."""
    check_cells(cells)
    return [
        {
            "labels": {column: str(cell[column]) for column in CELL},
            "flag": flag_text(cell["reach_flag"]),
            "seeds": format_count(cell["n_seeds"]),
            "r2": f"{format_number(cell['final_test_r2_mean'])} ({format_number(cell['best_test_r2_mean'])})",
            "metrics": [
                {
                    "mean": format_number(cell[f"{metric}_mean"]),
                    "ci": format_bounds(cell[f"{metric}_ci_low"], cell[f"{metric}_ci_high"]),
                }
                for metric, _ in SUMMARY_METRICS
            ],
        }
        for _, cell in cells.iterrows()
    ]


def cell_key(cell) -> tuple:
    """A cell's coordinates in :data:`CELL` order (``cell``: a Cell or a cells-table row)."""
    return tuple(str(getattr(cell, column)) for column in CELL)


def order_cells(cells: pd.DataFrame, study: Study) -> pd.DataFrame:
    """``cells`` in the study's grid order (config order); cells the study does not list come last."""
    position = {cell_key(cell): index for index, cell in enumerate(study.cells)}
    keys = [position.get(cell_key(row), len(position)) for row in cells[CELL].itertuples(index=False)]
    return cells.assign(_order=keys).sort_values(["_order", *CELL], kind="stable").drop(columns="_order")


def text_width(columns: Sequence[Sequence[str]], font: float = 7.5, padding: float = 8) -> float:
    """Rough width in points of a table: the widest text of each column at 0.6 em a character
    (DejaVu Sans), plus ``padding`` points a column. A column's first text is its heading, which
    may wrap: only its longest word counts."""
    widths = [max([max(map(len, column[0].split()), default=0), *map(len, column[1:])]) for column in columns]
    return 0.6 * font * sum(widths) + padding * len(columns)


def table_width(dimensions: Sequence[str], rows: Sequence[dict]) -> float:
    """Rough width in points of a results table (:func:`text_width` at its 6.5 pt type, the CI at 5.8 pt)."""
    columns = [[heading(d), *(row["labels"][d] + " " * bool(row["flag"]) for row in rows)] for d in dimensions]
    for index, (_, title) in enumerate(RESULT_COLUMNS):
        texts = [row["values"][index]["main"] + " " * round(0.9 * len(row["values"][index]["ci"])) for row in rows]
        columns.append([title, *texts])
    return text_width(columns, font=6.5, padding=6)


def listed_experiments(cells: pd.DataFrame, dataset: str, order: Sequence[str] = ()) -> list[str]:
    """The experiments whose cells on ``dataset`` the dataset's results table lists: those with at
    most :data:`lossatlas.figures.CURVE_CELL_LIMIT` cells there (the same that get curve figures), in
    ``order`` (then sorted)."""
    counts = cells.loc[cells["dataset"] == dataset, "experiment"].value_counts()
    chosen = {e for e, n in counts.items() if n <= figure_plans.CURVE_CELL_LIMIT}
    return [e for e in order if e in chosen] + sorted(chosen - set(order))


def dataset_sections(cells: pd.DataFrame, study: Study) -> list[dict]:
    """One section per dataset that has cells, in the config's dataset order.

    Each: ``dataset``, ``table`` (None when every experiment on the dataset is too large to list;
    else ``dimensions``, ``groups`` (one per listed experiment: ``experiment``, ``n_cells``,
    ``seeds``, ``epochs``, ``rows`` from :func:`table_rows`), ``landscape``, ``any_flag``),
    ``summarised`` (the experiments left out of the table, with their cell counts) and ``figures``
    (empty; see :func:`add_curve_figures`). Tables are numbered later (:func:`number_items`).
    """
    check_cells(cells)
    cells = order_cells(cells, study)
    order = [*study.datasets, *sorted(set(cells["dataset"]) - set(study.datasets))]
    experiments = list(study.experiments)
    sections = []
    for dataset in order:
        subset = cells[cells["dataset"] == dataset]
        if subset.empty:
            continue
        listed = listed_experiments(cells, dataset, experiments)
        shown = subset[subset["experiment"].isin(listed)]
        summarised = [
            {"experiment": e, "n_cells": format_number(int(n))}
            for e, n in subset.loc[~subset["experiment"].isin(listed), "experiment"].value_counts().sort_index().items()
        ]
        table = None
        if not shown.empty:
            dimensions = table_dimensions(shown, skip=("dataset", "experiment"))
            groups = []
            for experiment in listed:
                part = shown[shown["experiment"] == experiment]
                spec = study.experiments.get(experiment)
                groups.append(
                    {
                        "experiment": experiment,
                        "n_cells": format_number(len(part)),
                        "seeds": ", ".join(format_count(n) for n in sorted(set(part["n_seeds"]))),
                        "epochs": format_number(spec.epochs) if spec else "n/a",
                        "rows": table_rows(part),
                    }
                )
            rows = [row for group in groups for row in group["rows"]]
            table = {
                "kind": "table",
                "dimensions": [{"name": d, "heading": heading(d)} for d in dimensions],
                "groups": groups,
                # Tables wider than an A4 portrait page's text go on a landscape page.
                "landscape": table_width(dimensions, rows) > PORTRAIT_WIDTH,
                "any_flag": any(row["flag"] for row in rows),
            }
        sections.append({"dataset": dataset, "table": table, "summarised": summarised, "figures": []})
    return sections


def results_tables(cells: pd.DataFrame, study: Study) -> list[dict]:
    """The per-dataset results tables of :func:`dataset_sections`, each with its ``dataset``, numbered
    ``T1, T2, ...`` among themselves."""
    tables = []
    for section in dataset_sections(cells, study):
        if section["table"] is not None:
            tables.append({**section["table"], "dataset": section["dataset"]})
    number_items(tables, [])
    return tables


def appendix_context(cells: pd.DataFrame, study: Study) -> dict:
    """The appendix table of every cell: ``dimensions`` (dataset, loss, activation and every other
    coordinate that varies), ``rows``
    (:func:`appendix_rows`, in grid order), ``metrics`` (headings) and ``print`` (whether the PDF
    shows it: at most :data:`APPENDIX_PRINT_LIMIT` cells)."""
    rows = appendix_rows(order_cells(cells, study))
    dimensions = table_dimensions(cells, always=("dataset", *TABLE_DIMENSIONS), skip=())
    return {
        "kind": "table",
        "dimensions": [{"name": d, "heading": heading(d)} for d in dimensions],
        "metrics": [title for _, title in SUMMARY_METRICS],
        "rows": rows,
        "print": len(rows) <= APPENDIX_PRINT_LIMIT,
        "print_limit": format_number(APPENDIX_PRINT_LIMIT),
        "any_flag": any(row["flag"] for row in rows),
    }


def style_to_attributes(declarations: str) -> str:
    """``"fill: #fff; stroke-width: 0.8"`` as SVG presentation attributes ``'fill="#fff" stroke-width="0.8"'``."""
    pairs = [part.split(":", 1) for part in declarations.split(";") if part.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"not a CSS declaration list: {declarations!r}")
    # The values come from a double-quoted XML attribute: already escaped, and free of '"'.
    return " ".join(f'{name.strip()}="{value.strip()}"' for name, value in pairs)


def svg_for_html(svg: str, prefix: str) -> str:
    """A Matplotlib SVG file's text made fit to inline in an HTML page.

    Drops the XML prolog and doctype; turns the ``<style>`` sheet and ``style`` attributes into
    presentation attributes (an inline ``<style>`` would apply to the whole page, and HTML renderers
    such as WeasyPrint read ``style`` attributes as HTML CSS); prefixes every ``id``, and every
    reference to one, with ``prefix``, so that figures on one page don't share ids.
    """
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("not an SVG document: no <svg> element")
    svg = svg[start:]
    sheet = re.search(r"<style[^>]*>\s*\*\s*\{([^}]*)\}\s*</style>", svg)
    if sheet:
        svg = svg[: sheet.start()] + svg[sheet.end() :]
        svg = svg.replace("<svg ", f"<svg {style_to_attributes(sheet.group(1))} ", 1)
    if "<style" in svg:
        raise ValueError("SVG has a <style> sheet other than Matplotlib's default one")
    svg = re.sub(r'(?<=\s)style="([^"]*)"', lambda match: style_to_attributes(match.group(1)), svg)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"', rf'\1="#{prefix}\2"', svg)
    return re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)


def experiments_table(study: Study) -> list[dict]:
    """The experiments, one row per field of :class:`lossatlas.config.Experiment` (lists joined by
    commas, numbers by :func:`format_number`), then the cells run and excluded; one column per experiment.

    Returns:
        rows ``{"heading", "values"}``, ``values`` in the config's experiment order; the first row
        is the experiments' labels.
    """
    def text(value) -> str:
        if isinstance(value, tuple):
            return ", ".join(map(str, value))
        return format_number(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else str(value)

    experiments = list(study.experiments.values())
    rows = [
        {
            "heading": "Experiment" if field.name == "label" else heading(field.name),
            "values": [text(getattr(experiment, field.name)) for experiment in experiments],
        }
        for field in dataclasses.fields(Experiment)
    ]
    for title, items in (("Cells run", study.cells), ("Excluded", [item.cell for item in study.excluded])):
        counts = [sum(cell.experiment == experiment.label for cell in items) for experiment in experiments]
        rows.append({"heading": title, "values": [format_number(count) for count in counts]})
    return rows




def product_rows(keys: Sequence[tuple]) -> list[list[list[str]]]:
    """``keys`` (tuples of equal length) as few rows as this finds, each row the Cartesian product of
    its columns' value lists, together exactly ``keys``: a set that is a full product is one row;
    otherwise it is split by the first column with more than one value, recursively, and rows
    that differ in one column only are then merged. Values keep their first-seen order.

    Returns:
        rows, each a list of value lists, one per position of the keys.
    """
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    values = [list(dict.fromkeys(key[i] for key in keys)) for i in range(len(keys[0]))]
    if math.prod(len(v) for v in values) == len(keys):
        return [values]
    split = next(i for i, v in enumerate(values) if len(v) > 1)
    rows = [row for value in values[split] for row in product_rows([k for k in keys if k[split] == value])]
    merged = True
    while merged:
        merged = False
        for a, b in itertools.combinations(range(len(rows)), 2):
            differing = [i for i in range(len(values)) if rows[a][i] != rows[b][i]]
            if len(differing) == 1:
                column = differing[0]
                rows[a] = [*rows[a][:column], rows[a][column] + rows[b][column], *rows[a][column + 1 :]]
                del rows[b]
                merged = True
                break
    return rows


def cells_by_reason(items: Sequence[tuple]) -> dict:
    """Cells listed under the reason they share, for the excluded and the flagged cells, compactly:
    each row stands for every combination of the values it lists (:func:`product_rows`).

    Args:
        items: ``(cell, reason)`` pairs, cells of :class:`lossatlas.config.Cell`.
    Returns:
        ``{"headings", "groups"}``: the coordinates shown (``dataset`` and :data:`TABLE_DIMENSIONS`,
        and any other that takes more than one value) and, per reason in first-seen order,
        ``{"reason", "count", "experiments", "cells"}``: ``experiments`` the cell count per
        experiment (``"grid 30, remedies 6"``), ``cells`` rows of texts, one per coordinate shown
        (several values joined by ", ").
    """
    keys = [dict(zip(CELL, cell_key(cell))) for cell, _ in items]
    shown = [d for d in CELL if d in ("dataset", *TABLE_DIMENSIONS) or len({k[d] for k in keys}) > 1]
    groups: dict[str, list] = {}
    experiments: dict[str, dict[str, int]] = {}
    for key, (_, reason) in zip(keys, items):
        groups.setdefault(reason, []).append(tuple(key[d] for d in shown))
        counts = experiments.setdefault(reason, {})
        counts[key["experiment"]] = counts.get(key["experiment"], 0) + 1
    return {
        "headings": [heading(d) for d in shown],
        "groups": [
            {
                "reason": r,
                "count": format_number(len(c)),
                "experiments": ", ".join(f"{e} {format_number(n)}" for e, n in experiments[r].items()),
                "cells": [[", ".join(v) for v in row] for row in product_rows(c)],
            }
            for r, c in groups.items()
        ],
    }


def design_context(study: Study) -> dict:
    """The grid that was run, from the config: datasets, models, optimizers, experiments, seeds,
    excluded cells (with reasons) and flagged cells (with the flag's text)."""
    datasets = [
        {
            "label": spec.label,
            "family": spec.family,
            "description": FAMILIES[spec.family].description,
            "scale": format_number(spec.scale),
            "n_train": format_number(spec.n_train),
            "n_test": format_number(spec.n_test),
            "noise_sd": format_number(spec.noise_sd),
            "target_range": format_bounds(*spec.target_range),
        }
        for spec in study.datasets.values()
    ]
    return {
        "datasets": datasets,
        "models": [{"label": m.label, "layers": m.describe()} for m in study.models.values()],
        "optimizers": [{"label": o.label, "setting": o.describe()} for o in study.optimizers.values()],
        "experiments": experiments_table(study),
        "base_seed": format_number(study.base_seed),
        "cell_headings": [heading(d) for d in CELL],
        "excluded": cells_by_reason([(item.cell, item.reason) for item in study.excluded]),
        "n_excluded": format_number(len(study.excluded)),
        "flagged": cells_by_reason(list(study.flags.items())),
        "n_flagged": format_number(len(study.flags)),
    }


def metrics_context(study: Study) -> dict:
    """The settings the metric definitions quote, from the config."""
    metrics = study.config["metrics"]
    return {
        "nrmse_threshold": format_number(metrics["nrmse_threshold"]),
        "stagnation_window": format_number(metrics["stagnation_window"]),
        "stagnation_window_percent": format_number(100 * metrics["stagnation_window"]),
        "stagnation_tolerance": format_number(metrics["stagnation_tolerance"]),
        "stagnation_margin": format_number(metrics["stagnation_margin"]),
        "stagnation_bound": format_number(1 + metrics["stagnation_margin"]),
        "saturation_threshold": format_number(study.config["diagnostics"]["saturation_threshold"]),
        "bootstrap_resamples": format_number(study.config["report"]["bootstrap_resamples"]),
        "comparison_alpha": format_number(COMPARISON_ALPHA),
    }


# --------------------------------------------------------------------------------------------
# The article's examples
# --------------------------------------------------------------------------------------------

# Rows of the paired comparison of examples 3 and 2: (key of lossatlas.compare.COMPARISON_KEYS, heading).
EXAMPLE_COMPARISON_ROWS = (
    ("n_pairs", "Seeds paired (examples 2 and 3 share each seed's data)"),
    ("n_dropped", "Pairs dropped (a non-finite value)"),
    ("median_a", "Median test MSE, example 3 (sigmoid + binary cross-entropy)"),
    ("median_b", "Median test MSE, example 2 (sigmoid + MSE)"),
    ("mean_difference", "Mean paired difference, example 3 − example 2 [95% BCa CI]"),
    ("wilcoxon_statistic", "Wilcoxon signed-rank statistic"),
    ("p_value", "Two-sided p (Wilcoxon signed-rank, Pratt's zero handling)"),
    ("min_attainable_p", "Smallest p attainable with these pairs"),
    ("cliffs_delta", "Cliff's delta (positive: example 3 lower)"),
    ("paired_cohens_d", "Paired Cohen's d_z (positive: example 3 lower)"),
    ("probability_of_improvement", "Fraction of seeds where example 3 is lower (ties count ½)"),
)


def article_context(summary: pd.DataFrame, comparison: pd.DataFrame) -> dict:
    """The article's examples over seeds, from ``article_summary.csv`` and ``article_examples_2_vs_3.csv``.

    Returns:
        ``examples``: per example its texts (seeds, printed loss, median, 2.5-97.5% range, whether
        the printed value lies in it, the printed value's quantile, the test MSE median and range);
        ``comparison``: ``{"heading", "value"}`` per row of :data:`EXAMPLE_COMPARISON_ROWS`;
        ``n_seeds``, ``n_test``; ``lower_on``: the seeds where example 3's test MSE is lower, as text.
    """
    missing = [c for c in ("example", "n_seeds", "printed_loss", "final_loss_median", "final_loss_low", "final_loss_high",
                           "printed_inside", "printed_quantile", "test_mse_median", "test_mse_low", "test_mse_high") if c not in summary]
    if missing:
        raise ValueError(f"article summary lacks column(s) {', '.join(missing)}")
    missing = [key for key in COMPARISON_KEYS if key not in comparison]
    if missing or len(comparison) != 1:
        raise ValueError(f"article comparison must be one row with the keys of COMPARISON_KEYS; lacks {', '.join(missing) or 'nothing'}")
    examples = []
    for _, row in summary.iterrows():
        inside = row["printed_inside"]
        inside = inside if isinstance(inside, bool) else str(inside).strip().lower() == "true"
        examples.append(
            {
                "example": str(row["example"]),
                "n_seeds": format_count(row["n_seeds"]),
                "printed": format_number(row["printed_loss"]),
                "median": format_number(row["final_loss_median"]),
                "range": format_bounds(row["final_loss_low"], row["final_loss_high"]),
                "inside": "yes" if inside else "no",
                "quantile": format_number(row["printed_quantile"]),
                "test_median": format_number(row["test_mse_median"]),
                "test_range": format_bounds(row["test_mse_low"], row["test_mse_high"]),
            }
        )
    result = comparison.iloc[0]
    rows = []
    for key, title in EXAMPLE_COMPARISON_ROWS:
        if key == "mean_difference":
            value = format_interval(result["mean_difference"], result["mean_difference_ci_low"], result["mean_difference_ci_high"])
        elif key in ("n_pairs", "n_dropped"):
            value = format_count(result[key])
        else:
            value = format_number(result[key])
        rows.append({"heading": title, "value": value})
    return {
        "examples": examples,
        "comparison": rows,
        "n_test": format_number(N_TEST),
        "n_seeds": ", ".join(sorted({e["n_seeds"] for e in examples})),
    }


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------

VERDICTS = ("supported", "not supported", "mixed")


def claims_context(verdicts: pd.DataFrame) -> list[dict]:
    """One entry per claim of ``claims.csv``: its texts, ``verdict`` and ``verdict_class`` (for the
    style), ``holds`` (``"n_holds of n_contexts: contexts"``) and ``evidence`` (its lines)."""
    needed = ("id", "name", "claim", "article", "kind", "rule", "verdict", "holds_in", "n_contexts", "n_holds", "evidence")
    missing = [c for c in needed if c not in verdicts]
    if missing:
        raise ValueError(f"claims table lacks column(s) {', '.join(missing)}")
    claims = []
    for _, row in verdicts.iterrows():
        verdict = str(row["verdict"])
        if verdict not in VERDICTS:
            raise ValueError(f"claim {row['id']}: unknown verdict {verdict!r}; expected one of {', '.join(VERDICTS)}")
        evidence = row["evidence"] if isinstance(row["evidence"], str) else ""
        claims.append(
            {
                "id": str(row["id"]),
                "name": str(row["name"]),
                "claim": str(row["claim"]),
                "article": str(row["article"]).strip().strip('"').strip(),
                "kind": str(row["kind"]),
                "rule": str(row["rule"]),
                "verdict": verdict,
                "verdict_class": verdict.replace(" ", "-"),
                "holds": f"{format_count(row['n_holds'])} of {format_count(row['n_contexts'])}",
                "holds_in": str(row["holds_in"]),
                "evidence": [line for line in evidence.splitlines() if line.strip()],
            }
        )
    return claims


# --------------------------------------------------------------------------------------------
# Loss comparisons
# --------------------------------------------------------------------------------------------

LOSS_CONTEXT = ["experiment", "dataset", "targets", "model", "optimizer", "activation"]


def loss_name(loss: str) -> str:
    """The short name of a loss (:data:`LOSS_NAMES`), or the label itself."""
    return LOSS_NAMES.get(loss, loss)


def best_losses(cells: pd.DataFrame, comparisons: pd.DataFrame) -> pd.DataFrame:
    """Per context (experiment, dataset, targets, model, optimizer, activation) with two or more
    losses: the loss with the lowest median test nRMSE and how many of the others it beats
    significantly (paired Wilcoxon, Holm over the whole comparisons table, lower mean nRMSE).

    Args:
        cells: the cells table.
        comparisons: ``loss_comparisons.csv``: ``LOSS_CONTEXT``, ``level_a``, ``level_b``,
            ``mean_difference`` (a − b), ``significant``.
    Returns:
        One row per context: its coordinates, ``best``, ``best_median``, ``n_losses``, ``n_beaten``
        (significantly), ``all_beaten`` (every other loss significantly worse).
    """
    needed = [*LOSS_CONTEXT, "level_a", "level_b", "mean_difference", "significant"]
    missing = [c for c in needed if c not in comparisons]
    if missing:
        raise ValueError(f"comparisons table lacks column(s) {', '.join(missing)}")
    significant = comparisons["significant"]
    if significant.dtype != bool:
        significant = significant.astype(str).str.strip().str.lower() == "true"
    wins = set()
    for row, is_significant in zip(comparisons[needed].itertuples(index=False), significant):
        if not is_significant or not math.isfinite(row.mean_difference) or row.mean_difference == 0:
            continue
        context = tuple(str(getattr(row, c)) for c in LOSS_CONTEXT)
        winner, loser = (row.level_a, row.level_b) if row.mean_difference < 0 else (row.level_b, row.level_a)
        wins.add((context, str(winner), str(loser)))
    rows = []
    for context, group in cells.groupby(LOSS_CONTEXT, sort=False):
        if group["loss"].nunique() < 2:
            continue
        medians = group.set_index("loss")["final_test_nrmse_median"].astype(float)
        finite = medians[medians.notna()]
        best = str(finite.idxmin()) if not finite.empty else None
        others = [loss for loss in medians.index if loss != best]
        beaten = sum((tuple(map(str, context)), best, str(other)) in wins for other in others) if best else 0
        rows.append(
            {
                **dict(zip(LOSS_CONTEXT, map(str, context))),
                "best": best,
                "best_median": finite.min() if best else math.nan,
                "n_losses": len(medians),
                "n_beaten": beaten,
                "all_beaten": bool(best) and beaten == len(others),
            }
        )
    return pd.DataFrame(rows, columns=[*LOSS_CONTEXT, "best", "best_median", "n_losses", "n_beaten", "all_beaten"])


def comparison_tables(cells: pd.DataFrame, comparisons: pd.DataFrame, study: Study) -> list[dict]:
    """Per experiment with loss comparisons: the best loss of every context as a compact grid
    (rows: dataset, targets, model, where they vary; columns: optimizer and activation, where
    they vary, the optimizer moving to the rows when that makes more than
    :data:`MAX_BEST_COLUMNS` columns), and a tally per loss (contexts where it is compared, best,
    significantly best).

    Returns:
        tables in config experiment order: ``experiment``, ``row_headings``, ``column_groups``
        (``{"label", "span"}`` per optimizer, when it varies), ``column_labels`` (activation or
        optimizer), ``rows`` (``{"labels", "cells"}``, a cell ``{"loss", "mark", "median"}`` or
        None), ``tally`` and ``landscape``; numbered later (:func:`number_items`).
    """
    best = best_losses(order_cells(cells, study), comparisons)
    tables = []
    for experiment in [*study.experiments, *sorted(set(best["experiment"]) - set(study.experiments))]:
        part = best[best["experiment"] == experiment]
        if part.empty:
            continue
        row_dims = [d for d in ("dataset", "targets", "model") if part[d].nunique() > 1] or ["dataset"]
        column_dims = [d for d in ("optimizer", "activation") if part[d].nunique() > 1] or ["activation"]
        if len(column_dims) == 2 and len(part[column_dims].drop_duplicates()) > MAX_BEST_COLUMNS:
            row_dims, column_dims = [*row_dims, "optimizer"], ["activation"]
        elif column_dims == ["optimizer"] and part["optimizer"].nunique() > MAX_BEST_COLUMNS:
            row_dims, column_dims = [*row_dims, "optimizer"], ["activation"]
        row_keys = list(dict.fromkeys(map(tuple, part[row_dims].itertuples(index=False))))
        column_keys = list(dict.fromkeys(map(tuple, part[column_dims].itertuples(index=False))))
        if column_dims == ["optimizer", "activation"]:
            column_keys.sort(key=lambda key: list(dict.fromkeys(part["optimizer"])).index(key[0]))
        lookup = {
            (tuple(r[d] for d in row_dims), tuple(r[d] for d in column_dims)): r
            for r in part.to_dict("records")
        }
        rows = []
        for row_key in row_keys:
            entries = []
            for column_key in column_keys:
                entry = lookup.get((row_key, column_key))
                if entry is None:
                    entries.append(None)
                elif entry["best"] is None:
                    entries.append({"loss": "n/a", "mark": "", "median": ""})
                else:
                    entries.append(
                        {
                            "loss": loss_name(entry["best"]),
                            "mark": "*" if entry["all_beaten"] else "",
                            "median": format_number(entry["best_median"]),
                        }
                    )
            rows.append({"labels": list(row_key), "cells": entries})
        groups = []
        if len(column_dims) == 2:
            for label, keys in itertools.groupby(column_keys, key=lambda key: key[0]):
                groups.append({"label": label, "span": len(list(keys))})
        tally = []
        losses = [loss for loss in study.experiments[experiment].losses] if experiment in study.experiments else []
        compared = cells[(cells["experiment"] == experiment)]
        for loss in [*losses, *sorted(set(compared["loss"]) - set(losses))]:
            contexts = compared[compared["loss"] == loss][LOSS_CONTEXT].drop_duplicates()
            keys = set(map(tuple, contexts.itertuples(index=False)))
            in_part = part[[tuple(k) in keys for k in part[LOSS_CONTEXT].itertuples(index=False)]]
            if in_part.empty:
                continue
            tally.append(
                {
                    "loss": loss,
                    "contexts": format_number(len(in_part)),
                    "best": format_number(int((in_part["best"] == loss).sum())),
                    "significant": format_number(int(((in_part["best"] == loss) & in_part["all_beaten"]).sum())),
                }
            )
        width = text_width([[heading(d), *(str(k[i]) for k in row_keys)] for i, d in enumerate(row_dims)], font=7)
        width += len(column_keys) * (0.6 * 7 * 12 + 8)
        tables.append(
            {
                "kind": "table",
                "experiment": experiment,
                "n_contexts": format_number(len(part)),
                "n_all_beaten": format_number(int(part["all_beaten"].sum())),
                "row_headings": [heading(d) for d in row_dims],
                "column_heading": " / ".join(heading(d) for d in column_dims),
                "column_groups": groups,
                "column_labels": [key[-1] for key in column_keys],
                "rows": rows,
                "tally": tally,
                "landscape": width > PORTRAIT_WIDTH,
            }
        )
    return tables


def comparisons_context(cells: pd.DataFrame, comparisons: pd.DataFrame, study: Study) -> dict:
    """The loss-comparison section: ``tables`` (:func:`comparison_tables`), ``landscape`` (whether
    the section goes on landscape pages), ``n_rows`` (comparisons in the full table),
    ``n_significant`` and ``metric`` (the metric compared)."""
    significant = comparisons["significant"] if "significant" in comparisons else pd.Series([], dtype=bool)
    if significant.dtype != bool:
        significant = significant.astype(str).str.strip().str.lower() == "true"
    metrics = sorted(set(comparisons["metric"])) if "metric" in comparisons else []
    tables = comparison_tables(cells, comparisons, study)
    return {
        "tables": tables,
        # One table too wide for a portrait page puts the whole section on landscape pages.
        "landscape": any(table["landscape"] for table in tables),
        "n_rows": format_number(len(comparisons)),
        "n_significant": format_number(int(significant.sum())),
        "metric": ", ".join(metrics) or "final_test_nrmse",
    }


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def figure_entry(path: str | os.PathLike, caption: str, tall: bool = False) -> dict:
    """A figure to show: its SVG ``path`` and ``caption``; numbered and inlined by :func:`number_items`."""
    return {"kind": "figure", "path": str(path), "caption": caption, "tall": tall}


def number_items(tables: Sequence[dict], figures: Sequence[dict]) -> None:
    """Numbers ``tables`` ``T1, T2, ...`` and ``figures`` ``F1, F2, ...`` in the order given (the
    report's order), in place, and inlines each figure's SVG (:func:`svg_for_html`) with its id as prefix."""
    for number, table in enumerate(tables, 1):
        table.setdefault("id", f"T{number}")
        table.setdefault("number", number)
    for number, figure in enumerate(figures, 1):
        figure["id"], figure["number"] = f"F{number}", number
        svg = svg_for_html(Path(figure["path"]).read_text(encoding="utf-8"), f"F{number}-")
        figure["svg"] = markupsafe.Markup(svg)


def join_words(words: Sequence[str]) -> str:
    """``"a, b and c"``."""
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1] if words else ""


def thinning_note(epochs: int) -> str:
    """The caption's note that curves of more than :data:`lossatlas.figures.MAX_POINTS` epochs are
    drawn at that many (``""`` for shorter ones)."""
    if epochs <= figure_plans.MAX_POINTS:
        return ""
    return f" Curves of {format_number(epochs)} epochs are drawn at {format_number(figure_plans.MAX_POINTS)} evenly spaced epochs."


def floors_caption(floors: Mapping) -> str:
    """The caption's sentence on the loss floors drawn (``floors.json`` of the figures rule:
    ``{"floors": {targets: {loss: value}}}``)."""
    parts = []
    formulas = {"mse": "MSE σ² = {}", "mae": "MAE σ·√(2/π) = {}",
                "binary_crossentropy": "binary cross-entropy: the mean binary entropy of the training targets, {} (no prediction can go below it)"}
    for targets, style in (("raw", "Dotted"), ("standardized", "Dash-dotted")):
        values = floors.get("floors", {}).get(targets, {})
        texts = [formulas[loss].format(format_number(values[loss])) for loss in formulas if loss in values]
        if texts:
            unit = "" if targets == "raw" else " (in standardized units, averaged over seeds)"
            parts.append(f"{style} lines: each loss's floor for {targets} targets{unit}, the training loss of the noise-free "
                         f"generating function: {'; '.join(texts)}.")
    if not parts:
        return "No loss of this figure has a closed-form floor."
    return " ".join(parts) + " Huber and log-cosh have no closed-form floor and get none."


def add_curve_figures(
    sections: Sequence[dict], cells: pd.DataFrame, study: Study, figures: Mapping[str, Mapping[str, Mapping[str, str | os.PathLike]]]
) -> None:
    """Adds to each dataset section (in place) the curve figures of its listed experiments.

    Args:
        sections: from :func:`dataset_sections`.
        figures: dataset -> experiment -> kind (a key of :data:`CURVE_CAPTIONS`, and ``"floors"``:
            the JSON of the floors drawn) -> path.
    """
    import json

    for section in sections:
        dataset = section["dataset"]
        by_experiment = figures.get(dataset, {})
        for experiment, paths in by_experiment.items():
            unknown = set(paths) - set(CURVE_CAPTIONS) - {"floors"}
            if unknown:
                raise ValueError(f"unknown figure kind(s) {', '.join(sorted(unknown))}; known: {', '.join(CURVE_CAPTIONS)}")
            part = cells[(cells["dataset"] == dataset) & (cells["experiment"] == experiment)]
            spec = study.experiments.get(experiment)
            floors = json.loads(Path(paths["floors"]).read_text()) if "floors" in paths else {}
            losses = part["loss"].nunique()
            lines = len(part) / max(losses, 1)
            panel_note = " and output activation" if lines > figure_plans.MAX_LINES_PER_PANEL else ""
            fields = {
                "dataset": dataset,
                "experiment": experiment,
                "n_cells": format_number(len(part)),
                "n_seeds": ", ".join(format_count(n) for n in sorted(set(part["n_seeds"]))) or "n/a",
                "epochs": format_number(spec.epochs) if spec else "n/a",
                "panel_note": panel_note,
                "thinning": thinning_note(spec.epochs if spec else 0),
                "selection": (
                    f"Curves are drawn for the experiments with at most {format_number(figure_plans.CURVE_CELL_LIMIT)} "
                    "cells on a dataset"
                    + (f"; {join_words([s['experiment'] for s in section['summarised']])} "
                       "(more cells) is summarised in the heatmaps instead." if section["summarised"] else ".")
                ),
                "floors": floors_caption(floors),
                "noise_sd": format_number(study.datasets[dataset].noise_sd) if dataset in study.datasets else "n/a",
            }
            for kind, caption in CURVE_CAPTIONS.items():
                if kind in paths:
                    section["figures"].append(figure_entry(paths[kind], caption.format(**fields)))


def study_figure_entries(study: Study, paths: Mapping[str, str | os.PathLike], cells: pd.DataFrame) -> dict[str, list[dict]]:
    """The study-wide figures (:func:`lossatlas.figures.study_figures`) with their captions, by the
    report section that shows them: ``"article"`` and ``"overview"``."""
    plan = figure_plans.study_figures(study)
    unknown = set(paths) - set(plan)
    if unknown:
        raise ValueError(f"unknown study figure(s) {', '.join(sorted(unknown))}; the study makes {', '.join(plan)}")
    entries: dict[str, list[dict]] = {"article": [], "overview": []}
    for name, spec in plan.items():
        if name not in paths:
            continue
        kind = spec["kind"]
        seeds = lambda part: ", ".join(format_count(n) for n in sorted(set(part["n_seeds"]))) or "n/a"  # noqa: E731
        if kind == "article_seeds":
            caption = (
                "The article's three examples, run verbatim with model.fit once per seed. Points: each seed's final "
                "training loss (the last epoch's loss as Keras reports it); the bar below them spans the 2.5–97.5% "
                "quantiles over seeds, the tick marks the median; red line: the value the article printed for its one "
                "unseeded run. Last panel: the test MSE (target units) of examples 2 and 3 on "
                f"{format_number(N_TEST)} fresh samples each, the one metric on which the two compare (their training "
                "losses are different functions); grey lines join the two values of a seed, which share their data."
            )
            entries["article"].append(figure_entry(paths[name], caption))
        elif kind == "nrmse_heatmap":
            part = cells[(cells["experiment"] == spec["experiment"]) & (cells["model"] == spec["model"]) & (cells["targets"] == spec["targets"])]
            caption = (
                f"Median final test nRMSE over the seeds ({seeds(part)} per cell) of every cell of experiment "
                f"{spec['experiment']}, model {spec['model']}, {spec['targets']} targets ({format_number(len(part))} cells). "
                "Panels: dataset (rows) × optimizer (columns); in a panel, rows are losses and columns output "
                "activations. Log colour scale shared by the panels; 1 is the noise floor, lower is better. Hatched: "
                "combinations left out before training (see Excluded cells); †: the output activation cannot reach the "
                "targets (see Flagged cells); n/a on grey: every seed diverged. Per-cell means with CIs are in Appendix A."
            )
            entries["overview"].append(figure_entry(paths[name], caption, tall=True))
        elif kind == "gradient_curves":
            experiments = list(dict.fromkeys(e for e, _ in spec["panels"]))
            epochs = join_words([f"{e} {format_number(study.experiments[e].epochs)}" for e in experiments])
            caption = (
                "Gradient norm of the output layer (kernel and bias, mean over the epoch's steps, before clipping) vs "
                f"epoch, for the article's cells on dataset {spec['dataset']} with {spec['targets']} targets and model "
                f"{spec['model']}: sigmoid + MSE (example 2), sigmoid + binary cross-entropy (example 3) and linear + "
                f"MSE. Panels: experiment · optimizer (epochs: {epochs}). Lines: mean over seeds; shaded bands: 95% "
                "percentile-bootstrap confidence interval of the mean. Log y axis."
                + thinning_note(max(study.experiments[e].epochs for e in experiments))
            )
            entries["overview"].append(figure_entry(paths[name], caption))
        elif kind == "scale_diagnostics":
            scales = join_words([format_number(s) for s in sorted(spec["scales"].values())])
            caption = (
                "Gradient norm of the output layer (top row) and norm of the total parameter update (bottom row) in "
                f"the first epoch vs the target scale ({scales}), log–log, on the datasets of the target-scale family; "
                f"experiment {spec['experiment']}, model {spec['model']}, raw targets, linear output, one panel per "
                "optimizer, one line per loss (means over seeds). Legend: each line's log–log slope with its 95% "
                "bootstrap CI over seeds (results/analysis/scale_slopes.csv). Dashed grey: slope 1, what a quantity "
                "proportional to the scale gives, as the article's argument has it for the gradient. SGD's update is "
                "the learning rate times the gradient, so it scales as the gradient does; Adam divides the gradient "
                "by a running estimate of its size, so its update is expected to change little with the scale: the "
                "update slopes test whether the scale matters for one optimizer and not the other."
            )
            entries["overview"].append(figure_entry(paths[name], caption))
        elif kind == "nrmse_vs_scale":
            scales = join_words([format_number(s) for s in sorted(spec["scales"].values())])
            caption = (
                f"Median final test nRMSE vs the target scale ({scales}), log–log, experiment {spec['experiment']}, "
                f"model {spec['model']}. Panels: target preprocessing × optimizer; colour: loss; marker and dash: output "
                "activation. Dotted line: the noise floor, nRMSE = 1. Combinations left out before training have no line."
            )
            entries["overview"].append(figure_entry(paths[name], caption))
    return entries


# --------------------------------------------------------------------------------------------
# Provenance, context, rendering
# --------------------------------------------------------------------------------------------

def render_time() -> datetime.datetime:
    """``SOURCE_DATE_EPOCH`` when it is set (reproducible builds), else now; in UTC, to the second."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        except ValueError:
            raise ValueError(f"SOURCE_DATE_EPOCH must be an integer (seconds since 1970), got {epoch!r}") from None
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def provenance_context(benchmarks: Sequence[str | os.PathLike], repo: str | os.PathLike,
                       invocation: str | os.PathLike | None = None) -> dict:
    """Package versions, git commit and state, machine, the command line of the run
    (``invocation``: the Snakefile's ``invocation.json``, when it exists) and the wall time of each
    stage from ``benchmarks`` (Snakemake benchmark files; training: those under ``train/``)."""
    stages = stage_times(benchmarks)
    train = next((s for s in stages if s["stage"] == "train"), None)
    if train is None:  # benchmark files not under results/benchmarks/train: count them all as training
        seconds = provenance.read_benchmarks(benchmarks)
        train = {"total": format_number(sum(seconds.values())), "jobs": format_number(len(seconds))}
    git = provenance.git_state(repo)
    dirty = {True: "yes", False: "no", None: "unknown"}[git["dirty"]]
    command = provenance.read_invocation(invocation).get("command") if invocation else None
    return {
        "packages": provenance.package_versions(),
        "commit": git["commit"],
        "short_commit": short_commit(str(git["commit"]), dirty),
        "dirty": dirty,
        "machine": provenance.machine(),
        "training_seconds": train["total"],
        "training_jobs": train["jobs"],
        "stages": stages,
        "command": shown_command(command) if command else None,
    }


def read_analysis(paths: Mapping[str, str | os.PathLike]) -> dict[str, pd.DataFrame]:
    """The analysis tables of :data:`ANALYSIS_FILES` from ``paths`` (name -> CSV path); labels as text."""
    missing = [name for name in ANALYSIS_FILES if name not in paths]
    if missing:
        raise ValueError(f"analysis files missing: {', '.join(missing)}")
    text = {c: str for c in [*LOSS_CONTEXT, "level_a", "level_b", "example", "id"]}
    return {name: pd.read_csv(paths[name], dtype=text) for name in ANALYSIS_FILES}


def build_context(
    study: Study,
    cells: pd.DataFrame,
    figures: Mapping[str, Mapping[str, Mapping[str, str | os.PathLike]]],
    benchmarks: Sequence[str | os.PathLike],
    repo: str | os.PathLike = ".",
    analysis: Mapping[str, pd.DataFrame] | None = None,
    study_figures: Mapping[str, str | os.PathLike] | None = None,
    invocation: str | os.PathLike | None = None,
    citation_file: str | os.PathLike | None = None,
) -> dict:
    """Everything the template shows.

    Args:
        study: the study the results come from.
        cells: the cells table (see module doc).
        figures: dataset -> experiment -> figure kind -> path (see :func:`add_curve_figures`).
        benchmarks: Snakemake benchmark files of the training jobs.
        repo: directory of the code's git checkout.
        analysis: the analysis tables by the names of :data:`ANALYSIS_FILES` (:func:`read_analysis`);
            without them the report has no article, claims or comparison sections.
        study_figures: name -> SVG path of the study-wide figures (:func:`lossatlas.figures.study_figures`).
        invocation: the Snakefile's ``invocation.json`` (the command line), read if it exists.
        citation_file: a CITATION.cff for the title, authors and BibTeX (None: the study's title only).

    Tables get the ids of :func:`table_ids` (from the config); ``citable_tables`` holds them as
    :mod:`lossatlas.tables` writes them.
    """
    check_cells(cells)
    sections = dataset_sections(cells, study)
    add_curve_figures(sections, cells, study, figures)
    study_entries = study_figure_entries(study, study_figures or {}, cells)
    article = claims = comparisons = None
    if analysis is not None:
        article = article_context(analysis["article_summary"], analysis["article_examples"])
        article["tables"] = [{"kind": "table"}, {"kind": "table"}]
        claims = {"kind": "table", "claims": claims_context(analysis["verdicts"])}
        comparisons = comparisons_context(cells, analysis["comparisons"], study)
    appendix = appendix_context(cells, study)

    # Tables get their ids from the config (table_plan); figures are numbered in the order shown.
    tables, figure_list = [], []
    figure_list += study_entries["overview"]
    if comparisons:
        for table in comparisons["tables"]:
            table["key"] = f"comparison:{table['experiment']}"
        tables += comparisons["tables"]
    for section in sections:
        if section["table"]:
            section["table"]["key"] = f"dataset:{section['dataset']}"
            section["table"]["dataset"] = section["dataset"]
            tables.append(section["table"])
        figure_list += section["figures"]
    if claims:
        claims["key"] = "claims"
        tables.append(claims)
    if article:
        article["tables"][0].update(key="article:examples", examples=article["examples"])
        article["tables"][1].update(key="article:comparison", comparison=article["comparison"])
        tables += article["tables"]
    figure_list += study_entries["article"]
    appendix["key"] = "appendix"
    tables.append(appendix)
    assign_table_ids(tables, table_ids(study, with_analysis=analysis is not None))
    number_items(tables, figure_list)
    table_captions(tables, study)
    prov = provenance_context(benchmarks, repo, invocation)
    files = citable_tables(tables, study.config_hash, prov["short_commit"])
    cite = citation_context(citation_file, str(prov["commit"]))

    when = render_time()
    return {
        "title": cite["title"] if cite else study.config["title"],
        "study_title": study.config["title"],
        "citation": cite,
        "abstract": abstract_context(claims["claims"]) if claims else None,
        "threats": threats_context(study),
        "citable_tables": files,
        "n_tables": format_number(len(files)),
        "n_figures": format_number(len(figure_list)),
        "n_claims": format_number(len(claims["claims"])) if claims else "0",
        "version": lossatlas.__version__,
        "config_hash": study.config_hash,
        "article_title": ARTICLE_TITLE,
        "article_date": ARTICLE_DATE,
        "design": design_context(study),
        "definitions": metrics_context(study),
        "n_cells": format_number(len(cells)),
        "n_trials": format_number(int(cells["n_seeds"].sum())),
        "seeds": ", ".join(format_count(n) for n in sorted(set(cells["n_seeds"]))),
        "result_columns": [title for _, title in RESULT_COLUMNS],
        "curve_cell_limit": format_number(figure_plans.CURVE_CELL_LIMIT),
        "loss_names": [{"short": short, "label": label} for label, short in LOSS_NAMES.items() if short != label],
        "article": article,
        "article_figures": study_entries["article"],
        "claims": claims,
        "overview_figures": study_entries["overview"],
        "comparisons": comparisons,
        "sections": sections,
        "tables": [section["table"] for section in sections if section["table"]],
        "appendix": appendix,
        "provenance": prov,
        "render_time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        # PDF dates only when reproducible; without them the PDF carries none.
        "pdf_date": when.strftime("%Y-%m-%dT%H:%M:%SZ") if os.environ.get("SOURCE_DATE_EPOCH") else None,
    }


def render_html(context: Mapping, template: str | os.PathLike, style: str | os.PathLike) -> str:
    """Renders ``context`` with the Jinja ``template`` (autoescaped), the CSS of ``style`` inlined."""
    template = Path(template)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template.parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    css = markupsafe.Markup(Path(style).read_text(encoding="utf-8"))
    return environment.get_template(template.name).render(**context, css=css)


@contextlib.contextmanager
def library_logs_to_stderr(names: Sequence[str] = LOGGERS) -> Iterator[None]:
    """Sends the warnings of the ``names`` loggers to the current ``sys.stderr`` (the job's log under
    :func:`lossatlas.logs.log_to`) instead of Python's last-resort handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    loggers = [logging.getLogger(name) for name in names]
    saved = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, propagate in zip(loggers, saved):
            logger.removeHandler(handler)
            logger.propagate = propagate


def write_pdf(html: str, path: str | os.PathLike, base_url: str | os.PathLike) -> None:
    """Renders ``html`` to a PDF at ``path`` with WeasyPrint, atomically; its warnings go to stderr."""
    import weasyprint

    with library_logs_to_stderr(), atomic_path(path) as tmp:
        weasyprint.HTML(string=html, base_url=str(base_url)).write_pdf(tmp)


def write_report(
    study: Study,
    cells: str | os.PathLike,
    figures: Mapping[str, Mapping[str, Mapping[str, str | os.PathLike]]],
    benchmarks: Sequence[str | os.PathLike],
    template: str | os.PathLike,
    style: str | os.PathLike,
    html: str | os.PathLike,
    pdf: str | os.PathLike,
    repo: str | os.PathLike = ".",
    analysis: Mapping[str, str | os.PathLike] | None = None,
    study_figures: Mapping[str, str | os.PathLike] | None = None,
    invocation: str | os.PathLike | None = None,
    citation_file: str | os.PathLike | None = None,
    tables_dir: str | os.PathLike | None = None,
) -> None:
    """Reads the cells table at ``cells`` and the analysis files at ``analysis`` (name -> path, see
    :data:`ANALYSIS_FILES`), renders the report and writes it as ``html`` and ``pdf``, and every table
    as CSV, LaTeX and Markdown in ``tables_dir`` (when given)."""
    from lossatlas import tables as table_files

    table = read_cells(cells)
    tables = read_analysis(analysis) if analysis is not None else None
    context = build_context(study, table, figures, benchmarks, repo, tables, study_figures, invocation, citation_file)
    if tables_dir is not None:
        for item in context["citable_tables"]:
            table_files.write_table_files(item, tables_dir)
    text = render_html(context, template, style)
    write_text(html, text)
    write_pdf(text, pdf, Path(html).resolve().parent)
    n_figures = len(context["article_figures"]) + len(context["overview_figures"]) + sum(len(s["figures"]) for s in context["sections"])
    print(f"wrote {html} and {pdf}: {len(context['citable_tables'])} tables, {n_figures} figures")


# --------------------------------------------------------------------------------------------
# Citable tables: stable ids from the config, captions, flat rows for CSV / LaTeX / Markdown
# --------------------------------------------------------------------------------------------

def config_cells(study: Study) -> pd.DataFrame:
    """The cells the config defines, as a frame with the coordinate columns of the cells table."""
    return pd.DataFrame([cell_key(cell) for cell in study.cells], columns=list(CELL))


def table_plan(study: Study, with_analysis: bool = True) -> list[str]:
    """The keys of the report's tables in the order it shows them, from the config alone (so that
    their ids ``T1, T2, ...`` are the same for every run of one config): one best-loss table per
    experiment with a context of two or more losses (``"comparison:<experiment>"``), one results
    table per dataset with a listed experiment (``"dataset:<dataset>"``), the claims
    (``"claims"``), the article's two tables (``"article:examples"``, ``"article:comparison"``)
    and every cell (``"appendix"``)."""
    cells = config_cells(study)
    keys = []
    if with_analysis:
        for experiment in study.experiments:
            part = cells[cells["experiment"] == experiment]
            if not part.empty and (part.groupby(LOSS_CONTEXT)["loss"].nunique() >= 2).any():
                keys.append(f"comparison:{experiment}")
    for dataset in study.datasets:
        if not cells[cells["dataset"] == dataset].empty and listed_experiments(cells, dataset, list(study.experiments)):
            keys.append(f"dataset:{dataset}")
    if with_analysis:
        keys += ["claims", "article:examples", "article:comparison"]
    return [*keys, "appendix"]


def table_ids(study: Study, with_analysis: bool = True) -> dict[str, str]:
    """Table key (:func:`table_plan`) -> its id, ``"T1"``, ``"T2"``, ... in plan order."""
    return {key: f"T{number}" for number, key in enumerate(table_plan(study, with_analysis), 1)}


def assign_table_ids(tables: Sequence[dict], ids: Mapping[str, str]) -> None:
    """Gives each table (with its ``key``) its ``id`` and ``number`` from ``ids``, in place; a table the
    plan lacks (results that do not match the config) is numbered after the planned ones."""
    extra = len(ids)
    for table in tables:
        if table["key"] in ids:
            table["id"] = ids[table["key"]]
        else:
            extra += 1
            table["id"] = f"T{extra}"
        table["number"] = int(table["id"][1:])


def short_commit(commit: str, dirty: str = "no") -> str:
    """The first 7 hex digits of a commit, ``+dirty`` when the tree had changes; else ``"unknown"``."""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        return "unknown"
    return commit[:7] + ("+dirty" if dirty == "yes" else "")


def table_stamp(table_id: str, config_hash: str, commit: str) -> str:
    """The citable stamp of a caption: ``"[T3; config 1a2b3c4d5e6f; commit abc1234]"``."""
    return f"[{table_id}; config {config_hash}; commit {commit}]"


TABLE_TITLES = {"comparison": "Best loss per context, experiment {}", "dataset": "Results on dataset {}",
                "claims": "Claims and verdicts", "article:examples": "The article's examples over seeds",
                "article:comparison": "Example 3 against example 2, paired", "appendix": "Every cell"}


def table_captions(tables: Sequence[dict], study: Study) -> None:
    """Sets each table's ``title`` (short, for the contents) and ``caption`` (plain text: what it shows
    and what to look at), in place."""
    threshold = format_number(study.config["metrics"]["nrmse_threshold"])
    for table in tables:
        key = table["key"]
        kind, _, name = key.partition(":")
        table["title"] = TABLE_TITLES[kind].format(name) if kind in TABLE_TITLES else TABLE_TITLES.get(key, key)
        if key.startswith("comparison:"):
            table["caption"] = (
                f"Best loss per context of experiment {table['experiment']} ({table['n_contexts']} contexts with two or "
                f"more losses; significantly best in {table['n_all_beaten']}), with its median test nRMSE; * marks a loss "
                f"significantly better than every other loss of its context (paired Wilcoxon, Holm). Columns: "
                f"{table['column_heading'].lower()}. Look at which loss wins most columns and where it carries a *."
            )
        elif key.startswith("dataset:"):
            table["caption"] = (
                f"Results on dataset {table['dataset']}, by experiment: test nRMSE mean over the seeds that did not diverge "
                f"[95% BCa bootstrap CI] (1 is the noise floor; lower is better), median and IQM; divergence, stagnation "
                f"and reach rates; Kaplan–Meier median steps to nRMSE ≤ {threshold}. Look at the nRMSE of sigmoid and "
                "tanh outputs against linear ones, and at the stagnation rate."
            )
        elif key == "claims":
            table["caption"] = ("The article's claims, the rule that decides each, and the verdicts computed from the results. "
                                "Look at the verdict and at how many contexts the claim holds in.")
        elif key == "article:examples":
            table["caption"] = (
                "The article's printed final training loss against its distribution over seeds: median and 2.5–97.5% "
                "quantile range; whether the printed value lies in that range; its quantile (the fraction of seeds with "
                "a lower loss); and the test MSE (target units), median [2.5–97.5%]. Look at whether the printed value "
                "is a typical seed."
            )
        elif key == "article:comparison":
            table["caption"] = ("Example 3 (sigmoid + binary cross-entropy) against example 2 (sigmoid + MSE) on test MSE, "
                                "paired by seed; lower is better. Look at the CI of the mean difference and at p.")
        elif key == "appendix":
            table["caption"] = (
                "Every cell: test RMSE and MAE (target units) and final training loss (in the units trained in), mean "
                "[95% BCa CI] over the seeds that did not diverge; mean R² (mean best R²)."
            )


def flat_table(table: dict, result_columns: Sequence[str]) -> tuple[list[str], str, list[list[str]]]:
    """``(columns, align, rows)`` of a report table: the texts the HTML shows (a CI after its mean)."""
    key = table["key"]
    if key.startswith("comparison:"):
        labels = table["column_labels"]
        if table["column_groups"]:
            groups = [g["label"] for g in table["column_groups"] for _ in range(g["span"])]
            labels = [f"{g} / {label}" for g, label in zip(groups, labels)]
        columns = [*table["row_headings"], *labels]
        rows = [[*row["labels"], *(f"{c['loss']}{c['mark']} {c['median']}".strip() if c else "" for c in row["cells"])]
                for row in table["rows"]]
        return columns, "l" * len(table["row_headings"]) + "r" * len(labels), rows
    if key.startswith("dataset:"):
        dims = [d["name"] for d in table["dimensions"]]
        columns = ["Experiment", *(d["heading"] for d in table["dimensions"]), *result_columns]
        rows = []
        for group in table["groups"]:
            for row in group["rows"]:
                labels = [row["labels"][d] + (" †" if d == "activation" and row["flag"] else "") for d in dims]
                values = [f"{v['main']} {v['ci']}".strip() for v in row["values"]]
                rows.append([group["experiment"], *labels, *values])
        return columns, "l" * (1 + len(dims)) + "r" * len(result_columns), rows
    if key == "claims":
        columns = ["Id", "Claim", "Article", "Rule", "Verdict", "Holds in"]
        rows = [[c["id"], f"{c['name']}. {c['claim']}", c["article"], c["rule"], c["verdict"], f"{c['holds']} contexts: {c['holds_in']}"]
                for c in table["claims"]]
        return columns, "llllll", rows
    if key == "article:examples":
        columns = ["Example", "Seeds", "Printed loss", "Median loss", "2.5–97.5% range", "Printed in range",
                   "Printed quantile", "Test MSE median [range]"]
        rows = [[e["example"], e["n_seeds"], e["printed"], e["median"], e["range"], e["inside"], e["quantile"],
                 f"{e['test_median']} {e['test_range']}"] for e in table["examples"]]
        return columns, "lrrrrrrr", rows
    if key == "article:comparison":
        return ["Quantity", "Value"], "lr", [[r["heading"], r["value"]] for r in table["comparison"]]
    if key == "appendix":
        dims = [d["name"] for d in table["dimensions"]]
        columns = [*(d["heading"] for d in table["dimensions"]), "Seeds", *table["metrics"], "R² (best R²)"]
        rows = [[*(row["labels"][d] + (" †" if d == "activation" and row["flag"] else "") for d in dims), row["seeds"],
                 *(f"{m['mean']} {m['ci']}" for m in row["metrics"]), row["r2"]] for row in table["rows"]]
        return columns, "l" * len(dims) + "r" * (2 + len(table["metrics"])), rows
    raise ValueError(f"unknown table key {key!r}")


def citable_tables(tables: Sequence[dict], config_hash: str, commit: str) -> list[dict]:
    """The report's tables as :mod:`lossatlas.tables` writes them, each caption ending in its stamp;
    sets each table's ``stamp`` too (in place)."""
    files = []
    for table in tables:
        table["stamp"] = table_stamp(table["id"], config_hash, commit)
        columns, align, rows = flat_table(table, [title for _, title in RESULT_COLUMNS])
        files.append({"id": table["id"], "number": table["number"], "title": table["title"],
                      "caption": f"{table['caption']} {table['stamp']}",
                      "columns": columns, "align": align, "rows": rows})
    return sorted(files, key=lambda t: t["number"])


# --------------------------------------------------------------------------------------------
# Abstract, threats to validity, provenance of stages, invocation, citation
# --------------------------------------------------------------------------------------------

def abstract_context(claims: Sequence[dict]) -> dict:
    """The abstract's verdict counts (``"2 supported, 1 not supported and 1 mixed"``) and one sentence per claim."""
    counts = {v: sum(c["verdict"] == v for c in claims) for v in VERDICTS}
    summary = join_words([f"{format_number(n)} {v}" for v, n in counts.items()])
    sentences = [
        {"id": c["id"], "verdict": c["verdict"], "verdict_class": c["verdict_class"],
         "text": f"{c['name']}: {c['verdict']} (holds in {c['holds']} contexts)."}
        for c in claims
    ]
    return {"n_claims": format_number(len(claims)), "summary": summary, "sentences": sentences}


def threats_context(study: Study) -> dict:
    """What the grid does not cover, from the config, and the fixed scope of the code."""
    families = sorted({spec.family for spec in study.datasets.values()})
    epochs = sorted({e.epochs for e in study.experiments.values()})
    seeds = sorted({e.n_seeds for e in study.experiments.values()})
    losses = list(dict.fromkeys(loss for e in study.experiments.values() for loss in e.losses))
    activations = list(dict.fromkeys(a for e in study.experiments.values() for a in e.activations))
    batch = sorted({e.batch_size for e in study.experiments.values()})
    return {
        "families": [{"family": f, "description": FAMILIES[f].description} for f in families],
        "n_train": join_words([format_number(n) for n in sorted({s.n_train for s in study.datasets.values()})]),
        "models": [m.describe() for m in study.models.values()],
        "optimizers": [o.describe() for o in study.optimizers.values()],
        "losses": join_words([loss_name(loss) for loss in losses]),
        "activations": join_words(activations),
        "epochs": join_words([format_number(e) for e in epochs]),
        "batch_sizes": join_words([format_number(b) for b in batch]),
        "seeds": join_words([format_number(n) for n in seeds]),
        "n_excluded": format_number(len(study.excluded)),
    }


# Benchmark directories (results/benchmarks/<dir>/...) and files, by the rule that wrote them; in pipeline order.
STAGES = {"datasets": "dataset", "train": "train", "article": "article", "aggregate": "aggregate", "analysis": "analysis",
          "figures": "figures", "figures/study": "study_figures", "report": "report"}


def benchmark_stage(path: str | os.PathLike) -> str:
    """The rule a benchmark file belongs to, from its path: ``results/benchmarks/<rule or dir>/...``
    (``figures/study.tsv`` is rule study_figures)."""
    parts = Path(path).with_suffix("").parts
    parts = parts[parts.index("benchmarks") + 1 :] if "benchmarks" in parts else parts[-1:]
    if tuple(parts) == ("figures", "study"):
        return "study_figures"
    return STAGES.get(parts[0], parts[0])


def stage_times(paths: Sequence[str | os.PathLike]) -> list[dict]:
    """Per stage (rule) of the benchmark files ``paths``: jobs, total and max wall seconds (first data
    row of each file), in pipeline order, then any other stage by name."""
    seconds = provenance.read_benchmarks(paths)
    stages: dict[str, list[float]] = {}
    for path, value in seconds.items():
        stages.setdefault(benchmark_stage(path), []).append(value)
    order = list(dict.fromkeys(STAGES.values()))
    names = sorted(stages, key=lambda s: (order.index(s) if s in order else len(order), s))
    return [
        {"stage": s, "jobs": format_number(len(stages[s])), "total": format_number(sum(stages[s])), "max": format_number(max(stages[s]))}
        for s in names
    ]


# Snakemake options that only choose which jobs run again: left out of the command line shown, so that
# re-rendering the report (``--forcerun report``) gives the same bytes. None: the option takes every
# argument up to the next option; 0: none.
JOB_SELECTION_OPTIONS = {"--forcerun": None, "-R": None, "--allowed-rules": None, "--rerun-triggers": None, "--until": None,
                         "-U": None, "--omit-from": None, "-O": None, "--forceall": 0, "-F": 0, "--force": 0, "-f": 0,
                         "--rerun-incomplete": 0, "--ri": 0, "--touch": 0, "-t": 0}


def shown_command(argv: Sequence[str]) -> str:
    """The command line of a run (``invocation.json``), options of :data:`JOB_SELECTION_OPTIONS` left out, shell-quoted."""
    import shlex

    kept, skipping = [], False
    for index, arg in enumerate(argv):
        name = arg.split("=", 1)[0]
        if index and name in JOB_SELECTION_OPTIONS:
            skipping = JOB_SELECTION_OPTIONS[name] is None and "=" not in arg
            continue
        if skipping and not arg.startswith("-"):
            continue
        skipping = False
        kept.append(arg)
    return shlex.join(kept)


def citation_context(cff_path: str | os.PathLike | None, commit: str) -> dict | None:
    """Title, authors, version, date and BibTeX from the CITATION.cff at ``cff_path`` (None: no citation)."""
    from lossatlas import citation

    if cff_path is None:
        return None
    cff = citation.read_cff(cff_path)
    return {
        "title": str(cff["title"]),
        "authors": citation.author_names(cff),
        "version": str(cff.get("version", "")),
        "date": str(cff.get("date-released", "")),
        "message": str(cff.get("message", "")),
        "bibtex": citation.bibtex(cff, commit if re.fullmatch(r"[0-9a-f]{40}", commit) else None),
    }
