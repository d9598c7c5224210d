"""The report's context, built from the results files and the study, rendered to HTML and PDF.

:func:`build_context` gathers what the template (``report/template.html.j2``) shows;
:func:`render_html` renders it, :func:`write_pdf` prints the HTML to PDF with WeasyPrint, and
:func:`write_report` (the ``report`` rule's entry point) does it all from the files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import jinja2
import markupsafe
import pandas as pd

import lossatlas
from lossatlas import plan, results
from lossatlas.atomic import atomic_path, write_text
from lossatlas.plan import CURVE_CELL_LIMIT, table_ids
from lossatlas.report import captions, design, discussion, embed, findings, provenance, sections, tables, verdicts
from lossatlas.source import ARTICLE_DATE, ARTICLE_TITLE
from lossatlas.textfmt import LOSS_NAMES, format_counts, format_number
from lossatlas.views import at_default

#: The analysis files the report reads (``results/analysis/``; the names of the analysis rule's
#: outputs), by the names build_context takes them: CSV tables, and ``findings`` (JSON).
ANALYSIS_FILES = ("article_summary", "article_examples", "comparisons", "best_losses", "verdicts", "claim_details",
                  "tuned_rates", "mechanism", "remedies", "findings")
LOGGERS = ("weasyprint", "fontTools")
#: The report's numbered sections, in order; those after ``results`` are shown only where the study has them.
SECTIONS = ("question", "method", "results", "claims", "time", "rates", "discussion", "article", "threats")


def read_analysis(paths: Mapping[str, str | os.PathLike]) -> dict:
    """The analysis files of :data:`ANALYSIS_FILES` from ``paths`` (name -> path): the tables read
    by :func:`lossatlas.results.read` (labels as text), ``findings`` as the mapping of its JSON."""
    missing = [name for name in ANALYSIS_FILES if name not in paths]
    if missing:
        raise ValueError(f"analysis files missing: {', '.join(missing)}")
    return {name: json.loads(Path(paths[name]).read_text(encoding="utf-8")) if name == "findings" else results.read(paths[name])
            for name in ANALYSIS_FILES}


def section_numbers(shown: Mapping[str, bool]) -> dict[str, str]:
    """The number of each section of :data:`SECTIONS` that is shown (``shown``: name -> whether;
    missing names are shown), in order."""
    names = [name for name in SECTIONS if shown.get(name, True)]
    return {name: str(number) for number, name in enumerate(names, 1)}


def build_context(
    study,
    cells: pd.DataFrame,
    figures: Mapping[str, Mapping[str, Mapping[str, str | os.PathLike]]],
    benchmarks: Sequence[str | os.PathLike],
    repo: str | os.PathLike = ".",
    analysis: Mapping[str, pd.DataFrame] | None = None,
    study_figures: Mapping[str, str | os.PathLike] | None = None,
    invocation: str | os.PathLike | None = None,
    citation_file: str | os.PathLike | None = None,
    floors: pd.DataFrame | None = None,
    claims: Sequence[dict] | None = None,
) -> dict:
    """Everything the template shows.

    Args:
        study: the study the results come from.
        cells: the cells table (:mod:`lossatlas.report.sections`).
        figures: dataset -> experiment -> curve figure kind -> SVG path.
        benchmarks: Snakemake benchmark files of the stages before the report.
        repo: directory of the code's git checkout.
        analysis: the analysis files by the names of :data:`ANALYSIS_FILES` (:func:`read_analysis`);
            without them the report has no answer, article, claims, comparison, time, rate or
            discussion sections.
        study_figures: name -> SVG path of the study-wide figures (:func:`lossatlas.plan.study_figures`).
        invocation: the Snakefile's ``invocation.json`` (the command line), read if it exists.
        citation_file: a CITATION.cff for the title, authors and BibTeX (None: the study's title only).
        floors: the floors table (``results/aggregate/floors.csv``) the curve captions quote.
        claims: the claims of the config's claims file (:func:`lossatlas.plan.claims_of`; read from
            the config when None): with the config they decide which tables and figures there are.

    Tables get the ids of :func:`lossatlas.plan.table_ids` (from the config); ``citable_tables``
    holds them as :mod:`lossatlas.report.tables` writes them.
    """
    if claims is None:
        claims = plan.claims_of(study) if analysis is not None or study_figures else []
    sections.check_cells(cells)
    ids = table_ids(study, with_analysis=analysis is not None, claims=claims if analysis is not None else [])
    default = at_default(cells, study)
    dataset_sections = sections.dataset_sections(cells, study)
    embed.add_curve_figures(dataset_sections, default, study, figures, floors)
    study_entries = embed.study_figure_entries(study, study_figures or {}, cells, claims, ids)
    article = claims_table = comparisons = time = tuned = mechanism = remedies = answer = None
    if analysis is not None:
        article = findings.article_context(analysis["article_summary"], analysis["article_examples"])
        article["tables"] = [{"kind": "table"}, {"kind": "table"}]
        claims_table = {"kind": "table", "claims": verdicts.claims_context(analysis["verdicts"])}
        comparisons = findings.comparisons_context(default, analysis["comparisons"], analysis["best_losses"], study)
        if "time" in ids:
            time = verdicts.time_context(analysis["claim_details"], claims_table["claims"])
        if "tuned_rates" in ids:
            tuned = discussion.tuned_context(analysis["tuned_rates"], cells)
        if "mechanism" in ids:
            mechanism = discussion.mechanism_context(analysis["mechanism"])
        if "remedies" in ids:
            remedies = discussion.remedies_context(analysis["remedies"])
        answer = discussion.answer_context(analysis["findings"])
    appendix = sections.appendix_context(cells, study)

    # Tables get their ids from the config (table_plan); figures are numbered in the order shown.
    table_list, figure_list = [], []
    figure_list += study_entries["overview"]
    if comparisons:
        for table in comparisons["tables"]:
            table["key"] = f"comparison:{table['experiment']}"
        table_list += comparisons["tables"]
    for section in dataset_sections:
        if section["table"]:
            section["table"]["key"] = f"dataset:{section['dataset']}"
            section["table"]["dataset"] = section["dataset"]
            table_list.append(section["table"])
        figure_list += section["figures"]
    if claims_table:
        claims_table["key"] = "claims"
        table_list.append(claims_table)
    for key, table in (("time", time), ("tuned_rates", tuned), ("mechanism", mechanism), ("remedies", remedies)):
        if table is not None:
            table["key"] = key
            table_list.append(table)
    figure_list += study_entries["time"] + study_entries["sensitivity"] + study_entries["mechanism"]
    if article:
        article["tables"][0].update(key="article:examples", examples=article["examples"])
        article["tables"][1].update(key="article:comparison", comparison=article["comparison"])
        table_list += article["tables"]
    figure_list += study_entries["article"]
    appendix["key"] = "appendix"
    table_list.append(appendix)
    tables.assign_table_ids(table_list, ids)
    embed.number_items(table_list, figure_list)
    captions.table_captions(table_list, study)
    prov = provenance.provenance_context(benchmarks, repo, invocation)
    result_columns = [title for _, title in sections.RESULT_COLUMNS]
    files = tables.citable_tables(table_list, result_columns, study.config_hash, prov["short_commit"])
    cite = provenance.citation_context(citation_file, str(prov["commit"]))
    claim_list = claims_table["claims"] if claims_table else []
    shown = {"claims": claims_table is not None, "time": time is not None or bool(study_entries["time"]),
             "rates": tuned is not None or bool(study_entries["sensitivity"]), "discussion": answer is not None,
             "article": article is not None}

    when = provenance.render_time()
    return {
        "title": cite["title"] if cite else study.config["title"],
        "study_title": study.config["title"],
        "citation": cite,
        "abstract": verdicts.abstract_context(claim_list) if claims_table else None,
        "answer": answer,
        "numbers": section_numbers(shown),
        "threats": design.threats_context(study),
        "citable_tables": files,
        "n_tables": format_number(len(files)),
        "n_figures": format_number(len(figure_list)),
        "n_claims": format_number(len(claim_list)),
        "version": lossatlas.__version__,
        "config_hash": study.config_hash,
        "article_title": ARTICLE_TITLE,
        "article_date": ARTICLE_DATE,
        "design": design.design_context(study),
        "definitions": design.metrics_context(study),
        "n_cells": format_number(len(cells)),
        "n_default_cells": format_number(len(default)),
        "n_trials": format_number(int(cells["n_seeds"].sum())),
        "seeds": format_counts(cells["n_seeds"]),
        "result_columns": result_columns,
        "curve_cell_limit": format_number(CURVE_CELL_LIMIT),
        "loss_names": [{"short": short, "label": label} for label, short in LOSS_NAMES.items() if short != label],
        "article": article,
        "article_figures": study_entries["article"],
        "claims": claims_table,
        "time": time,
        "time_figures": study_entries["time"],
        "tuned": tuned,
        "sensitivity_figures": study_entries["sensitivity"],
        "mechanism": mechanism,
        "mechanism_figures": study_entries["mechanism"],
        "remedies": remedies,
        "discussion": discussion.discussion_context(answer, claim_list, time, tuned, remedies) if answer else None,
        "overview_figures": study_entries["overview"],
        "comparisons": comparisons,
        "sections": dataset_sections,
        "tables": [section["table"] for section in dataset_sections if section["table"]],
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
    study,
    *,
    cells: str | os.PathLike,
    floors: str | os.PathLike,
    analysis: Mapping[str, str | os.PathLike] | None,
    figures: Mapping[str, Mapping[str, Mapping[str, str | os.PathLike]]],
    study_figures: Mapping[str, str | os.PathLike],
    benchmarks: Sequence[str | os.PathLike],
    template: str | os.PathLike,
    style: str | os.PathLike,
    html: str | os.PathLike,
    pdf: str | os.PathLike,
    tables_dir: str | os.PathLike | None = None,
    captions_dir: str | os.PathLike | None = None,
    repo: str | os.PathLike = ".",
    invocation: str | os.PathLike | None = None,
    citation_file: str | os.PathLike | None = None,
    claims: Sequence[dict] | None = None,
) -> None:
    """Reads the cells and floors tables and the analysis files (name -> path, see
    :data:`ANALYSIS_FILES`), renders the report and writes it as ``html`` and ``pdf``; every table as
    CSV, LaTeX and Markdown in ``tables_dir`` and the captions of Snakemake's own report in
    ``captions_dir`` (each when given). ``claims``: the config's claims (read from the config when None)."""
    context = build_context(
        study,
        results.read(cells, "cells"),
        figures,
        benchmarks,
        repo,
        read_analysis(analysis) if analysis is not None else None,
        study_figures,
        invocation,
        citation_file,
        floors=results.read(floors, "floors"),
        claims=claims,
    )
    if tables_dir is not None:
        for item in context["citable_tables"]:
            tables.write_table_files(item, tables_dir)
    if captions_dir is not None:
        captions.write_snakemake_captions(captions_dir)
    text = render_html(context, template, style)
    write_text(html, text)
    write_pdf(text, pdf, Path(html).resolve().parent)
    n_figures = sum(len(context[f"{part}_figures"]) for part in ("article", "overview", "time", "sensitivity", "mechanism"))
    n_figures += sum(len(s["figures"]) for s in context["sections"])
    print(f"wrote {html} and {pdf}: {len(context['citable_tables'])} tables, {n_figures} figures")
