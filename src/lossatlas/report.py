"""The report: its context, built from the results files and the study, rendered to HTML and PDF.

Every number the report shows is computed from the results files or the config and formatted by
:func:`format_number`; a confidence interval reads ``"mean [low, high]"`` (:func:`format_interval`).

The cells table (``results/aggregate/cells.csv``, see :func:`lossatlas.aggregate.summarize_cells`)
has one row per cell and the columns ``experiment, dataset, model, optimizer, loss, activation,
n_seeds, n_diverged, divergence_rate, reach_flag`` and, for each metric of :data:`SUMMARY_METRICS`,
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
from lossatlas.atomic import atomic_path, write_text
from lossatlas.config import Study
from lossatlas.datasets import FAMILIES

CELL = ["experiment", "dataset", "model", "optimizer", "loss", "activation"]
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
        "Test RMSE vs epoch on dataset {dataset}, every cell (comparable across losses). Lines: mean over "
        "{n_seeds} seeds; shaded bands: 95% percentile-bootstrap confidence interval of the mean."
    ),
}
LOGGERS = ("weasyprint", "fontTools")


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


def table_rows(cells: pd.DataFrame) -> list[dict]:
    """One results-table row per row of ``cells`` (see module doc), in the order given.

    Returns:
        dicts with the cell's ``experiment, model, optimizer, loss, activation`` (text), ``flag``
        (the reach flag, ``""`` when none), ``metrics`` (one ``{"mean", "ci"}`` per entry of
        :data:`SUMMARY_METRICS`, so that ``mean + " " + ci`` is :func:`format_interval`) and
        ``divergence`` (``"rate (diverged/seeds)"``).
    """
    check_cells(cells)
    rows = []
    for _, cell in cells.iterrows():
        rows.append(
            {
                **{column: str(cell[column]) for column in CELL if column != "dataset"},
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


def order_cells(cells: pd.DataFrame, study: Study) -> pd.DataFrame:
    """``cells`` in the study's grid order (config order); cells the study does not list come last."""
    position = {dataclasses.astuple(cell): index for index, cell in enumerate(study.cells)}
    keys = [position.get(tuple(row), len(position)) for row in cells[CELL].itertuples(index=False)]
    return cells.assign(_order=keys).sort_values(["_order", *CELL], kind="stable").drop(columns="_order")


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
        tables.append(
            {
                "id": f"T{number}",
                "number": number,
                "dataset": dataset,
                "seeds": ", ".join(format_number(n) for n in sorted(set(subset["n_seeds"]))),
                "show_experiment": subset["experiment"].nunique() > 1,
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


def figure_entries(tables: Sequence[dict], figures: Mapping[str, Mapping[str, str | os.PathLike]], n_seeds: int) -> None:
    """Adds to each table (in place) its dataset's figures, numbered ``F1, F2, ...`` in report order.

    Args:
        tables: from :func:`results_tables`.
        figures: dataset -> figure kind (a key of :data:`FIGURE_CAPTIONS`) -> SVG path.
        n_seeds: seeds per cell, for the captions.
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
                    "caption": caption.format(dataset=table["dataset"], n_seeds=format_number(n_seeds)),
                }
            )


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
    experiments = [
        {
            "label": experiment.label,
            **{d: ", ".join(getattr(experiment, d)) for d in ("datasets", "models", "optimizers", "losses", "activations")},
            "epochs": format_number(experiment.epochs),
            "batch_size": format_number(experiment.batch_size),
            "cells": format_number(sum(cell.experiment == experiment.label for cell in study.cells)),
            "excluded": format_number(sum(item.cell.experiment == experiment.label for item in study.excluded)),
        }
        for experiment in study.experiments.values()
    ]
    return {
        "datasets": datasets,
        "models": [{"label": m.label, "layers": m.describe()} for m in study.models.values()],
        "optimizers": [{"label": o.label, "setting": o.describe()} for o in study.optimizers.values()],
        "experiments": experiments,
        "n_seeds": format_number(study.n_seeds),
        "base_seed": format_number(study.base_seed),
        "n_cells": format_number(len(study.cells)),
        "n_trials": format_number(len(study.cells) * study.n_seeds),
        "excluded": [{**dataclasses.asdict(item.cell), "reason": item.reason} for item in study.excluded],
        "flagged": [{**dataclasses.asdict(cell), "flag": text} for cell, text in study.flags.items()],
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
    figure_entries(tables, figures, study.n_seeds)
    when = render_time()
    return {
        "title": study.config["title"],
        "version": lossatlas.__version__,
        "config_hash": study.config_hash,
        "design": design_context(study),
        "metrics": [heading for _, heading in SUMMARY_METRICS],
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
    context = build_context(study, pd.read_csv(cells), figures, benchmarks, repo)
    text = render_html(context, template, style)
    write_text(html, text)
    write_pdf(text, pdf, Path(html).resolve().parent)
    print(f"wrote {html} and {pdf}: {len(context['tables'])} tables, {sum(len(t['figures']) for t in context['tables'])} figures")
