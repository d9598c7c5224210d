"""The claims, their verdicts and the time-to-target rows of the report (lossatlas.report.verdicts)."""

from __future__ import annotations

import pytest
from handmade import analysis_tables

from lossatlas.analysis.claims import VERDICTS
from lossatlas.report import verdicts


def test_claims_context_knows_every_verdict():
    claims = verdicts.claims_context(analysis_tables()["verdicts"])
    assert [c["verdict"] for c in claims] == list(VERDICTS) == ["supported", "not supported", "mixed", "undecided"]
    assert [c["verdict_class"] for c in claims] == ["supported", "not-supported", "mixed", "undecided"]
    assert claims[0]["holds"] == "2 of 2" and claims[0]["evidence"][1]["text"].startswith("optimizer sgd")
    assert claims[0]["evidence"][1]["label"] == "budget, default rate"
    assert claims[0]["article"] == "the article's <words>"
    bad = analysis_tables()["verdicts"].assign(verdict="plausible")
    with pytest.raises(ValueError, match="plausible"):
        verdicts.claims_context(bad)
    bad = analysis_tables()["verdicts"].assign(verdict_budget_tuned="likely")
    with pytest.raises(ValueError, match="likely"):
        verdicts.claims_context(bad)


def test_claims_have_a_verdict_per_judgment_and_rate():
    claims = verdicts.claims_context(analysis_tables()["verdicts"])
    judged = {(j["judged"], j["rate"]): j["verdict"] for j in claims[1]["judgments"]}
    assert [j["heading"] for j in claims[1]["judgments"]] == [
        "Budget, default rate", "Budget, tuned rate", "Time, default rate", "Time, tuned rate"]
    assert judged[("budget", "default")]["verdict"] == "not supported" and judged[("budget", "tuned")]["verdict"] == "supported"
    assert judged[("time", "default")]["verdict"] == "undecided"
    assert [j["verdict"] for j in claims[0]["judgments"][1:]] == [None, None, None]  # not judged so (NaN in the CSV)
    assert claims[1]["time_rule"].endswith("<sooner>") and claims[0]["time_rule"] == ""
    assert claims[1]["evidence"][-1] == {"label": "time, tuned rate", "text": "optimizer adam: a vs b: 40 vs 680 steps: sooner"}


def test_abstract_lists_the_verdicts_at_each_rate():
    claims = verdicts.claims_context(analysis_tables()["verdicts"])
    abstract = verdicts.abstract_context(claims)
    assert abstract["summary"] == "1 supported, 1 not supported, 1 mixed and 1 undecided"
    assert [c["id"] for c in abstract["default"]] == ["C1", "C2", "C3", "C4"]
    assert [c["id"] for c in abstract["tuned"]] == ["C2"]
    assert [(v["words"], v["verdict"]) for v in abstract["tuned"][0]["verdicts"]] == [
        ("at the budget", "supported"), ("by time to target", "supported")]


def test_time_rows_quote_the_kaplan_meier_medians_and_the_ratio():
    tables = analysis_tables()
    claims = verdicts.claims_context(tables["verdicts"])
    time = verdicts.time_context(tables["claim_details"], claims)
    assert len(time["rows"]) == 2 and all(row["id"] == "C2" for row in time["rows"])
    default, tuned = time["rows"]
    assert (default["steps_better"], default["ratio"], default["outcome"]) == ("not reached", "n/a", "undecided at the cap")
    assert tuned["pair"] == "BCE vs MSE" and tuned["ratio"] == "17 [9, 17]"
    assert (tuned["better_status"], tuned["baseline_status"]) == ("reached", "stalled")
    assert time["outcomes"] == {"default": "1 undecided at the cap", "tuned": "1 sooner"}
    assert [c["id"] for c in time["claims"]] == ["C2"]
