"""Citable tables: each report table as CSV, LaTeX (booktabs) and Markdown, next to the report.

A table here is a mapping with ``id`` (``"T1"``), ``number``, ``caption`` (plain text, the config
hash and commit included), ``columns`` (headings), ``align`` (``"l"`` or ``"r"`` per column) and
``rows`` (lists of texts, one per column, numbers already formatted by
:func:`lossatlas.report.format_number`).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Mapping

from lossatlas.atomic import write_text

FORMATS = ("csv", "tex", "md")
LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
    # Characters pdfLaTeX's UTF-8 input does not know without extra packages.
    "≤": r"$\leq$", "≥": r"$\geq$", "†": r"\dag{}", "²": r"\textsuperscript{2}", "×": r"$\times$", "σ": r"$\sigma$",
    "−": r"$-$", "½": r"$\frac{1}{2}$", "·": r"$\cdot$", "δ": r"$\delta$",
}


def table_paths(directory: str | os.PathLike, table_id: str) -> dict[str, Path]:
    """``{format: directory/<id>.<format>}`` for each of :data:`FORMATS`."""
    return {fmt: Path(directory) / f"{table_id}.{fmt}" for fmt in FORMATS}


def check_table(table: Mapping) -> None:
    width = len(table["columns"])
    if len(table.get("align", "l" * width)) != width:
        raise ValueError(f"table {table['id']}: {len(table['align'])} alignments for {width} columns")
    for index, row in enumerate(table["rows"]):
        if len(row) != width:
            raise ValueError(f"table {table['id']}: row {index} has {len(row)} cells, the table {width} columns")


def to_csv(table: Mapping) -> str:
    """The table as CSV: one header row (the headings), then its rows; the caption is not in it."""
    check_table(table)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table["columns"])
    writer.writerows(table["rows"])
    return out.getvalue()


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (UTF-8 otherwise kept)."""
    return "".join(LATEX_SPECIALS.get(char, char) for char in " ".join(str(text).split()))


def to_latex(table: Mapping) -> str:
    """The table as a LaTeX ``table`` float with a booktabs ``tabular`` (``\\toprule``, ``\\midrule``,
    ``\\bottomrule``), its caption and ``\\label{tab:<id>}``; needs ``\\usepackage{booktabs}``."""
    check_table(table)
    align = "".join(table.get("align") or "l" * len(table["columns"]))
    lines = [
        f"% {table['id']} (Loss Atlas); needs \\usepackage{{booktabs}}",
        "\\begin{table}[htbp]",
        "\\centering",
        f"\\caption{{{latex_escape(table['caption'])}}}",
        f"\\label{{tab:{table['id']}}}",
        f"\\begin{{tabular}}{{{align}}}",
        "\\toprule",
        " & ".join(latex_escape(h) for h in table["columns"]) + " \\\\",
        "\\midrule",
        *(" & ".join(latex_escape(c) for c in row) + " \\\\" for row in table["rows"]),
        "\\bottomrule",
        "\\end{tabular}",
        "\\end{table}",
    ]
    return "\n".join(lines) + "\n"


def markdown_escape(text: str) -> str:
    """``text`` fit for a Markdown table cell: one line, ``|`` and ``\\`` escaped."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")


def to_markdown(table: Mapping) -> str:
    """The table as a Markdown (GFM) pipe table under a bold ``Table n (id).`` caption line."""
    check_table(table)
    align = table.get("align") or "l" * len(table["columns"])
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [
        f"**Table {table['number']} ({table['id']}).** {markdown_escape(table['caption'])}",
        "",
        "| " + " | ".join(markdown_escape(h) for h in table["columns"]) + " |",
        "| " + " | ".join(rule) + " |",
        *("| " + " | ".join(markdown_escape(c) for c in row) + " |" for row in table["rows"]),
    ]
    return "\n".join(lines) + "\n"


WRITERS = {"csv": to_csv, "tex": to_latex, "md": to_markdown}


def write_table_files(table: Mapping, directory: str | os.PathLike) -> dict[str, Path]:
    """Writes ``table`` as ``<id>.csv``, ``.tex`` and ``.md`` in ``directory`` (atomically); returns the paths."""
    paths = table_paths(directory, table["id"])
    Path(directory).mkdir(parents=True, exist_ok=True)
    for fmt, path in paths.items():
        write_text(path, WRITERS[fmt](table))
    return paths
