"""The report's LaTeX tables compile: every table kind (hand-made results), as a float and as a long
table, and every character the writer may meet, each in a minimal document with Debian's pdfLaTeX."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from handmade import analysis_tables, cells_table, floors_table
from helpers import smoke_config

from lossatlas import report
from lossatlas.design import plan
from lossatlas.design.config import load_study
from lossatlas.report import tables

PDFLATEX = shutil.which("pdflatex")
pytestmark = pytest.mark.skipif(
    PDFLATEX is None,
    reason="no pdflatex here (Debian: `scripts/install-system-packages.sh test` installs texlive-latex-base, "
           "texlive-latex-recommended and texlive-fonts-recommended)",
)
#: The packages a table file may ask for (its first line names those it needs).
ALLOWED = {"booktabs", "longtable"}


def compile_table(path: Path) -> subprocess.CompletedProcess:
    """Compiles the table file ``path`` in a minimal article with T1 fonts, UTF-8 input and the
    packages its first line says it needs; returns pdflatex's run (its log in ``<id>-doc.log``)."""
    text = path.read_text(encoding="utf-8")
    needs = re.findall(r"\\usepackage\{(\w+)\}", text.splitlines()[0])
    assert needs and set(needs) <= ALLOWED and "booktabs" in needs, text.splitlines()[0]
    document = path.with_name(f"{path.stem}-doc.tex")
    document.write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
        + "".join(f"\\usepackage{{{name}}}\n" for name in needs)
        + f"\\begin{{document}}\n\\input{{{path.name}}}\n\\end{{document}}\n",
        encoding="utf-8",
    )
    return subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", document.name], cwd=path.parent,
                          capture_output=True, text=True, errors="replace", timeout=120)


def assert_compiles(path: Path) -> str:
    """Compiles ``path`` (:func:`compile_table`) and fails with pdflatex's error when it does not; returns
    the text of the PDF, on one line (empty without pdftotext)."""
    run = compile_table(path)
    log = path.with_name(f"{path.stem}-doc.log")
    errors = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("!")] if log.exists() else []
    assert run.returncode == 0 and not errors, f"{path.name}: {errors or run.stdout[-2000:]}"
    pdf = path.with_name(f"{path.stem}-doc.pdf")
    if not shutil.which("pdftotext"):
        return ""
    return " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, errors="replace").stdout.split())


@pytest.fixture(scope="module")
def study():
    return load_study(smoke_config())


@pytest.mark.slow
@pytest.mark.parametrize("long_rows", [tables.LONGTABLE_ROWS, 0], ids=["float", "longtable"])
def test_every_report_table_compiles(study, tmp_path, monkeypatch, long_rows):
    """Every table kind the report writes (best losses, results per dataset, claims, time to target,
    tuned rates, mechanism, remedies, the article's two tables, every cell): a float, and a long
    table past the longtable threshold."""
    monkeypatch.setattr(tables, "LONGTABLE_ROWS", long_rows)
    cells = cells_table(study)
    cells.loc[cells.index[0], "model"] = "dense_1 & 50% #1 {x} ~y^2 $z \\w"  # every special, in a cell label
    context = report.build_context(study, cells, {}, [], repo=tmp_path, analysis=analysis_tables(), floors=floors_table())
    written = [tables.write_table_files(table, tmp_path)["tex"] for table in context["citable_tables"]]
    assert [path.stem for path in written] == list(plan.table_ids(study).values())
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert ("\\begin{longtable}" in text) == (len(next(t for t in context["citable_tables"] if t["id"] == path.stem)["rows"]) > long_rows)
        pdf = assert_compiles(path)
        if pdf:
            assert path.stem in pdf  # the caption's stamp: the table's id
    appendix = tmp_path / f"{plan.table_ids(study)['appendix']}.tex"
    assert r"dense\_1 \& 50\% \#1 \{x\} \textasciitilde{}y\textasciicircum{}2 \$z \textbackslash{}w" in appendix.read_text()


def test_every_character_compiles(tmp_path):
    """ASCII, Latin-1, the symbols the tables use and ones they might (Greek, arrows, ...), unknown
    ones, and rows that start with what a row end would read as its argument (``[``, ``*``)."""
    text = "".join(chr(code) for code in range(0x20, 0x250) if chr(code).isprintable())
    text += "".join(tables.LATEX_SPECIALS) + "≤ ≥ † ² × σ − ½ · δ Δ — – … √ π ∝ ☃ ﬁ 𝛼 “quoted” ‘x’"
    rows = [[text[i:i + 30], "*", "[1, 2]"] for i in range(0, len(text), 30)] + [["[0.5, 1]", "*x", "**"]]
    table = {"id": "T9", "number": 9, "caption": f"Every character: {text} [T9; config abc; commit 1234567]",
             "columns": ["[Text]", "*", "Interval"], "align": "llr", "rows": rows}
    path = tmp_path / "T9.tex"
    path.write_text(tables.to_latex(table), encoding="utf-8")
    pdf = assert_compiles(path)
    if pdf:
        assert "Every character" in pdf and "[U+2603]" in pdf and "[0.5, 1]" in pdf
    long_table = {**table, "id": "T10", "rows": rows * (tables.LONGTABLE_ROWS // len(rows) + 2)}
    path = tmp_path / "T10.tex"
    path.write_text(tables.to_latex(long_table), encoding="utf-8")
    assert "\\begin{longtable}" in path.read_text()
    assert_compiles(path)


def test_thousands_of_rows_compile_as_a_long_table(tmp_path):
    """A table of every cell of a large study (thousands of rows) as one float would exhaust TeX's
    memory; as a long table it compiles, page by page."""
    row = ["grid", "seed_small", "raw", "standardized", "mlp", "rmsprop", "0.001", "MSE", "sigmoid †", "20",
           "0.1234 [0.1111, 0.1456]", "0.1234 [0.1111, 0.1456]", "0.1234 [0.1111, 0.1456]", "-0.5 (0.98)"]
    table = {"id": "T19", "number": 19, "caption": "Every cell [T19; config abc; commit 1234567]",
             "columns": [f"Column {n}" for n in range(len(row))], "align": "l" * 10 + "r" * 4, "rows": [row] * 6000}
    path = tmp_path / "T19.tex"
    path.write_text(tables.to_latex(table), encoding="utf-8")
    assert_compiles(path)
