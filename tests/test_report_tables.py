"""Citable tables (ids from the config, CSV / LaTeX / Markdown), provenance of stages, citation."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from handmade import analysis_tables, cells_table, floors_table
from helpers import REPO, smoke_config

from lossatlas import report
from lossatlas.core import textfmt
from lossatlas.design import plan
from lossatlas.design.config import load_study
from lossatlas.report import citation, provenance, tables

TOY_TABLE = {
    "id": "T4", "number": 4, "caption": "Costs & 50% of_it {x} [T4; config abc; commit 1234567]",
    "columns": ["Loss", "Test nRMSE"], "align": "lr",
    "rows": [["mse|mae", "1.235 [1.1, 1.3]"], ["a\\b ~^$#", "n/a"]],
}


@pytest.fixture(scope="module")
def study():
    return load_study(smoke_config())


def test_csv_writer_keeps_every_cell():
    text = tables.to_csv(TOY_TABLE)
    assert pd.read_csv(io.StringIO(text), keep_default_na=False).values.tolist() == [["mse|mae", "1.235 [1.1, 1.3]"], ["a\\b ~^$#", "n/a"]]
    assert text.splitlines()[0] == "Loss,Test nRMSE"


def test_latex_writer_is_booktabs_and_escaped():
    text = tables.to_latex(TOY_TABLE)
    lines = text.splitlines()
    assert lines.index("\\toprule") < lines.index("\\midrule") < lines.index("\\bottomrule")
    assert "\\begin{tabular}{lr}" in text and "\\label{tab:T4}" in text
    assert r"Costs \& 50\% of\_it \{x\}" in text
    assert r"a\textbackslash{}b \textasciitilde{}\textasciicircum{}\$\#" in text
    assert "mse|mae & 1.235 [1.1, 1.3] \\\\" in text
    assert tables.latex_escape("nRMSE ≤ 1.5, R²  †") == r"nRMSE $\leq$ 1.5, R\textsuperscript{2} \dag{}"


def test_markdown_writer_escapes_pipes_and_aligns_numbers():
    lines = tables.to_markdown(TOY_TABLE).splitlines()
    assert lines[0].startswith("**Table 4 (T4).** Costs & 50%")
    assert lines[2] == "| Loss | Test nRMSE |" and lines[3] == "| --- | ---: |"
    assert lines[4] == "| mse\\|mae | 1.235 [1.1, 1.3] |"


def test_table_writers_reject_ragged_rows(tmp_path):
    with pytest.raises(ValueError, match="row 0"):
        tables.to_csv({**TOY_TABLE, "rows": [["only one"]]})
    paths = tables.write_table_files(TOY_TABLE, tmp_path)
    assert sorted(p.name for p in paths.values()) == ["T4.csv", "T4.md", "T4.tex"]
    assert paths == plan.table_paths(tmp_path, "T4")


def test_table_ids_come_from_the_config(study, tmp_path):
    ids = plan.table_ids(study)
    assert list(ids.values()) == [f"T{n}" for n in range(1, len(ids) + 1)]
    assert ids["appendix"] == f"T{len(ids)}" and "claims" in ids
    assert list(ids)[:2] == ["comparison:article", "comparison:long"]
    keys = list(ids)
    assert keys[keys.index("claims"):] == ["claims", "time", "tuned_rates", "mechanism", "remedies", "article:examples",
                                          "article:comparison", "appendix"]
    # The results do not move the ids: the same plan with the cells of a run or without.
    cells = cells_table(study)
    context = report.build_context(study, cells, {}, [], repo=tmp_path, analysis=analysis_tables(), floors=floors_table())
    by_id = {t["id"]: t for t in context["citable_tables"]}
    assert list(by_id) == list(ids.values())
    for table in context["citable_tables"]:
        assert table["caption"].endswith(f"[{table['id']}; config {study.config_hash}; commit unknown]")
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
        assert table["title"] and "{" not in table["title"]
    appendix = by_id[ids["appendix"]]
    first = cells.iloc[-1]
    expected = textfmt.format_interval(first["final_test_rmse_mean"], first["final_test_rmse_ci_low"], first["final_test_rmse_ci_high"])
    assert expected in [cell for row in appendix["rows"] for cell in row]
    comparison = by_id[ids["comparison:article"]]
    assert f"Holm at {textfmt.format_number(study.config['statistics']['alpha'])}" in comparison["caption"]


def write_report_inputs(study, aggregate_dir, analysis_dir):
    """Write the test's cells, floors and analysis tables as the pipeline names them; return their paths
    (cells, floors, {analysis name: path})."""
    aggregate_dir.mkdir(parents=True, exist_ok=True)
    analysis_dir.mkdir(parents=True, exist_ok=True)
    cells, floors = aggregate_dir / "cells.csv", aggregate_dir / "floors.csv"
    cells_table(study).to_csv(cells, index=False)
    floors_table().to_csv(floors, index=False)
    tables = analysis_tables()
    analysis = {}
    for name in report.ANALYSIS_FILES:
        frame = tables[name]
        if name == "findings":
            analysis[name] = analysis_dir / "findings.json"
            analysis[name].write_text(json.dumps(frame))
        else:
            analysis[name] = analysis_dir / f"{name}.csv"
            frame.to_csv(analysis[name], index=False)
    return cells, floors, analysis


@pytest.mark.slow
def test_write_report_writes_html_pdf_tables_and_snakemakes_captions(study, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    cells, floors, analysis = write_report_inputs(study, tmp_path, tmp_path)
    out = tmp_path / "report"
    report.write_report(
        study, cells=cells, floors=floors, analysis=analysis,
        figures={}, study_figures={}, benchmarks=[], template=REPO / "report" / "supplement.html.j2",
        style=REPO / "report" / "style.css", html=out / "report.html", pdf=out / "report.pdf",
        tables_dir=out / "tables", captions_dir=out / "captions", repo=tmp_path,
    )
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    html = (out / "report.html").read_text()
    for table_id in plan.table_ids(study).values():
        assert f'id="{table_id}"' in html and (out / "tables" / f"{table_id}.tex").exists()
    assert sorted(p.stem for p in (out / "captions").glob("*.rst")) == sorted(plan.SNAKEMAKE_CAPTIONS)


@pytest.mark.slow
def test_rebuild_tables_gives_each_csv_as_the_report_stage_writes_it(study, tmp_path, monkeypatch):
    """inputs.json names what the report read, relative to itself: a moved copy of the whole tree
    rebuilds every T<n>.csv byte for byte from itself, and a changed result changes the rebuilt table."""
    import shutil

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    results = tmp_path / "results"
    cells, floors, analysis = write_report_inputs(study, results / "aggregate", results / "analysis")
    out = results / "report"
    report.write_report(
        study, cells=cells, floors=floors, analysis=analysis,
        figures={}, study_figures={}, benchmarks=[], template=REPO / "report" / "supplement.html.j2",
        style=REPO / "report" / "style.css", html=out / "report.html", pdf=out / "report.pdf",
        tables_dir=out / "tables", repo=tmp_path, inputs=out / "inputs.json",
    )
    document = json.loads((out / "inputs.json").read_text())
    assert document["cells"] == "../aggregate/cells.csv" and document["analysis"]["findings"] == "../analysis/findings.json"
    assert document["config"] == study.config and [c["id"] for c in document["claims"]] == [c["id"] for c in plan.claims_of(study)]
    moved = tmp_path / "elsewhere" / "results"
    shutil.copytree(results, moved)
    shutil.rmtree(results)
    rebuilt = report.rebuild_tables(moved / "report" / "inputs.json")
    assert list(rebuilt) == list(plan.table_ids(study).values())
    for table_id, text in rebuilt.items():
        assert (moved / "report" / "tables" / f"{table_id}.csv").read_text() == text, table_id
    changed = pd.read_csv(moved / "aggregate" / "cells.csv")
    changed.loc[0, "final_test_rmse_mean"] *= 1.5
    changed.to_csv(moved / "aggregate" / "cells.csv", index=False)
    again = report.rebuild_tables(moved / "report" / "inputs.json")
    appendix = plan.table_ids(study)["appendix"]
    assert again[appendix] != rebuilt[appendix]
    document["format"] = 0
    (moved / "report" / "inputs.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="format"):
        report.rebuild_tables(moved / "report" / "inputs.json")


def test_a_table_too_long_to_print_is_sent_as_data(study, monkeypatch):
    from lossatlas.report import sections

    cells = cells_table(study)
    assert sections.appendix_context(cells, study)["data"] is None  # printed: rows of markup
    monkeypatch.setattr(sections, "APPENDIX_PRINT_LIMIT", 5)
    cells.loc[cells.index[0], "model"] = "</script><b>&"
    appendix = sections.appendix_context(cells, study)
    assert not appendix["print"] and "<" not in appendix["data"] and "&" not in appendix["data"]
    data = json.loads(appendix["data"])
    dimensions = [d["name"] for d in appendix["dimensions"]]
    assert data["values"] == [f["values"] for f in appendix["filters"]] and dimensions[data["flag"]] == "activation"
    assert len(data["rows"]) == len(cells) == len(appendix["rows"])
    for encoded, row in zip(data["rows"], appendix["rows"]):
        labels = [data["values"][i][index] for i, index in enumerate(encoded[:len(dimensions)])]
        assert labels == [row["labels"][d] for d in dimensions] and encoded[len(dimensions)] == int(bool(row["flag"]))
        metrics = [f"{m['mean']} {m['ci'][1:-1].replace(', ', ' ')}" for m in row["metrics"]]
        assert encoded[len(dimensions) + 1:] == [row["seeds"], *metrics, row["r2"], *([row["horizon"]] if row["horizon"] else [])]
        assert data["metrics"] == len(row["metrics"])
    rates = next(f["values"] for f in appendix["filters"] if f["name"] == "learning_rate")
    assert rates == sorted(rates, key=float)


def test_the_rebuild_command_keeps_the_runs_config():
    assert provenance.config_options(["snakemake", "--cores", "2", "--configfile", "a.yaml", "b.yaml", "-n"]) == \
        "--configfile a.yaml b.yaml"
    assert provenance.config_options(["snakemake", "--config=x=1", "--forcerun", "report"]) == "--config=x=1"
    assert provenance.config_options(["snakemake", "--cores", "all"]) == ""


def test_new_tables_are_there_only_when_the_config_has_them(study):
    claims = plan.claims_of(study)
    assert {c["id"] for c in plan.time_claims(claims)} == {"S2", "S4", "S5"}
    budget_only = [{**c, "judged_by": ["budget"], "remedy": False} for c in claims]
    keys = plan.table_plan(study, claims=budget_only)
    assert "time" not in keys and "remedies" not in keys and "tuned_rates" in keys and "mechanism" in keys
    assert "mechanism" not in plan.table_plan(study, claims=[c for c in claims if c["kind"] != "paired"])
    config = smoke_config()
    config["experiments"]["long"]["tune"] = False
    assert "tuned_rates" not in plan.table_plan(load_study(config), claims=claims)
    # the same config and claims give the same ids, whatever the results
    assert plan.table_ids(study) == plan.table_ids(load_study(smoke_config()))


def test_new_tables_flatten_with_every_column(study, tmp_path):
    context = report.build_context(study, cells_table(study), {}, [], repo=tmp_path, analysis=analysis_tables(),
                                   floors=floors_table())
    ids = plan.table_ids(study)
    by_id = {t["id"]: t for t in context["citable_tables"]}
    claims = by_id[ids["claims"]]
    assert claims["columns"][5:9] == ["Budget, default rate", "Budget, tuned rate", "Time, default rate", "Time, tuned rate"]
    assert claims["rows"][1][5:9] == ["not supported", "supported", "undecided", "supported"]
    assert claims["rows"][0][4] == "—" and claims["rows"][0][6:9] == ["—", "—", "—"]
    time = by_id[ids["time"]]
    # the ratio by the rule for ratios: textfmt.format_interval(17, 8.5, 17.25, "ratio")
    assert time["rows"][1] == ["C2", "tuned", "optimizer adam", "BCE vs MSE", "40", "680", "17 [9, 17]", "reached",
                               "stalled", "sooner"]
    tuned = by_id[ids["tuned_rates"]]
    assert tuned["columns"][:5] == ["Experiment", "Dataset", "Optimizer", "Loss", "Activation"]
    assert tuned["rows"][2][5:9] == ["0.001", "1", "4 [0.001, 1]", "high"]
    mechanism = by_id[ids["mechanism"]]
    assert "Category" in mechanism["columns"] and mechanism["rows"][1][mechanism["columns"].index("Reach in budget")] == "n/a"
    remedies = by_id[ids["remedies"]]
    assert [row[:4] for row in remedies["rows"]] == [["1", "C2", "Claim <not> supported", "default"],
                                                    ["1", "C2", "Claim <not> supported", "tuned"],
                                                    ["2", "C1", "Claim supported", "default"]]
    assert remedies["rows"][2][-2:] == ["supported", "—"]
    for table in (claims, time, tuned, mechanism, remedies):
        paths = tables.write_table_files(table, tmp_path / "tables")
        assert "\\toprule" in paths["tex"].read_text() and "—" not in paths["tex"].read_text()
        assert pd.read_csv(paths["csv"]).shape == (len(table["rows"]), len(table["columns"]))


def test_bibtex_from_a_cff(tmp_path):
    cff = tmp_path / "CITATION.cff"
    cff.write_text(
        'cff-version: 1.2.0\ntitle: "Loss Atlas: a 100% reproducible_benchmark"\nversion: 0.1.0\n'
        'date-released: "2026-11-29"\nauthors:\n  - name: "The Loss Atlas developers"\n'
        "  - family-names: Doe\n    given-names: Jane\nlicense: MIT\n"
    )
    document = citation.read_cff(cff)
    assert citation.author_names(document) == ["The Loss Atlas developers", "Jane Doe"]
    entry = citation.bibtex(document, commit="0123456789abcdef0123456789abcdef01234567")
    assert entry.startswith("@software{lossatlas2026,\n")
    assert r"title = {{Loss Atlas: a 100\% reproducible\_benchmark}}" in entry
    assert "author = {{The Loss Atlas developers} and Doe, Jane}" in entry
    assert "version = {0.1.0}" in entry and "year = {2026}" in entry
    assert "note = {commit 0123456789abcdef0123456789abcdef01234567}" in entry
    assert entry.count("{") == entry.count("}")
    assert "note" not in citation.bibtex(document)
    bad = tmp_path / "bad.cff"
    bad.write_text("- a list\n")
    with pytest.raises(ValueError, match="not a CITATION.cff"):
        citation.read_cff(bad)


def test_the_repository_cff_makes_a_bibtex_entry(tmp_path):
    entry = citation.bibtex(citation.read_cff(REPO / "CITATION.cff"))
    assert entry.startswith("@software{") and "year = {" in entry
    assert citation.find_cff(tmp_path) == REPO / "CITATION.cff"  # the checkout lossatlas is installed from


def test_stage_times_from_benchmark_files(tmp_path):
    def bench(relative, seconds, rss="NA"):
        path = tmp_path / "results" / "benchmarks" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:00\t{rss}\n")
        return path

    paths = [bench("train/grid/mse/job000.tsv", 2.5, 700.4), bench("train/grid/mae/job001.tsv", 4, 512), bench("aggregate.tsv", 1.25),
             bench("figures/seed_small/article.tsv", 3), bench("figures/study/time.tsv", 7), bench("figures/study/overview.tsv", 2), bench("datasets/seed_small.tsv", 0.5)]
    stages = provenance.stage_times(paths)
    assert [s["stage"] for s in stages] == ["dataset", "train", "aggregate", "figures", "study_figures"]
    assert stages[-1] == {"stage": "study_figures", "jobs": "2", "total": "9", "max": "7", "peak_rss_mib": "n/a"}
    assert stages[1] == {"stage": "train", "jobs": "2", "total": "6.5", "max": "4", "peak_rss_mib": "700"}
    assert stages[2]["peak_rss_mib"] == "n/a"  # Snakemake writes NA where it could not measure
    context = provenance.provenance_context(paths, tmp_path)
    assert context["training_seconds"] == "6.5" and context["training_jobs"] == "2"


def test_shown_command_leaves_out_job_selection():
    argv = ["snakemake", "--cores", "2", "--configfile", "config/smoke.yaml", "--forcerun", "report", "figures",
            "--rerun-triggers", "mtime", "-F", "--until=aggregate"]
    assert provenance.shown_command(argv) == "snakemake --cores 2 --configfile config/smoke.yaml"
