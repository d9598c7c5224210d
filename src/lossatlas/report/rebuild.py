"""The report's tables rebuilt from what the report was built from (``make verify``).

:func:`rebuild_tables` reads ``inputs.json`` (:mod:`lossatlas.report.inputs`) and builds every table
with the report stage's own code (:func:`lossatlas.report.render.build_tables`,
:func:`lossatlas.report.tables.citable_tables`), without rendering HTML or PDF; it returns the text
of each ``T<n>.csv`` as the report stage writes it.
"""

from __future__ import annotations

import os

from lossatlas.core import results
from lossatlas.design.config import load_study
from lossatlas.report import sections, tables
from lossatlas.report.inputs import read_inputs
from lossatlas.report.render import build_tables, read_analysis


def rebuild_tables(inputs_json: str | os.PathLike) -> dict[str, str]:
    """Every report table rebuilt from the results the report stage read (``inputs.json``, see
    :func:`write_inputs`), with its code: table id (``"T1"``, ...) -> the exact text of its CSV file
    (:func:`lossatlas.report.tables.to_csv`), as the report stage writes ``results/report/tables/T<n>.csv``."""
    document = read_inputs(inputs_json)
    study = load_study(document["config"])
    analysis = read_analysis(document["analysis"]) if document["analysis"] is not None else None
    claims = document["claims"] if document["claims"] is not None else []
    parts = build_tables(study, results.read(document["cells"], "cells"), analysis, claims)
    result_columns = [title for _, title in sections.RESULT_COLUMNS]
    # The commit is only in the captions' stamps, which the CSV files do not carry.
    files = tables.citable_tables(parts["tables"], result_columns, study.config_hash, "unknown")
    return {table["id"]: tables.to_csv(table) for table in files}
