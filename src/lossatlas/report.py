"""The report: its context, built from the results files and the study, rendered to HTML and PDF.

Every number the report shows is computed from the results files or the config and formatted by
:func:`format_number`; a confidence interval reads ``"mean [low, high]"`` (:func:`format_interval`).

The cells table (``results/aggregate/cells.csv``, see :func:`lossatlas.aggregate.summarize_cells`)
has one row per cell: the cell's coordinates (the columns of :data:`lossatlas.aggregate.CELL`:
experiment, dataset, model, optimizer, loss, activation, ...), ``n_seeds, n_diverged,
divergence_rate, reach_flag`` and, for each metric of :data:`SUMMARY_METRICS`,
``{metric}_mean, {metric}_ci_low, {metric}_ci_high, {metric}_median``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
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
from lossatlas import provenance
from lossatlas.aggregate import CELL
from lossatlas.atomic import atomic_path, write_text
from lossatlas.config import Experiment, Study
from lossatlas.datasets import FAMILIES

# Cell coordinates every results table shows; the others but dataset only where they vary.
TABLE_DIMENSIONS = ("model", "optimizer", "loss", "activation")
# Summary metrics of the results tables: (column prefix in cells.csv, heading).
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
    "reach_flag",
    *(f"{metric}_{stat}" for metric, _ in SUMMARY_METRICS for stat in ("mean", "ci_low", "ci_high")),
]
# Figure kinds drawn for every dataset, in the order the report shows them, with their captions.
FIGURE_CAPTIONS = {
    "loss_curves": (
        "Training loss vs epoch on dataset {dataset}, one panel per loss function (values of different "
        "losses are not comparable). Lines: mean over {n_seeds} seeds; shaded bands: 95% percentile-bootstrap "
        "confidence interval of the mean. Seeds with a non-finite value are left out."
    ),
    "test_rmse": (
        "Test RMSE vs epoch on dataset {dataset}, one panel per loss function on one shared y axis (test "
        "RMSE is comparable across losses). Lines: mean over {n_seeds} seeds; shaded bands: 95% "
        "percentile-bootstrap confidence interval of the mean. Seeds with a non-finite value are left out."
    ),
}
LOGGERS = ("weasyprint", "fontTools")
PORTRAIT_WIDTH = 500  # points of text width on an A4 portrait page (style.css margins), less a margin


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


def table_dimensions(cells: pd.DataFrame) -> list[str]:
    """The cell coordinates a results table of ``cells`` shows, in cells-table order: those of
    :data:`TABLE_DIMENSIONS`, and any other but ``dataset`` that takes more than one value."""
    return [d for d in CELL if d != "dataset" and (d in TABLE_DIMENSIONS or cells[d].nunique() > 1)]


def table_rows(cells: pd.DataFrame) -> list[dict]:
    """One results-table row per row of ``cells`` (see module doc), in the order given.

    Returns:
        dicts with ``labels`` (cell coordinate -> text, dataset left out), ``flag`` (the reach
        flag, ``""`` when none), ``metrics`` (one ``{"mean", "ci"}`` per entry of
        :data:`SUMMARY_METRICS`, so that ``mean + " " + ci`` is :func:`format_interval`) and
        ``divergence`` (``"rate (diverged/seeds)"``).
    """
    check_cells(cells)
    rows = []
    for _, cell in cells.iterrows():
        rows.append(
            {
                "labels": {column: str(cell[column]) for column in CELL if column != "dataset"},
                "flag": flag_text(cell["reach_flag"]),
                "metrics": [
                    {
                        "mean": format_number(cell[f"{metric}_mean"]),
                        "ci": format_bounds(cell[f"{metric}_ci_low"], cell[f"{metric}_ci_high"]),
                    }
                    for metric, _ in SUMMARY_METRICS
                ],
                "divergence": (
                    f"{format_number(cell['divergence_rate'])} "
                    f"({format_number(cell['n_diverged'])}/{format_number(cell['n_seeds'])})"
                ),
            }
        )
    return rows


def cell_key(cell) -> tuple:
    """A cell's coordinates in :data:`CELL` order (``cell``: a Cell or a cells-table row)."""
    return tuple(str(getattr(cell, column)) for column in CELL)


def order_cells(cells: pd.DataFrame, study: Study) -> pd.DataFrame:
    """``cells`` in the study's grid order (config order); cells the study does not list come last."""
    position = {cell_key(cell): index for index, cell in enumerate(study.cells)}
    keys = [position.get(cell_key(row), len(position)) for row in cells[CELL].itertuples(index=False)]
    return cells.assign(_order=keys).sort_values(["_order", *CELL], kind="stable").drop(columns="_order")


def table_width(dimensions: Sequence[str], rows: Sequence[dict]) -> float:
    """Rough width in points of a results table at the print style's 7.5 pt type: the widest text of
    each column at 4.1 pt a character (the brackets at 6.5 pt type), plus 8 pt of padding a column."""
    columns = [max(len(heading(d)), *(len(row["labels"][d]) for row in rows)) for d in dimensions]
    for index in range(len(SUMMARY_METRICS)):
        columns.append(max(max(len(row["metrics"][index]["mean"]), 0.87 * len(row["metrics"][index]["ci"])) for row in rows))
    columns.append(max(len("Divergence"), *(len(row["divergence"]) for row in rows)))
    return 4.1 * sum(columns) + 8 * len(columns)


def results_tables(cells: pd.DataFrame, study: Study) -> list[dict]:
    """One results table per dataset that has cells, in the config's dataset order, ids ``T1, T2, ...``."""
    check_cells(cells)
    cells = order_cells(cells, study)
    order = [*study.datasets, *sorted(set(cells["dataset"]) - set(study.datasets))]
    tables = []
    for dataset in order:
        subset = cells[cells["dataset"] == dataset]
        if subset.empty:
            continue
        rows = table_rows(subset)
        number = len(tables) + 1
        dimensions = table_dimensions(subset)
        tables.append(
            {
                "id": f"T{number}",
                "number": number,
                "dataset": dataset,
                "seeds": ", ".join(format_number(n) for n in sorted(set(subset["n_seeds"]))),
                "dimensions": [{"name": d, "heading": heading(d)} for d in dimensions],
                # Tables wider than an A4 portrait page's text (510 pt) go on a landscape page.
                "landscape": table_width(dimensions, rows) > PORTRAIT_WIDTH,
                "any_flag": any(row["flag"] for row in rows),
                "rows": rows,
            }
        )
    return tables


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


def figure_entries(tables: Sequence[dict], figures: Mapping[str, Mapping[str, str | os.PathLike]]) -> None:
    """Adds to each table (in place) its dataset's figures, numbered ``F1, F2, ...`` in report order.

    Args:
        tables: from :func:`results_tables`.
        figures: dataset -> figure kind (a key of :data:`FIGURE_CAPTIONS`) -> SVG path.
    """
    number = 0
    for table in tables:
        table["figures"] = []
        paths = figures.get(table["dataset"], {})
        unknown = set(paths) - set(FIGURE_CAPTIONS)
        if unknown:
            raise ValueError(f"unknown figure kind(s) {', '.join(sorted(unknown))}; known: {', '.join(FIGURE_CAPTIONS)}")
        for kind, caption in FIGURE_CAPTIONS.items():
            if kind not in paths:
                continue
            number += 1
            svg = svg_for_html(Path(paths[kind]).read_text(encoding="utf-8"), f"F{number}-")
            table["figures"].append(
                {
                    "id": f"F{number}",
                    "number": number,
                    "svg": markupsafe.Markup(svg),
                    "caption": caption.format(dataset=table["dataset"], n_seeds=table["seeds"]),
                }
            )


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


def cells_by_reason(items: Sequence[tuple]) -> dict:
    """Cells listed under the reason they share, for the excluded and the flagged cells.

    Args:
        items: ``(cell, reason)`` pairs, cells of :class:`lossatlas.config.Cell`.
    Returns:
        ``{"headings", "groups"}``: the coordinates shown (``dataset`` and :data:`TABLE_DIMENSIONS`,
        and any other that takes more than one value) and, per reason in first-seen order,
        ``{"reason", "count", "cells"}`` with each cell's shown coordinates as texts.
    """
    keys = [dict(zip(CELL, cell_key(cell))) for cell, _ in items]
    shown = [d for d in CELL if d in ("dataset", *TABLE_DIMENSIONS) or len({k[d] for k in keys}) > 1]
    groups: dict[str, list] = {}
    for key, (_, reason) in zip(keys, items):
        groups.setdefault(reason, []).append([key[d] for d in shown])
    return {
        "headings": [heading(d) for d in shown],
        "groups": [{"reason": r, "count": format_number(len(c)), "cells": c} for r, c in groups.items()],
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
        "flagged": cells_by_reason(list(study.flags.items())),
    }


def render_time() -> datetime.datetime:
    """``SOURCE_DATE_EPOCH`` when it is set (reproducible builds), else now; in UTC, to the second."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        except ValueError:
            raise ValueError(f"SOURCE_DATE_EPOCH must be an integer (seconds since 1970), got {epoch!r}") from None
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def provenance_context(benchmarks: Sequence[str | os.PathLike], repo: str | os.PathLike) -> dict:
    """Package versions, git commit and state, machine, and total training wall time of ``benchmarks``
    (Snakemake benchmark files)."""
    seconds = provenance.read_benchmarks(benchmarks)
    git = provenance.git_state(repo)
    dirty = {True: "yes", False: "no", None: "unknown"}[git["dirty"]]
    return {
        "packages": provenance.package_versions(),
        "commit": git["commit"],
        "dirty": dirty,
        "machine": provenance.machine(),
        "training_seconds": format_number(sum(seconds.values())),
        "training_jobs": format_number(len(seconds)),
    }


def build_context(
    study: Study,
    cells: pd.DataFrame,
    figures: Mapping[str, Mapping[str, str | os.PathLike]],
    benchmarks: Sequence[str | os.PathLike],
    repo: str | os.PathLike = ".",
) -> dict:
    """Everything the template shows.

    Args:
        study: the study the results come from.
        cells: the cells table (see module doc).
        figures: dataset -> figure kind -> SVG path (see :func:`figure_entries`).
        benchmarks: Snakemake benchmark files of the training jobs.
        repo: directory of the code's git checkout.
    """
    tables = results_tables(cells, study)
    figure_entries(tables, figures)
    when = render_time()
    return {
        "title": study.config["title"],
        "version": lossatlas.__version__,
        "config_hash": study.config_hash,
        "design": design_context(study),
        "n_cells": format_number(len(cells)),
        "n_trials": format_number(int(cells["n_seeds"].sum())),
        "seeds": ", ".join(format_number(n) for n in sorted(set(cells["n_seeds"]))),
        "metrics": [title for _, title in SUMMARY_METRICS],
        "tables": tables,
        "provenance": provenance_context(benchmarks, repo),
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
    figures: Mapping[str, Mapping[str, str | os.PathLike]],
    benchmarks: Sequence[str | os.PathLike],
    template: str | os.PathLike,
    style: str | os.PathLike,
    html: str | os.PathLike,
    pdf: str | os.PathLike,
    repo: str | os.PathLike = ".",
) -> None:
    """Reads the cells table at ``cells``, renders the report and writes it as ``html`` and ``pdf``."""
    # Coordinates stay text even where a label looks like a number.
    table = pd.read_csv(cells, dtype={column: str for column in CELL})
    context = build_context(study, table, figures, benchmarks, repo)
    text = render_html(context, template, style)
    write_text(html, text)
    write_pdf(text, pdf, Path(html).resolve().parent)
    print(f"wrote {html} and {pdf}: {len(context['tables'])} tables, {sum(len(t['figures']) for t in context['tables'])} figures")
