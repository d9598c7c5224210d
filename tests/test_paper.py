"""The paper and its supplement: the paper's parts from hand-made analysis tables, the references,
and on the smoke run both documents (every section, the abstract's length, no "inf"/"nan", numbers
by the report's rule, every citation listed and every listed work cited)."""

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from lossatlas.report import paper, references

REPO = Path(__file__).resolve().parents[1]
BIBLIOGRAPHY = REPO / "report" / "references.bib"


def text_of(html: str) -> str:
    """The visible text of a rendered document: no style, script or figure markup."""
    html = re.sub(r"<(style|script|svg)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&nbsp;", " ").split())


def test_the_bibliography_cites_and_lists_each_work_once():
    entries = references.read_bibliography(BIBLIOGRAPHY)
    assert {"wilcoxon1945", "holm1979", "efron1987", "kaplan1958", "wilson1927", "hodges1963", "kingma2015",
            "friedman1991", "efron2004", "dahl2023", "li2017", "article2025"} <= set(entries)
    citations = references.Citations(entries)
    assert str(citations.cite("holm1979", "kaplan1958")) == (
        '(<a class="cite" href="#ref-holm1979">Holm 1979</a>; <a class="cite" href="#ref-kaplan1958">Kaplan and Meier 1958</a>)')
    assert str(citations.cite_text("efron2004")) == 'Efron et al. (<a class="cite" href="#ref-efron2004">2004</a>)'
    citations.cite("holm1979")
    assert [entry["key"] for entry in citations.listed()] == ["holm1979", "kaplan1958", "efron2004"]
    assert citations.listed()[0]["text"] == "Holm (1979). A simple sequentially rejective multiple test procedure. Scandinavian Journal of Statistics, 6(2), 65–70."
    with pytest.raises(ValueError, match="nobody2020"):
        citations.cite("nobody2020")


def test_a_ci_gets_the_decimals_of_its_estimate():
    assert paper.ratio_interval(142.5, 96.97, 197.0) == "140 [97, 197]"
    assert paper.ratio_interval(3.14159, 2.8123, 3.5432) == "3.1 [2.8, 3.5]"
    assert paper.interval(0.95651, 0.888, 0.97681, 3) == "0.957 [0.888, 0.977]"
    assert paper.interval(float("inf"), 1.0, 2.0, 2) == "n/a"


def test_an_effect_below_one_is_written_as_times_higher():
    row = {"effect": 0.5, "effect_ci_low": 0.4, "effect_ci_high": 0.625}
    assert paper.effect_phrase(row, "final_test_rrmse") == "final test rRMSE 2.0 [1.6, 2.5] times higher"
    row = {"effect": 4.0, "effect_ci_low": 3.0, "effect_ci_high": 5.0}
    assert paper.effect_phrase(row, "final_test_rrmse") == "final test rRMSE 4.0 [3.0, 5.0] times lower"


def entry(claim_id, by_optimizer=(), verdict="supported", judged="budget", rate="default"):
    judgments = [{"judged": judged, "rate": rate, "verdict": {"verdict": verdict, "verdict_class": verdict.replace(" ", "-")},
                  "by_optimizer": [{"optimizer": o, "verdict": v, "why": w} for o, v, w in by_optimizer]}]
    return {"id": claim_id, "name": f"Claim {claim_id}", "judgments": judgments}


def test_the_headline_names_each_optimizer_where_they_disagree():
    stuck = {"id": "C9", "time_question": "stuck", "judged_by": ["time"], "rates": ["default", "tuned"]}
    disagree = entry("C9", [("adam", "not supported", "slow"), ("sgd", "undecided", "still descending")], "undecided", "time", "tuned")
    assert paper.headline(disagree, stuck) == "not supported under adam and undecided under sgd by time to target at time-tuned rates"
    agree = entry("C2", [("adam", "supported", ""), ("sgd", "supported", "")])
    assert paper.headline(agree, {"id": "C2"}) == "supported at the budget and the default rate"


def test_findings_follow_the_claims_file_and_fall_back_to_one_per_claim():
    claims = [{"id": "A", "name": "First", "kind": "rate", "metric": "final_loss"},
              {"id": "B", "name": "Second", "kind": "rate", "metric": "final_loss"}]
    details = pd.DataFrame([{"id": claim_id, "judged": "budget", "successes": 9, "n": 10, "success_rate": 0.9,
                             "rate_ci_low": 0.6, "rate_ci_high": 0.98} for claim_id in ("A", "B")])
    entries = [entry("A"), entry("B", verdict="not supported")]
    spec = [{"title": "Both together", "claims": ["B", "A"], "figure": "mechanism"}]
    figures = {"mechanism": {"id": "F9"}}
    found = paper.findings_context(spec, claims, entries, details, pd.DataFrame(), figures, [])
    assert [f["title"] for f in found] == ["Both together"] and found[0]["claims"] == ["B", "A"]
    assert found[0]["figure"] == {"id": "F9"}
    assert found[0]["lead"].startswith("Second (B): not supported at the budget and the default rate; 9 of 10 runs (90 [60, 98]%).")
    fallback = paper.findings_context(None, claims, entries, details, pd.DataFrame(), figures, [])
    assert [f["title"] for f in fallback] == ["First", "Second"] and fallback[0]["figure"] is None


def test_the_abstract_falls_back_to_shorter_wording_within_its_limit():
    claims = [{"id": f"C{n}", "name": f"A claim with a fairly long name number {n}"} for n in range(12)]
    entries = [{**entry(c["id"], [("adam", "supported", ""), ("sgd", "undecided", "")]), "name": c["name"]} for c in claims]
    findings = [{"title": f"Finding number {n} about several things", "claims": [c["id"] for c in claims[2 * n: 2 * n + 2]]} for n in range(6)]
    text = paper.abstract_text({"n_trials": "76,960", "n_cells": "5,311"}, findings, claims, entries, [])
    assert paper.word_count(text) <= paper.ABSTRACT_WORDS
    assert "C0 supported under adam and undecided under sgd" in text  # the shortest wording: by claim id
    few = paper.abstract_text({"n_trials": "76,960", "n_cells": "5,311"}, findings[:2], claims, entries, [])
    assert "A claim with a fairly long name number 0 (C0): supported under adam and undecided under sgd at the budget" in few


# ------------------------------------------------------------------------------------------------
# On the smoke run
# ------------------------------------------------------------------------------------------------


def documents(smoke_run):
    directory, _ = smoke_run
    return {name: (directory / f"results/report/{name}.html").read_text() for name in ("report", "supplement")}


def test_both_documents_build_and_the_paper_has_every_section(smoke_run):
    html = documents(smoke_run)
    for section in ("abstract", "question", "setup", "findings", "todo", "threats", "references"):
        assert f'id="{section}"' in html["report"], section
    assert 'id="finding-1"' in html["report"]
    for section in ("method", "claims", "time", "rates", "appendix", "references"):
        assert f'id="{section}"' in html["supplement"], section


def test_the_abstract_has_at_most_200_words(smoke_run):
    html = documents(smoke_run)["report"]
    abstract = re.search(r'<section class="abstract" id="abstract">.*?<p>(.*?)</p>', html, re.S).group(1)
    assert 50 < paper.word_count(abstract) <= 200


def test_no_inf_nan_or_empty_panel_in_the_paper(smoke_run):
    text = text_of(documents(smoke_run)["report"])
    for word in ("inf", "nan", "NaN", "no evaluations", "Infinity"):
        assert not re.search(rf"\b{word}\b", text), word


def test_numbers_in_the_paper_follow_the_rule(smoke_run):
    """No number with more than 3 significant digits after the point, no exponent notation, and
    every integer of 5 digits or more with thousands separators (years and ids aside)."""
    text = text_of(documents(smoke_run)["report"])
    text = re.sub(r"\b(config|commit)\s+\S+", " ", text)  # hashes
    text = re.sub(r"\b(results|config|src)/\S+|arXiv:\S+", " ", text)  # paths, preprint ids
    assert not re.findall(r"\b\d+\.\d{4,}\b", text)
    assert not re.findall(r"\b\d+(?:\.\d+)?e[+-]?\d+\b", text)
    assert not [n for n in re.findall(r"(?<![\d,.-])\d{5,}(?![\d,])", text) if not re.match(r"20\d\d", n)]


def test_every_work_cited_is_listed_and_every_work_listed_is_cited(smoke_run):
    for name, html in documents(smoke_run).items():
        cited = set(re.findall(r'href="#ref-([\w-]+)"', html))
        listed = set(re.findall(r'<li id="ref-([\w-]+)"', html))
        assert cited and cited == listed, name


def test_the_supplement_keeps_every_table_and_figure_id_and_the_paper_uses_the_same(smoke_run):
    html = documents(smoke_run)
    tables = set(re.findall(r'<table class="[^"]*" id="(T\d+)"', html["supplement"]))
    figures = set(re.findall(r'<figure id="(F\d+)"', html["supplement"]))
    assert tables and figures
    paper_figures = set(re.findall(r'<figure id="(F\d+)"', html["report"]))
    assert paper_figures and paper_figures <= figures


def test_the_paper_pdf_has_at_most_16_pages(smoke_run):
    from pypdf import PdfReader

    directory, _ = smoke_run
    assert len(PdfReader(directory / "results/report/report.pdf").pages) <= 16


def test_every_panel_of_the_time_and_rate_figures_has_data(smoke_run):
    """Each panel of each time-to-target and learning-rate figure plots finite errors (the figure's
    own data, next to its SVG), against the threshold of its own error (nRMSE or rRMSE); a
    learning-rate panel without one is one where every seed diverged at every rate (it says so)."""
    directory, _ = smoke_run
    paths = sorted((directory / "results/figures/study").glob("time_to_target_*.csv"))
    paths += sorted((directory / "results/figures/study").glob("lr_sensitivity_*.csv"))
    assert paths
    for path in paths:
        data = pd.read_csv(path)
        for panel, rows in data.groupby("panel"):
            assert rows["error"].notna().any() or (rows.get("divergence_rate", pd.Series([0.0])) == 1).all(), (path.name, panel)
            assert rows["metric"].nunique() == 1 and rows["threshold"].nunique() == 1, (path.name, panel)
