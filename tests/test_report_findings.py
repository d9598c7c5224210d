"""The article's examples and the loss comparisons of the report (lossatlas.report.findings)."""

from __future__ import annotations

import numpy as np
import pytest
from handmade import analysis_tables, cells_table
from report_fixtures import study_fixture  # noqa: F401  (the pytest fixture `study`)

from lossatlas.report import findings

# --- the article, claims, comparisons ------------------------------------------------------------


def test_article_table_has_each_example_and_the_paired_comparison():
    tables = analysis_tables()
    article = findings.article_context(tables["article_summary"], tables["article_examples"])
    first, third = article["examples"][0], article["examples"][2]
    # losses to 3 significant digits; a median and its 2.5-97.5% range as an estimate and its interval
    assert first["printed"] == "0.818" and first["median"] == "1.20" and first["range"] == "[1.01, 1.39]"
    assert first["inside"] == "no" and third["inside"] == "yes" and third["quantile"] == "0.2"
    assert third["test_median"] == "0.0120" and third["test_range"] == "[0.0100, 0.0139]"
    values = {row["heading"]: row["value"] for row in article["comparison"]}
    assert len(values) == len(findings.EXAMPLE_COMPARISON_ROWS)
    assert values["Mean paired difference, example 3 − example 2 [95% BCa CI]"] == "-0.0240 [-0.0300, -0.0180]"
    assert values["Seeds paired (examples 2 and 3 share each seed's data)"] == "5"
    assert values["Hodges–Lehmann estimate of the paired difference, example 3 − example 2"] == "-0.0235"
    assert values["Paired Cohen's d_z (positive: example 3 lower)"] == "3.2"  # an effect: 2 significant digits
    assert values["Two-sided p (Wilcoxon signed-rank, Pratt's zero handling)"] == "0.0625"
    with pytest.raises(ValueError, match="p_value"):
        findings.article_context(tables["article_summary"], tables["article_examples"].drop(columns="p_value"))
    summary = tables["article_summary"].assign(printed_inside=tables["article_summary"]["printed_inside"].astype(str))
    assert findings.article_context(summary, tables["article_examples"])["examples"][2]["inside"] == "yes"  # as read from CSV


def test_best_losses_make_a_table_in_grid_order(study):
    cells, tables = cells_table(study), analysis_tables()
    best = tables["best_losses"]
    comparison = findings.comparison_tables(cells, best, study)
    article = next(t for t in comparison if t["experiment"] == "article")
    assert article["column_labels"] == ["adam", "sgd"]  # the config's order, not the table's
    cell = article["rows"][[r["labels"][0] for r in article["rows"]].index("seed_small")]["cells"]
    assert cell == [{"loss": "BCE", "mark": "*", "median": "1"}, {"loss": "BCE", "mark": "", "median": "1"}]
    tally = {row["loss"]: row for row in article["tally"]}
    assert tally["binary_crossentropy"]["best"] == tally["binary_crossentropy"]["contexts"] == "2"
    assert tally["binary_crossentropy"]["significant"] == "1"
    as_read = best.assign(all_beaten=best["all_beaten"].astype(str), best=["binary_crossentropy", np.nan, "binary_crossentropy"])
    cells_read = findings.comparison_tables(cells, as_read, study)[0]["rows"][0]["cells"]
    assert cells_read[0]["mark"] == "*" and cells_read[1]["loss"] == "n/a"  # no finite median: no best loss
    with pytest.raises(ValueError, match="all_beaten"):
        findings.comparison_tables(cells, best.drop(columns="all_beaten"), study)
    context = findings.comparisons_context(cells, tables["comparisons"], best, study)
    assert context["n_rows"] == "2" and context["n_significant"] == "1" and context["metric"] == "final_test_nrmse"
    assert [t["experiment"] for t in context["tables"]] == ["article", "long"]
