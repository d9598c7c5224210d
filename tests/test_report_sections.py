"""The results tables of the report (lossatlas.report.sections) on the hand-made cells table."""

from __future__ import annotations

import pytest
from handmade import cells_table
from report_fixtures import study_fixture  # noqa: F401  (the pytest fixture `study`)

from lossatlas.core import textfmt
from lossatlas.design import plan, views
from lossatlas.report import sections

# --- results tables ------------------------------------------------------------------------------


def test_table_rows_format_every_number_of_the_cells_table(study):
    cells = cells_table(study).iloc[:3]
    rows = sections.table_rows(cells)
    first, second = cells.iloc[0], cells.iloc[1]
    assert [row["labels"]["loss"] for row in rows] == [textfmt.LOSS_NAMES[loss] for loss in cells["loss"]]
    headings = [key for key, _ in sections.RESULT_COLUMNS]
    nrmse = rows[0]["values"][headings.index("nrmse")]
    text = f"{nrmse['main']} {nrmse['ci']}"
    assert text == textfmt.format_interval(
        first["final_test_nrmse_mean"], first["final_test_nrmse_ci_low"], first["final_test_nrmse_ci_high"], "error"
    )
    # an error: 3 significant digits, but a CI narrower than the last digit keeps enough decimals to show its width
    assert text == "101.2 [100.7, 101.5]"
    values = {key: rows[1]["values"][i]["main"] for i, key in enumerate(headings)}
    assert values["median"] == textfmt.format_error(second["final_test_nrmse_median"]) == "92.2"
    assert values["iqm"] == "97.3" and values["stagnation"] == "0.25" and values["reach"] == "0.75"
    assert rows[0]["values"][headings.index("divergence")]["main"] == "0 (0/4)" and values["divergence"] == "0.25 (1/4)"
    assert values["steps"] == "16" and rows[2]["values"][headings.index("steps")]["main"] == "not reached"
    assert rows[0]["flag"] == "" and "dataset" not in rows[0]["labels"]


def test_appendix_rows_keep_the_raw_metrics(study):
    cells = cells_table(study).iloc[:2]
    rows = sections.appendix_rows(cells)
    rmse = rows[0]["metrics"][0]
    assert f"{rmse['mean']} {rmse['ci']}" == "1.23 [0.73, 1.48]"  # the CI to the mean's decimals
    loss = rows[1]["metrics"][2]
    assert f"{loss['mean']} {loss['ci']}" == "302.5 [302.0, 302.7]"  # a narrow CI: the decimals that show its width
    assert rows[1]["r2"] == "0.49 (0.9)" and rows[0]["labels"]["dataset"] == cells.iloc[0]["dataset"]


@pytest.mark.parametrize("column", ["final_test_nrmse_iqm", "reach_flag"])
def test_table_rows_need_every_column(study, column):
    with pytest.raises(ValueError, match=column):
        sections.table_rows(cells_table(study).drop(columns=column))


def test_results_tables_follow_the_config_order(study):
    tables = sections.results_tables(cells_table(study), study)
    assert [(t["id"], t["dataset"]) for t in tables] == [
        ("T1", "seed_large"), ("T2", "seed_small"), ("T3", "scale_1e-2"), ("T4", "scale_1e0")
    ]
    # the default view: the learning rate is the optimizer's, so no column of its own
    assert [d["name"] for d in tables[0]["dimensions"]] == ["targets", "optimizer", "loss", "activation"]
    columns = ("targets", "optimizer", "loss", "activation")
    grid = [(c.targets, c.optimizer, textfmt.loss_name(c.loss), c.activation) for c in views.default_cells(study)
            if c.dataset == "seed_small"]
    rows = [row for group in tables[1]["groups"] for row in group["rows"]]
    assert [tuple(r["labels"][c] for c in columns) for r in rows] == grid
    assert [g["experiment"] for g in tables[1]["groups"]] == ["article", "long"]
    flagged = [r for g in tables[0]["groups"] for r in g["rows"] if r["flag"]]
    assert flagged and all(r["labels"]["activation"] == "sigmoid" for r in flagged) and tables[0]["any_flag"]


def test_results_tables_show_a_dimension_that_varies(study):
    cells = cells_table(study)
    assert "model" not in [d["name"] for d in sections.results_tables(cells, study)[1]["dimensions"]]
    cells.loc[cells.index[::2], "model"] = "other"
    assert "model" in [d["name"] for d in sections.results_tables(cells, study)[1]["dimensions"]]


def test_large_experiments_are_summarised_not_listed(study, monkeypatch):
    monkeypatch.setattr(plan, "CURVE_CELL_LIMIT", 5)
    dataset_sections = sections.dataset_sections(cells_table(study), study)
    seed_small = next(s for s in dataset_sections if s["dataset"] == "seed_small")
    assert [g["experiment"] for g in seed_small["table"]["groups"]] == ["long"]
    assert seed_small["summarised"] == [{"experiment": "article", "n_cells": "10"}]
    assert next(s for s in dataset_sections if s["dataset"] == "seed_large")["table"] is None


def test_wide_tables_go_on_landscape_pages(study):
    cells = cells_table(study)
    assert not any(table["landscape"] for table in sections.results_tables(cells, study))
    cells["optimizer"] = "a_rather_long_optimizer_label_" + cells["optimizer"]
    cells["loss"] = "a_rather_long_loss_label_" + cells["loss"]
    assert all(table["landscape"] for table in sections.results_tables(cells, study))


def test_rates_sort_by_value_and_steps_read_as_words(study):
    rows = [{"labels": {"learning_rate": text}} for text in ("0.01", "1×10⁻⁴", "1", "n/a", "0.001", "1,000")]
    options = sections.filter_options(rows, ["learning_rate"])
    assert options[0]["values"] == ["1×10⁻⁴", "0.001", "0.01", "1", "1,000", "n/a"]
    cell = {"horizon_status": "reached", "horizon_steps": 1920.0}
    assert sections.horizon_text(cell) == "reached (1,920)"
    cells = cells_table(study).iloc[:3]
    for row in sections.table_rows(cells):  # never inf or nan in a rendered table
        texts = [value["main"] + value["ci"] for value in row["values"]]
        assert not any(word in text for text in texts for word in ("inf", "nan", "e+", "e-")), texts
