"""The answer, the mechanism, the tuned rates and the remedies of the report
(lossatlas.report.discussion)."""

from __future__ import annotations

import pytest
from handmade import analysis_tables, cells_table
from handmade import findings as findings_json
from report_fixtures import study_fixture  # noqa: F401  (the pytest fixture `study`)

from lossatlas.core import textfmt
from lossatlas.report import discussion


def test_the_answer_quotes_the_findings():
    answer = discussion.answer_context(findings_json())
    assert (answer["n_cells"], answer["n_failing"], answer["budget"], answer["cap"]) == ("3", "3", "240", "1,920")
    assert [c["name"] for c in answer["categories"]] == ["small gradient", "step budget", "undecided"]
    assert "median 3.8 times the optimizer's reach" in answer["categories"][1]["words"]
    assert answer["later_multiple"] == "5.4" and answer["n_reach_later"] == "2"
    assert answer["best"] == [
        {"rate": "default", "id": "C1", "name": "Claim supported", "effect": "2.9 [2.7, 3.3]"},
        {"rate": "tuned", "id": "C2", "name": "Claim <not> supported", "effect": "3.5 [3.4, 4.1]"},
    ]
    missing = {key: value for key, value in findings_json().items() if key != "best_remedy"}
    with pytest.raises(ValueError, match="best_remedy"):
        discussion.answer_context(missing)


def test_mechanism_tuned_rates_and_remedies_tables(study):
    tables = analysis_tables()
    mechanism = discussion.mechanism_context(tables["mechanism"])
    assert [d["name"] for d in mechanism["dimensions"]] == ["dataset", "optimizer", "learning_rate", "loss", "activation"]
    first, sgd, never = mechanism["rows"]
    assert (first["needed"], first["travelled"], first["capacity"], first["reach"]) == ("0.9", "0.2", "0.24", "680")
    assert sgd["capacity"] == "n/a" and never["needed"] == "n/a" and never["reach"] == "not reached"
    assert first["labels"]["loss"] == "MSE" and first["labels"]["learning_rate"] == "0.001"
    tuned = discussion.tuned_context(tables["tuned_rates"], cells_table(study))
    assert (tuned["n_cells"], tuned["n_moved"], tuned["n_edge"]) == ("3", "3", "1")
    bce = tuned["rows"][2]
    assert (bce["default"], bce["tuned"], bce["rates"], bce["edge"]) == ("0.001", "1", "4 [0.001, 1]", "high")
    cells = cells_table(study)
    extended = cells.iloc[-1]  # the cell past the sweep, at the tuned rate
    assert bce["nrmse_tuned"] == textfmt.format_number(extended["final_test_nrmse_median"])
    assert discussion.tuned_context(tables["tuned_rates"], cells.iloc[:-1])["rows"][2]["nrmse_tuned"] == "n/a"
    at_default = cells[(cells["experiment"] == "long") & (cells["loss"] == "mse") & (cells["activation"] == "sigmoid")
                       & (cells["learning_rate"] == 0.001)].iloc[0]
    assert tuned["rows"][0]["nrmse_default"] == textfmt.format_number(at_default["final_test_nrmse_median"])
    remedies = discussion.remedies_context(tables["remedies"])
    assert [(r["rank"], r["id"]) for r in remedies["rows"]] == [("1", "C2"), ("2", "C1")]
    assert [e["rate"] for e in remedies["rows"][0]["rates"]] == ["default", "tuned"]
    tuned_c2 = remedies["rows"][0]["rates"][1]["values"]
    assert (tuned_c2["effect"], tuned_c2["time"], tuned_c2["sooner"]) == ("3.5 [3.4, 4.1]", "17", "1 of 1")
    c1 = remedies["rows"][1]["rates"]
    assert len(c1) == 1 and c1[0]["values"]["time"] == "n/a" and c1[0]["values"]["time_verdict"] is None
