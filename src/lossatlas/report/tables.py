"""Citable tables: each report table with its stable id, flattened, and written as CSV, LaTeX
(booktabs) and Markdown next to the report.

A citable table is a mapping with ``id`` (``"T1"``, from :func:`lossatlas.design.plan.table_ids`),
``number``, ``title``, ``caption`` (plain text, ending in its stamp: id, config hash, commit),
``columns`` (headings), ``align`` (``"l"`` or ``"r"`` per column) and ``rows`` (lists of texts, one
per column, numbers already formatted by :mod:`lossatlas.core.textfmt`).
"""

from __future__ import annotations

import csv
import io
import os
import unicodedata
from pathlib import Path
from typing import Mapping, Sequence

from lossatlas.core.atomic import write_text
from lossatlas.design.plan import table_paths

LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
    # Characters pdfLaTeX's UTF-8 input does not know without extra packages (math mode needs none).
    "≤": r"$\leq$", "≥": r"$\geq$", "†": r"\dag{}", "‡": r"\ddag{}",
    # Superscript digits and minus, as a power of ten of lossatlas.core.textfmt is written ("1.2×10⁻⁵").
    **{sup: f"\\textsuperscript{{{plain}}}" for sup, plain in zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", [*"0123456789", "$-$"])},
    "×": r"$\times$", "−": r"$-$", "½": r"$\frac{1}{2}$", "·": r"$\cdot$", "—": "---",
    "–": "--", "…": r"\ldots{}", "√": r"$\surd$", "∝": r"$\propto$", "≈": r"$\approx$", "≠": r"$\neq$",
    "±": r"$\pm$", "∞": r"$\infty$", "→": r"$\rightarrow$", "←": r"$\leftarrow$", "↑": r"$\uparrow$",
    "↓": r"$\downarrow$", "°": r"\textdegree{}", "‘": "`", "’": "'", "“": "``", "”": "''", "\u00a0": "~",
    **{greek: f"$\\{name}$" for greek, name in zip(
        "αβγδεζηθικλμνξπρστυφχψωΓΔΘΛΞΠΣΦΨΩ",
        ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon phi chi "
         "psi omega Gamma Delta Theta Lambda Xi Pi Sigma Phi Psi Omega").split())},
}
#: Tables with more rows than this (more than a page) are written as a ``longtable``, which breaks
#: across pages (and keeps TeX's memory bounded for thousands of rows); the others as a ``table`` float.
LONGTABLE_ROWS = 60


#: The value columns of the tuned-rates and mechanism tables: (row field, heading, alignment).
TUNED_FIELDS = (("default", "Default rate", "r"), ("tuned", "Tuned rate", "r"), ("rates", "Rates trained [range]", "r"),
                ("edge", "At an edge", "l"), ("nrmse_default", "nRMSE, default rate", "r"),
                ("nrmse_tuned", "nRMSE, tuned rate", "r"))
MECHANISM_FIELDS = (("claims", "Claims", "l"), ("category", "Category", "l"), ("budget", "Budget steps", "r"),
                    ("reach", "Steps to threshold", "r"), ("needed", "Needed max |Δw|", "r"),
                    ("travelled", "Travelled in budget", "r"), ("capacity", "Reach in budget", "r"),
                    ("saturation", "Saturated fraction", "r"), ("gradient", "Initial gradient norm", "r"))


# --------------------------------------------------------------------------------------------
# Ids, stamps, flat rows
# --------------------------------------------------------------------------------------------


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


def table_stamp(table_id: str, config_hash: str, commit: str) -> str:
    """The citable stamp of a caption: ``"[T3; config 1a2b3c4d5e6f; commit abc1234]"``."""
    return f"[{table_id}; config {config_hash}; commit {commit}]"


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
        columns = ["Id", "Claim", "Article", "Rule (budget)", "Rule (time)",
                   *(j["heading"] for j in table["claims"][0]["judgments"]), "Headline verdict", "Holds in"] if table["claims"] else \
            ["Id", "Claim", "Article", "Rule (budget)", "Rule (time)", "Headline verdict", "Holds in"]
        rows = [[c["id"], f"{c['name']}. {c['claim']}", c["article"], c["rule"] or "—", c["time_rule"] or "—",
                 *((j["verdict"]["verdict"] if j["verdict"] else "—") for j in c["judgments"]), c["verdict"],
                 f"{c['holds']} contexts: {c['holds_in']}"] for c in table["claims"]]
        return columns, "l" * len(columns), rows
    if key == "time":
        columns = ["Claim", "Rate", "Context", "Pair", "Steps, better", "Steps, baseline", "Times sooner [95% CI]",
                   "Status, better", "Status, baseline", "Outcome"]
        rows = [[r["id"], r["rate"], r["context"], r["pair"], r["steps_better"], r["steps_baseline"], r["ratio"],
                 r["better_status"], r["baseline_status"], r["outcome"]] for r in table["rows"]]
        return columns, "llllrrrlll", rows
    if key in ("tuned_rates", "mechanism"):
        dims = [d["name"] for d in table["dimensions"]]
        fields = TUNED_FIELDS if key == "tuned_rates" else MECHANISM_FIELDS
        columns = [*(d["heading"] for d in table["dimensions"]), *(title for _, title, _ in fields)]
        rows = [[*(row["labels"][d] for d in dims), *(row[name] or "—" for name, _, _ in fields)] for row in table["rows"]]
        return columns, "l" * len(dims) + "".join(align for _, _, align in fields), rows
    if key == "remedies":
        columns = ["Rank", "Id", "Remedy", "Rate", "Effect [95% CI]", "Pairs", "Times sooner", "Contexts sooner",
                   "Verdict, budget", "Verdict, time"]
        rows = []
        for row in table["rows"]:
            for entry in row["rates"]:
                v = entry["values"]
                rows.append([row["rank"], row["id"], row["name"], entry["rate"], v["effect"], v["pairs"], v["time"],
                             v["sooner"], *((w["verdict"] if w else "—") for w in (v["budget_verdict"], v["time_verdict"]))])
        return columns, "rlllrrrrll", rows
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
        horizon = table.get("horizon", False)
        columns = [*(d["heading"] for d in table["dimensions"]), "Seeds", *table["metrics"], "R² (best R²)",
                   *(["Past the budget (steps)"] if horizon else [])]
        rows = [[*(row["labels"][d] + (" †" if d == "activation" and row["flag"] else "") for d in dims), row["seeds"],
                 *(f"{m['mean']} {m['ci']}" for m in row["metrics"]), row["r2"], *([row["horizon"] or "—"] if horizon else [])]
                for row in table["rows"]]
        return columns, "l" * len(dims) + "r" * (2 + len(table["metrics"])) + "l" * horizon, rows
    raise ValueError(f"unknown table key {key!r}")


def citable_tables(tables: Sequence[dict], result_columns: Sequence[str], config_hash: str, commit: str) -> list[dict]:
    """The report's tables as :func:`write_table_files` writes them (ordered by number), each caption
    ending in its stamp; sets each table's ``stamp`` too (in place)."""
    files = []
    for table in tables:
        table["stamp"] = table_stamp(table["id"], config_hash, commit)
        columns, align, rows = flat_table(table, result_columns)
        files.append({"id": table["id"], "number": table["number"], "title": table["title"],
                      "caption": f"{table['caption']} {table['stamp']}",
                      "columns": columns, "align": align, "rows": rows})
    return sorted(files, key=lambda t: t["number"])


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------


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


def latex_character(char: str) -> str:
    """One character as pdfLaTeX reads it with UTF-8 input and T1 fonts (no other package): a special
    or a symbol of :data:`LATEX_SPECIALS` as its command, ASCII and Latin-1 letters as
    they are, another character by its decomposition when that is ASCII (``ﬁ`` -> ``fi``), else by
    its code point (``[U+2603]``), so that no text stops the compilation."""
    if char in LATEX_SPECIALS:
        return LATEX_SPECIALS[char]
    if ord(char) < 0x100 and (char.isprintable() or char == " "):
        return char if ord(char) < 0x80 or char.isalpha() else f"[U+{ord(char):04X}]"
    plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    return "".join(LATEX_SPECIALS.get(c, c) for c in plain) if plain.strip() else f"[U+{ord(char):04X}]"


def latex_escape(text: str) -> str:
    """``text`` on one line with LaTeX's special characters escaped and every character pdfLaTeX
    could not read replaced (:func:`latex_character`)."""
    return "".join(latex_character(char) for char in " ".join(str(text).split()))


def latex_row(cells: Sequence[str]) -> str:
    """One row of a tabular: its cells escaped, joined by ``&``, ended by ``\\\\``; led by ``{}`` where
    it starts with ``[`` or ``*``, which the ``\\\\`` or rule before it would read as its argument."""
    text = " & ".join(latex_escape(cell) for cell in cells)
    return ("{}" if text.startswith(("[", "*")) else "") + text + " \\\\"


def latex_packages(table: Mapping) -> list[str]:
    """The packages :func:`to_latex`'s text of ``table`` needs besides the kernel (and, for its
    letters, ``\\usepackage[T1]{fontenc}``): booktabs, and longtable for a long table."""
    return ["booktabs", *(["longtable"] if len(table["rows"]) > LONGTABLE_ROWS else [])]


#: Font sizes for a wide table, smallest last, with the most characters a line of each holds on a
#: portrait A4 page (3pt between columns); by the column count or, where wider, the text.
LATEX_SIZES = (("\\small", 8, 110), ("\\footnotesize", 11, 125), ("\\scriptsize", None, 150), ("\\tiny", None, None))


def latex_size(table: Mapping) -> str:
    """The font size of ``table`` in LaTeX: by its number of columns, and smaller where its widest
    row (each column as wide as its longest cell or its heading, set on one line) would not fit at
    that size."""
    columns = len(table["columns"])
    widths = [max([len(str(heading))] + [len(str(row[index])) for row in table["rows"]])
              for index, heading in enumerate(table["columns"])]
    characters = sum(widths) + 2 * columns
    for size, most_columns, most_characters in LATEX_SIZES:
        if (most_columns is None or columns <= most_columns) and (most_characters is None or characters <= most_characters):
            return size
    return LATEX_SIZES[-1][0]


def to_latex(table: Mapping) -> str:
    """The table in LaTeX with booktabs rules (``\\toprule``, ``\\midrule``, ``\\bottomrule``), its
    caption and ``\\label{tab:<id>}``: a ``table`` float holding a ``tabular``, or, for more than
    :data:`LONGTABLE_ROWS` rows, a ``longtable`` that breaks across pages (its headings repeated). Its
    first line says what it needs (:func:`latex_packages`); wide tables are set smaller, with less
    space between columns (an overfull line is a warning, not an error)."""
    check_table(table)
    align = "".join(table.get("align") or "l" * len(table["columns"]))
    width = len(table["columns"])
    size = latex_size(table)
    headings = latex_row(table["columns"])
    rows = [latex_row(row) for row in table["rows"]]
    needs = " and ".join(f"\\usepackage{{{name}}}" for name in latex_packages(table))
    caption = f"\\caption{{{latex_escape(table['caption'])}}}\\label{{tab:{table['id']}}}"
    if "longtable" in needs:
        body = [
            "\\begingroup",
            size,
            "\\setlength{\\tabcolsep}{3pt}",
            f"\\begin{{longtable}}{{{align}}}",
            caption + " \\\\",
            "\\toprule", headings, "\\midrule", "\\endfirsthead",
            f"\\multicolumn{{{width}}}{{l}}{{Table~\\thetable{{}} ({table['id']}), continued}} \\\\",
            "\\toprule", headings, "\\midrule", "\\endhead",
            "\\bottomrule", "\\endlastfoot",
            *rows,
            "\\end{longtable}",
            "\\endgroup",
        ]
    else:
        body = [
            "\\begin{table}[htbp]",
            "\\centering",
            *([size, "\\setlength{\\tabcolsep}{3pt}"] if width > 6 else []),
            caption,
            f"\\begin{{tabular}}{{{align}}}",
            "\\toprule", headings, "\\midrule",
            *rows,
            "\\bottomrule",
            "\\end{tabular}",
            "\\end{table}",
        ]
    lines = [f"% {table['id']} (Loss Atlas); needs {needs}, and \\usepackage[T1]{{fontenc}} for its letters", *body]
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
