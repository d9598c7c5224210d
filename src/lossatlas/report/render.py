"""The report's context, built from the results files and the study, rendered to HTML and PDF.

:func:`build_context` gathers what the template (``report/supplement.html.j2``) shows;
:func:`render_html` renders it, :func:`write_pdf` prints the HTML to PDF with WeasyPrint, and
:func:`write_report` (the ``report`` rule's entry point) does it all from the files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import jinja2
import markupsafe
import pandas as pd

import lossatlas
from lossatlas.core import results
from lossatlas.core.atomic import atomic_path, write_text
from lossatlas.core.source import ARTICLE_DATE, ARTICLE_TITLE
from lossatlas.core.textfmt import LOSS_NAMES, format_counts, format_number
from lossatlas.design import plan
from lossatlas.design.plan import CURVE_CELL_LIMIT, table_ids
from lossatlas.design.views import at_default
from lossatlas.report import captions, design, discussion, embed, findings, paper, provenance, references, sections, tables, verdicts
from lossatlas.report.inputs import write_inputs

#: The analysis files the report reads (``results/analysis/``; the names of the analysis rule's
#: outputs), by the names build_context takes them: CSV tables, and ``findings`` (JSON).
ANALYSIS_FILES = ("article_summary", "article_examples", "comparisons", "best_losses", "verdicts", "claim_details",
                  "tuned_rates", "mechanism", "remedies", "findings")
LOGGERS = ("weasyprint", "fontTools")
#: The report's script (the table explorer of Appendix A), inlined, next to the template by default.
SCRIPT = "explore.js"
#: The report's numbered sections, in order; those after ``results`` are shown only where the study has them.
SECTIONS = ("question", "method", "results", "claims", "time", "rates", "discussion", "article", "threats")


def read_analysis(paths: Mapping[str, str | os.PathLike]) -> dict:
    """The analysis files of :data:`ANALYSIS_FILES` from ``paths`` (name -> path): the tables read
    by :func:`lossatlas.core.results.read` (labels as text), ``findings`` as the mapping of its JSON."""
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


def resolve_claims(study, claims: Sequence[dict] | None, needed: bool) -> list[dict]:
    """``claims``, or when None the config's (:func:`lossatlas.design.plan.claims_of`) where ``needed`` (the
    report has analysis files or study-wide figures), else none."""
    if claims is not None:
        return list(claims)
    return plan.claims_of(study) if needed else []


def build_tables(study, cells: pd.DataFrame, analysis: Mapping[str, pd.DataFrame] | None = None,
                 claims: Sequence[dict] = ()) -> dict:
    """The report's tables and the parts of the context they come from, without figures, provenance
    or rendering (:func:`build_context` and :func:`lossatlas.report.rebuild_tables` both build the
    tables here, from the same inputs).

    Returns:
        ``ids`` (table key -> id, :func:`lossatlas.design.plan.table_ids`), ``default`` (the default view of
        ``cells``), ``sections``, ``article``, ``claims``, ``comparisons``, ``time``, ``tuned``,
        ``mechanism``, ``remedies``, ``answer``, ``appendix`` (the parts; None where the study or
        its analysis has none) and ``tables``: every table in report order, with its id, number,
        title and caption.
    """
    sections.check_cells(cells)
    ids = table_ids(study, with_analysis=analysis is not None, claims=claims if analysis is not None else [])
    default = at_default(cells, study)
    parts = dict.fromkeys(("article", "claims", "comparisons", "time", "tuned", "mechanism", "remedies", "answer"))
    parts.update(ids=ids, default=default, sections=sections.dataset_sections(cells, study))
    if analysis is not None:
        article = findings.article_context(analysis["article_summary"], analysis["article_examples"])
        article["tables"] = [{"kind": "table"}, {"kind": "table"}]
        claims_table = {"kind": "table", "claims": verdicts.claims_context(analysis["verdicts"])}
        parts.update(article=article, claims=claims_table,
                     comparisons=findings.comparisons_context(default, analysis["comparisons"], analysis["best_losses"], study),
                     answer=discussion.answer_context(analysis["findings"]))
        if "time" in ids:
            parts["time"] = verdicts.time_context(analysis["claim_details"], claims_table["claims"])
        if "tuned_rates" in ids:
            parts["tuned"] = discussion.tuned_context(analysis["tuned_rates"], cells)
        if "mechanism" in ids:
            parts["mechanism"] = discussion.mechanism_context(analysis["mechanism"])
        if "remedies" in ids:
            parts["remedies"] = discussion.remedies_context(analysis["remedies"])
    parts["appendix"] = sections.appendix_context(cells, study)

    # Tables get their ids from the config (table_plan), in the order the report shows them.
    table_list = []
    if parts["comparisons"]:
        for table in parts["comparisons"]["tables"]:
            table["key"] = f"comparison:{table['experiment']}"
        table_list += parts["comparisons"]["tables"]
    for section in parts["sections"]:
        if section["table"]:
            section["table"]["key"] = f"dataset:{section['dataset']}"
            section["table"]["dataset"] = section["dataset"]
            table_list.append(section["table"])
    if parts["claims"]:
        parts["claims"]["key"] = "claims"
        table_list.append(parts["claims"])
    for key, name in (("time", "time"), ("tuned_rates", "tuned"), ("mechanism", "mechanism"), ("remedies", "remedies")):
        if parts[name] is not None:
            parts[name]["key"] = key
            table_list.append(parts[name])
    if parts["article"]:
        article = parts["article"]
        article["tables"][0].update(key="article:examples", examples=article["examples"])
        article["tables"][1].update(key="article:comparison", comparison=article["comparison"])
        table_list += article["tables"]
    parts["appendix"]["key"] = "appendix"
    table_list.append(parts["appendix"])
    tables.assign_table_ids(table_list, ids)
    captions.table_captions(table_list, study)
    parts["tables"] = table_list
    return parts


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
    link_base: str | os.PathLike | None = None,
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
        study_figures: name -> SVG path of the study-wide figures (:func:`lossatlas.design.plan.study_figures`).
        invocation: the Snakefile's ``invocation.json`` (the command line), read if it exists.
        citation_file: a CITATION.cff for the title, authors and BibTeX (None: the study's title only).
        floors: the floors table (``results/aggregate/floors.csv``) the curve captions quote.
        claims: the claims of the config's claims file (:func:`lossatlas.design.plan.claims_of`; read from
            the config when None): with the config they decide which tables and figures there are.
        link_base: the directory the HTML is written to: each figure links its data (its CSV, where
            it has one) relative to it (None: by the CSV's path as given).

    Tables get the ids of :func:`lossatlas.design.plan.table_ids` (from the config), built by
    :func:`build_tables`; ``citable_tables`` holds them as :mod:`lossatlas.report.tables` writes them.
    """
    claims = resolve_claims(study, claims, analysis is not None or bool(study_figures))
    parts = build_tables(study, cells, analysis, claims)
    ids, default, dataset_sections, table_list = parts["ids"], parts["default"], parts["sections"], parts["tables"]
    article, claims_table, time, tuned = parts["article"], parts["claims"], parts["time"], parts["tuned"]
    answer, appendix = parts["answer"], parts["appendix"]
    embed.add_curve_figures(dataset_sections, default, study, figures, floors)
    study_entries = embed.study_figure_entries(study, study_figures or {}, cells, claims, ids)

    # Figures are numbered in the order shown.
    figure_list = list(study_entries["overview"])
    for section in dataset_sections:
        figure_list += section["figures"]
    figure_list += study_entries["time"] + study_entries["sensitivity"] + study_entries["mechanism"]
    figure_list += study_entries["article"]
    embed.number_items(table_list, figure_list)
    prov = provenance.provenance_context(benchmarks, repo, invocation)
    embed.add_figure_data(figure_list, link_base, prov["config_options"])
    result_columns = [title for _, title in sections.RESULT_COLUMNS]
    files = tables.citable_tables(table_list, result_columns, study.config_hash, prov["short_commit"])
    cite = provenance.citation_context(citation_file, str(prov["commit"]))
    claim_list = claims_table["claims"] if claims_table else []
    shown = {"claims": claims_table is not None, "time": time is not None or bool(study_entries["time"]),
             "rates": tuned is not None or bool(study_entries["sensitivity"]), "discussion": answer is not None,
             "article": article is not None}

    when = provenance.render_time()
    numbers = section_numbers(shown)
    paper_part = None
    if analysis is not None and claims_table is not None:
        paper_part = paper_context(study, claims, claim_list, analysis, study_entries, ids, numbers,
                                   {"n_trials": format_number(int(cells["n_seeds"].sum())), "n_cells": format_number(len(cells))})
    return {
        "title": cite["title"] if cite else study.config["title"],
        "study_title": study.config["title"],
        "citation": cite,
        "abstract": verdicts.abstract_context(claim_list) if claims_table else None,
        "answer": answer,
        "numbers": numbers,
        "paper": paper_part,
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
        "mechanism": parts["mechanism"],
        "mechanism_figures": study_entries["mechanism"],
        "remedies": parts["remedies"],
        "discussion": discussion.discussion_context(answer, claim_list, time, tuned, parts["remedies"]) if answer else None,
        "overview_figures": study_entries["overview"],
        "comparisons": parts["comparisons"],
        "sections": dataset_sections,
        "tables": [section["table"] for section in dataset_sections if section["table"]],
        "appendix": appendix,
        "provenance": prov,
        "render_time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        # PDF dates only when reproducible; without them the PDF carries none.
        "pdf_date": when.strftime("%Y-%m-%dT%H:%M:%SZ") if os.environ.get("SOURCE_DATE_EPOCH") else None,
    }


#: The paper's sections, in order.
PAPER_SECTIONS = ("question", "setup", "findings", "todo", "threats")


def paper_context(study, claims: Sequence[dict], entries: Sequence[dict], analysis: Mapping, study_entries: Mapping,
                  ids: Mapping[str, str], numbers: Mapping[str, str], facts: Mapping[str, str]) -> dict:
    """What only the paper shows (:mod:`lossatlas.report.paper`): its section ``numbers`` (the
    supplement's sections it refers to as ``S<n>``), ``findings``, ``todo`` and ``abstract``, the
    ids of the supplement's tables it names, and which data sets it cites."""
    figures = {entry["name"]: entry for part in study_entries.values() for entry in part if "name" in entry}
    spec = plan.findings_of(study)
    findings = paper.findings_context(spec, claims, entries, analysis["claim_details"], analysis["remedies"], figures,
                                      plan.time_groups(study, claims))
    todo = paper.todo_context(claims, analysis["remedies"], entries)
    families = {dataset.family for dataset in study.datasets.values()}
    budgets = sorted({spec.epochs for spec in study.experiments.values()})
    return {
        "numbers": {**{name: str(number) for number, name in enumerate(PAPER_SECTIONS, 1)},
                    **{name: f"S{number}" for name, number in numbers.items() if name not in PAPER_SECTIONS}},
        "findings": findings,
        "todo": todo,
        "abstract": paper.abstract_text(facts, findings, claims, entries, todo),
        "method_section": f"S{numbers['method']}",
        "claims_table": ids.get("claims"),
        "time_table": ids.get("time"),
        "budget": f"{', '.join(format_number(epochs) for epochs in budgets)} epochs",
        "rrmse_threshold": format_number(study.config["metrics"]["rrmse_threshold"]),
        "cites_friedman": "friedman1" in families,
        "cites_diabetes": "diabetes" in families,
    }


def render_html(context: Mapping, template: str | os.PathLike, style: str | os.PathLike,
                script: str | os.PathLike | None = None, bibliography: str | os.PathLike | None = None) -> str:
    """Renders ``context`` with the Jinja ``template`` (autoescaped), the CSS of ``style`` and the
    JavaScript of ``script`` (None: :data:`SCRIPT` next to the template, if there is one) inlined;
    ``cite``, ``cite_text`` and ``references`` cite the works of ``bibliography`` (None:
    :data:`lossatlas.report.references.BIBLIOGRAPHY` next to the template) and list those cited."""
    template = Path(template)
    citations = references.Citations(references.read_bibliography(
        template.with_name(references.BIBLIOGRAPHY) if bibliography is None else bibliography))
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template.parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    css = markupsafe.Markup(Path(style).read_text(encoding="utf-8"))
    script = template.with_name(SCRIPT) if script is None else Path(script)
    code = script.read_text(encoding="utf-8") if script.exists() else ""
    if "</script" in code.lower():
        raise ValueError(f"{script}: an inlined script cannot contain '</script'")
    page = environment.get_template(template.name).render(
        **context, css=css, script=markupsafe.Markup(code), cite=citations.cite, cite_text=citations.cite_text,
        references=citations.listed)
    return compact_html(page)


#: End tags HTML lets a page leave out before the elements that follow them in the report's
#: markup (the parser closes them there): ``</td>``, ``</th>`` before a cell or the row's end,
#: ``</tr>`` before a row or the end of its group, ``</li>`` before an item or the list's end.
OPTIONAL_END_TAGS = re.compile(r"</t[dh]>\s*(?=<t[dh][\s>]|</tr>)|</tr>\s*(?=<tr[\s>]|</tbody>|</thead>|</table>|<tbody[\s>])"
                               r"|</li>\s*(?=<li[\s>]|</ul>|</ol>)")


def compact_html(html: str) -> str:
    """``html`` without the indentation of its lines and without the end tags of
    :data:`OPTIONAL_END_TAGS`, but inside ``<pre>``, ``<script>``, ``<textarea>`` and ``<svg>``
    (elsewhere a line break and the spaces after it show as one space either way, and whitespace
    between table cells or list items shows as nothing)."""
    parts = re.split(r"(<pre\b.*?</pre>|<script\b.*?</script>|<textarea\b.*?</textarea>|<svg\b.*?</svg>)", html,
                     flags=re.S | re.I)
    return "".join(part if index % 2 else OPTIONAL_END_TAGS.sub("", re.sub(r"\n[ \t]+", "\n", part))
                   for index, part in enumerate(parts))


@contextlib.contextmanager
def library_logs_to_stderr(names: Sequence[str] = LOGGERS) -> Iterator[None]:
    """Sends the warnings of the ``names`` loggers to the current ``sys.stderr`` (the job's log under
    :func:`lossatlas.core.logs.log_to`) instead of Python's last-resort handler."""
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
    script: str | os.PathLike | None = None,
    inputs: str | os.PathLike | None = None,
) -> None:
    """Reads the cells and floors tables and the analysis files (name -> path, see
    :data:`ANALYSIS_FILES`), renders the report and writes it as ``html`` and ``pdf``; every table as
    CSV, LaTeX and Markdown in ``tables_dir``, the captions of Snakemake's own report in
    ``captions_dir`` and what it was built from as ``inputs`` (``inputs.json``, for
    :func:`lossatlas.report.rebuild_tables`), each when given. ``claims``: the config's claims (read
    from the config when None); ``script``: the report's script (:func:`render_html`). The paper
    (``report/paper.html.j2``) and its supplement (``report/supplement.html.j2``) are each rendered
    by one call, from the same context (rules report and supplement, side by side)."""
    claims = resolve_claims(study, claims, analysis is not None or bool(study_figures))
    if inputs is not None:
        write_inputs(inputs, study, claims, cells=cells, floors=floors, analysis=analysis, figures=figures,
                     study_figures=study_figures, benchmarks=benchmarks, repo=repo, invocation=invocation,
                     citation_file=citation_file)
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
        link_base=Path(html).parent,
    )
    if tables_dir is not None:
        for item in context["citable_tables"]:
            tables.write_table_files(item, tables_dir)
    if captions_dir is not None:
        captions.write_snakemake_captions(captions_dir)
    text = render_html(context, template, style, script)
    write_text(html, text)
    write_pdf(text, pdf, Path(html).resolve().parent)
    n_figures = sum(len(context[f"{part}_figures"]) for part in ("article", "overview", "time", "sensitivity", "mechanism"))
    n_figures += sum(len(s["figures"]) for s in context["sections"])
    print(f"wrote {html} and {pdf}: {len(context['citable_tables'])} tables, {n_figures} figures")
