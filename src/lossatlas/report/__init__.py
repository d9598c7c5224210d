"""The paper-style report: its context, built from the results files and the study, rendered to
HTML and PDF, and its tables written as CSV, LaTeX and Markdown.

Every number the report shows is computed by an earlier stage (aggregation, analysis) or read
from the config, and formatted by :mod:`lossatlas.core.textfmt`. Which tables it has and their ids
(``T1, T2, ...``) come from :mod:`lossatlas.design.plan`, so that the same config numbers them the same.

Modules: :mod:`.sections` (results per dataset, appendix), :mod:`.design` (method, threats to
validity), :mod:`.findings` (the article's examples, best losses), :mod:`.verdicts` (claims and
their verdicts per judgment and rate, time to target), :mod:`.discussion` (the answer, the
mechanism, tuned rates, remedies, the discussion), :mod:`.captions` (every caption and table
title), :mod:`.embed` (figures and their SVG), :mod:`.tables` (citable tables and their writers),
:mod:`.provenance` and :mod:`.citation`, :mod:`.render` (tables, context, HTML, PDF;
:func:`write_report` is the workflow's entry point), :mod:`.inputs` (what the report was built
from, ``inputs.json``), :mod:`.rebuild` (:func:`rebuild_tables`, the hook of ``make verify``). This package reads :mod:`lossatlas.core.results`,
:mod:`lossatlas.design.plan`, :mod:`lossatlas.design.views` and :mod:`lossatlas.core.textfmt` (and the verdict words of
:mod:`lossatlas.analysis.claims`); it never imports :mod:`lossatlas.figures`.
"""

from lossatlas.core.textfmt import format_bounds, format_count, format_interval, format_number
from lossatlas.report.embed import number_items, svg_for_html
from lossatlas.report.rebuild import rebuild_tables
from lossatlas.report.render import (
    ANALYSIS_FILES,
    build_context,
    build_tables,
    read_analysis,
    render_html,
    write_pdf,
    write_report,
)

__all__ = [
    "ANALYSIS_FILES",
    "build_context",
    "build_tables",
    "format_bounds",
    "format_count",
    "format_interval",
    "format_number",
    "number_items",
    "read_analysis",
    "rebuild_tables",
    "render_html",
    "svg_for_html",
    "write_pdf",
    "write_report",
]
