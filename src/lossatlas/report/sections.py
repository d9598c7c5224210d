"""The results per dataset and the appendix of every cell, from the cells table.

The cells table (``results/aggregate/cells.csv``, :data:`lossatlas.core.results.TABLES`) has one row
per cell: its coordinates (:data:`lossatlas.core.results.CELL`), counts and rates, and per metric
``{metric}_mean, _ci_low, _ci_high, _median, _iqm, _n_finite``; :data:`CELLS_COLUMNS` lists the
metric columns the report reads on top of the table's required ones. The results per dataset show
the default view (each cell at its optimizer's default rate, :func:`lossatlas.design.views.at_default`);
the appendix lists every cell, every rate of a tuned experiment included.
"""

from __future__ import annotations

import json
import math
import re
from typing import Sequence

import pandas as pd

from lossatlas.core import results
from lossatlas.core.results import BASE, CELL
from lossatlas.core.textfmt import (
    flag_text,
    format_count,
    format_counts,
    format_error,
    format_number,
    format_rate,
    format_steps,
    heading,
    interval_parts,
    loss_name,
    parse_number,
    rate_text,
)
from lossatlas.design.plan import listed_experiments
from lossatlas.design.views import at_default

# Cell coordinates every results table shows; the others but dataset only where they vary.
TABLE_DIMENSIONS = ("loss", "activation")
# Coordinates the appendix of every cell always shows.
APPENDIX_DIMENSIONS = ("dataset", "learning_rate", "loss", "activation")
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
# The metric columns of the cells table the report reads (the table's required columns besides).
CELLS_COLUMNS = [
    *(f"final_test_nrmse_{stat}" for stat in ("mean", "ci_low", "ci_high", "median", "iqm")),
    "final_test_r2_mean",
    "best_test_r2_mean",
    *(f"{metric}_{stat}" for metric, _ in SUMMARY_METRICS for stat in ("mean", "ci_low", "ci_high")),
]
# The appendix of every cell is printed in the PDF only up to this many cells (it is always in the HTML).
APPENDIX_PRINT_LIMIT = 400
PORTRAIT_WIDTH = 510  # points of text width on an A4 portrait page (182 mm = 516 pt, style.css margins), less a margin


def check_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` if it has the cells table's required columns (:func:`lossatlas.core.results.check`) and
    those of :data:`CELLS_COLUMNS`; ValueError naming the missing ones."""
    results.check(cells, "cells")
    missing = [column for column in CELLS_COLUMNS if column not in cells.columns]
    if missing:
        raise ValueError(f"cells table lacks column(s) {', '.join(missing)}")
    return cells


def table_dimensions(cells: pd.DataFrame, always: Sequence[str] = TABLE_DIMENSIONS,
                     skip: Sequence[str] = ("dataset", "learning_rate")) -> list[str]:
    """The cell coordinates a table of ``cells`` shows, in cells-table order: those of ``always``, and
    any other but those of ``skip`` that takes more than one value (the learning rate is skipped by
    default: a table of the default view has the optimizer's rate)."""
    return [d for d in CELL if d not in skip and (d in always or cells[d].nunique() > 1)]


def table_rows(cells: pd.DataFrame) -> list[dict]:
    """One results-table row per row of ``cells`` (see module doc), in the order given.

    Returns:
        dicts with ``labels`` (cell coordinate -> text, dataset left out, the loss by its short name
        of :data:`lossatlas.core.textfmt.LOSS_NAMES`, to keep the table on a portrait page), ``flag``
        (the reach flag, ``""`` when none) and ``values``: one ``{"main", "ci"}`` per entry of
        :data:`RESULT_COLUMNS` (``ci`` empty but for the nRMSE, where ``main + " " + ci`` is
        :func:`lossatlas.core.textfmt.format_interval` of an error): test nRMSE mean [CI], median and
        IQM over the seeds that did not diverge (errors, 3 significant digits); divergence as ``"rate
        (diverged/seeds)"``; the stagnation and reach rates; the Kaplan-Meier median steps to the nRMSE
        threshold (``"not reached"`` when fewer than half reach it).
    """
    check_cells(cells)
    rows = []
    for _, cell in cells.iterrows():
        mean, bounds = interval_parts(cell["final_test_nrmse_mean"], cell["final_test_nrmse_ci_low"],
                                      cell["final_test_nrmse_ci_high"], "error")
        values = {
            "nrmse": {"main": mean, "ci": bounds},
            "median": {"main": format_error(cell["final_test_nrmse_median"]), "ci": ""},
            "iqm": {"main": format_error(cell["final_test_nrmse_iqm"]), "ci": ""},
            "divergence": {"main": rate_text(cell["divergence_rate"], cell["n_diverged"], cell["n_seeds"]), "ci": ""},
            "stagnation": {"main": format_rate(cell["stagnation_rate"]), "ci": ""},
            "reach": {"main": format_rate(cell["reach_rate"]), "ci": ""},
            "steps": {"main": format_steps(cell["steps_to_threshold_median"]), "ci": ""},
        }
        rows.append(
            {
                "labels": {column: label_text(cell, column) for column in CELL if column != "dataset"},
                "flag": flag_text(cell["reach_flag"]),
                "values": [values[key] for key, _ in RESULT_COLUMNS],
                "kept": format_count(cell["n_seeds"] - cell["n_diverged"]),
            }
        )
    return rows


def label_text(cell, column: str, short_loss: bool = True) -> str:
    """A coordinate of a cells-table row as a table shows it: the loss by its short name
    (:data:`lossatlas.core.textfmt.LOSS_NAMES`), the rate by :func:`lossatlas.core.textfmt.format_rate`."""
    if column == "learning_rate":
        return format_rate(float(cell[column]))
    if column == "loss" and short_loss:
        return loss_name(str(cell[column]))
    return str(cell[column])


def horizon_text(cell) -> str:
    """A cell's status past the budget and the steps it was trained (``horizon_status`` and
    ``horizon_steps`` of the cells table: ``"reached (960)"``), ``""`` for a cell not trained past the budget."""
    status = cell.get("horizon_status")
    if not isinstance(status, str) or not status:
        return ""
    steps = cell.get("horizon_steps")
    return f"{status} ({format_steps(steps)})" if steps is not None and pd.notna(steps) else status


def appendix_rows(cells: pd.DataFrame) -> list[dict]:
    """One appendix row per row of ``cells``: ``labels`` (every coordinate; the loss by its short
    name, the rate by :func:`lossatlas.core.textfmt.format_rate`), ``flag``, ``seeds``, ``r2`` (``"mean R² (mean best
    R²)"``), ``horizon`` (:func:`horizon_text`) and ``metrics``: one ``{"mean", "ci"}`` per entry of
    :data:`SUMMARY_METRICS` (so that ``mean + " " + ci`` is :func:`lossatlas.core.textfmt.format_interval`
    of an error: the CI to the mean's decimals)."""
    check_cells(cells)
    return [
        {
            "labels": {column: label_text(cell, column) for column in CELL},
            "horizon": horizon_text(cell),
            "flag": flag_text(cell["reach_flag"]),
            "seeds": format_count(cell["n_seeds"]),
            "r2": f"{format_number(cell['final_test_r2_mean'])} ({format_number(cell['best_test_r2_mean'])})",
            "metrics": [
                dict(zip(("mean", "ci"), interval_parts(cell[f"{metric}_mean"], cell[f"{metric}_ci_low"],
                                                        cell[f"{metric}_ci_high"], "error")))
                for metric, _ in SUMMARY_METRICS
            ],
        }
        for cell in cells.to_dict("records")
    ]


def order_cells(cells: pd.DataFrame, study) -> pd.DataFrame:
    """``cells`` in the study's grid order (config order) of the cell without its rate, then by
    learning rate (rates added past a tuned sweep, which the study does not list, among their
    cell's); cells the study does not list at all come last."""
    position: dict[tuple, int] = {}
    for index, cell in enumerate(study.cells):
        position.setdefault(tuple(str(getattr(cell, c)) for c in BASE), index)
    keys = [position.get(tuple(map(str, row)), len(position)) for row in cells[BASE].itertuples(index=False)]
    return cells.assign(_order=keys).sort_values(["_order", *BASE, "learning_rate"], kind="stable").drop(columns="_order")


def text_width(columns: Sequence[Sequence[str]], font: float = 7.5, padding: float = 8) -> float:
    """Rough width in points of a table: the widest text of each column at 0.6 em a character
    (DejaVu Sans), plus ``padding`` points a column. A column's first text is its heading, which
    may wrap: only its longest word counts."""
    widths = [max([max(map(len, column[0].split()), default=0), *map(len, column[1:])]) for column in columns]
    return 0.6 * font * sum(widths) + padding * len(columns)


def is_wide(headings: Sequence[str], rows: Sequence[Sequence[str]], font: float = 6.5) -> bool:
    """Whether a table of ``headings`` and ``rows`` (texts) is wider than an A4 portrait page's text
    (:func:`text_width`): it then goes on a landscape page."""
    columns = [[heading, *(row[index] for row in rows)] for index, heading in enumerate(headings)]
    return text_width(columns, font=font, padding=6) > PORTRAIT_WIDTH


def table_width(dimensions: Sequence[str], rows: Sequence[dict]) -> float:
    """Rough width in points of a results table (:func:`text_width` at its 6.5 pt type, the CI at 5.8 pt)."""
    columns = [[heading(d), *(row["labels"][d] + " " * bool(row["flag"]) for row in rows)] for d in dimensions]
    for index, (_, title) in enumerate(RESULT_COLUMNS):
        texts = [row["values"][index]["main"] + " " * round(0.9 * len(row["values"][index]["ci"])) for row in rows]
        columns.append([title, *texts])
    return text_width(columns, font=6.5, padding=6)


def dataset_sections(cells: pd.DataFrame, study) -> list[dict]:
    """One section per dataset that has cells in the default view (:func:`lossatlas.design.views.at_default`:
    each cell at its optimizer's default rate), in the config's dataset order.

    Each: ``dataset``, ``table`` (None when every experiment on the dataset is too large to list;
    else ``dimensions``, ``groups`` (one per listed experiment: ``experiment``, ``n_cells``,
    ``seeds``, ``epochs``, ``rows`` from :func:`table_rows`), ``landscape``, ``any_flag``),
    ``summarised`` (the experiments left out of the table, with their cell counts) and ``figures``
    (empty; the report adds the curve figures). Tables get their ids later.
    """
    check_cells(cells)
    cells = order_cells(at_default(cells, study), study)
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
            {"experiment": e, "n_cells": format_count(int(n))}
            for e, n in subset.loc[~subset["experiment"].isin(listed), "experiment"].value_counts().sort_index().items()
        ]
        table = None
        if not shown.empty:
            dimensions = table_dimensions(shown, skip=("dataset", "experiment", "learning_rate"))
            groups = []
            for experiment in listed:
                part = shown[shown["experiment"] == experiment]
                spec = study.experiments.get(experiment)
                groups.append(
                    {
                        "experiment": experiment,
                        "n_cells": format_count(len(part)),
                        "seeds": format_counts(part["n_seeds"]),
                        "epochs": format_count(spec.epochs) if spec else "n/a",
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


def results_tables(cells: pd.DataFrame, study) -> list[dict]:
    """The per-dataset results tables of :func:`dataset_sections`, each with its ``dataset``, numbered
    ``T1, T2, ...`` among themselves."""
    tables = [{**s["table"], "dataset": s["dataset"]} for s in dataset_sections(cells, study) if s["table"] is not None]
    for number, table in enumerate(tables, 1):
        table.update(id=f"T{number}", number=number)
    return tables


def rate_order(text: str) -> tuple[bool, float]:
    """Sort key of a rate as a table shows it: by its value, a text that is no number last."""
    value = parse_number(text)
    return (math.isnan(value), 0.0 if math.isnan(value) else value)


def filter_options(rows: Sequence[dict], dimensions: Sequence[str]) -> list[dict]:
    """Per coordinate of ``dimensions`` (the appendix's columns), the values its rows (:func:`appendix_rows`)
    show, as the table shows them: ``name``, ``heading`` and ``values`` (in grid order; learning rates
    from the smallest, by :func:`lossatlas.core.textfmt.parse_number`, a text that is no number last)."""
    options = []
    for dimension in dimensions:
        values = list(dict.fromkeys(row["labels"][dimension] for row in rows))
        if dimension == "learning_rate":
            values.sort(key=rate_order)
        options.append({"name": dimension, "heading": heading(dimension), "values": values})
    return options


def appendix_context(cells: pd.DataFrame, study) -> dict:
    """The appendix table of every cell, every rate included: ``dimensions`` (dataset, learning
    rate, loss, activation and every other coordinate that varies), ``rows`` (:func:`appendix_rows`,
    in grid order), ``filters`` (:func:`filter_options`: what the HTML's table explorer filters by),
    ``fixed`` (the coordinates every cell shares: ``name``, ``heading``, ``value``), ``metrics``
    (headings), ``horizon`` (whether a cell was trained past the budget:
    the table then says how it ended) and ``print`` (whether the PDF shows it: at most
    :data:`APPENDIX_PRINT_LIMIT` cells)."""
    rows = appendix_rows(order_cells(cells, study))
    dimensions = table_dimensions(cells, always=APPENDIX_DIMENSIONS, skip=())
    return {
        "filters": filter_options(rows, dimensions),
        "fixed": [{"name": d, "heading": heading(d), "value": rows[0]["labels"][d] if rows else ""}
                  for d in CELL if d not in dimensions],
        "horizon": any(row["horizon"] for row in rows),
        "kind": "table",
        "dimensions": [{"name": d, "heading": heading(d)} for d in dimensions],
        "metrics": [title for _, title in SUMMARY_METRICS],
        "rows": rows,
        "print": len(rows) <= APPENDIX_PRINT_LIMIT,
        "print_limit": format_count(APPENDIX_PRINT_LIMIT),
        "any_flag": any(row["flag"] for row in rows),
        # A table too long to print is sent to the browser as data, once, not as rows of markup.
        "data": appendix_data(rows, dimensions) if len(rows) > APPENDIX_PRINT_LIMIT else None,
    }


def interval_data(mean: str, interval: str) -> str:
    """A mean and its CI (``"1.2"``, ``"[1.1, 1.3]"``, as :func:`lossatlas.core.textfmt.format_interval`
    writes them) as the explorer's data: ``"1.2 1.1 1.3"`` (numbers never contain a space); the
    explorer writes ``"[1.1, 1.3]"`` back."""
    bounds = re.fullmatch(r"\[(\S+), (\S+)\]", interval)
    if " " in mean or bounds is None:
        raise ValueError(f"not a mean and its interval: {mean!r} {interval!r}")
    return f"{mean} {bounds.group(1)} {bounds.group(2)}"


def appendix_data(rows: Sequence[dict], dimensions: Sequence[str]) -> str:
    """The appendix's rows (:func:`appendix_rows`) as compact JSON, for the HTML's table explorer
    (``report/explore.js``) to build the table from: ``values`` (per column of ``dimensions``, the
    values of :func:`filter_options`), ``flag`` (the column a flag follows: the activation's),
    ``metrics`` (how many metrics a row has) and ``rows``, each: the index of its value of every coordinate column, its flag (1: the output
    activation cannot reach the targets), its seeds, each metric's mean and CI
    (:func:`interval_data`), its R² and how training past the budget ended (left out when it was
    not). ``<``, ``>`` and ``&`` are escaped (``\\u003c``, ...): the text is safe inside a
    ``<script>`` element."""
    values = [option["values"] for option in filter_options(rows, dimensions)]
    index = [{value: number for number, value in enumerate(column)} for column in values]
    encoded = []
    for row in rows:
        fields = [*(index[i][row["labels"][d]] for i, d in enumerate(dimensions)), int(bool(row["flag"])), row["seeds"],
                  *(interval_data(metric["mean"], metric["ci"]) for metric in row["metrics"]), row["r2"], row["horizon"]]
        encoded.append(fields if fields[-1] else fields[:-1])
    flag = list(dimensions).index("activation") if "activation" in dimensions else 0
    text = json.dumps({"values": values, "flag": flag, "metrics": len(SUMMARY_METRICS), "rows": encoded},
                      ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
