"""The report stage on tiny hand-made tables: number format, table rows, the analysis sections,
captions, escaping, HTML and PDF (no workflow run)."""

from __future__ import annotations

import html as html_module
import io
import math
import re
import shutil
import subprocess
import types

import docutils.core
import jinja2
import numpy as np
import pandas as pd
import pytest
from handmade import analysis_tables, cells_table, curves_table, floors_table
from handmade import findings as findings_json
from helpers import REPO, edited, smoke_config
from pypdf import PdfReader

from lossatlas import figures, report
from lossatlas.analysis.claims import VERDICTS
from lossatlas.core import textfmt
from lossatlas.design import plan, views
from lossatlas.design.config import load_study
from lossatlas.report import captions, design, discussion, embed, findings, provenance, sections, verdicts

TEMPLATE = REPO / "report" / "template.html.j2"
STYLE = REPO / "report" / "style.css"


@pytest.fixture(scope="module")
def study():
    return load_study(smoke_config())


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (7.608882308006287, "7.609"),
        (0.32440744, "0.3244"),
        (96.6629387, "96.66"),
        (12345.6, "1.235e+04"),
        (-0.5, "-0.5"),
        (float("nan"), "n/a"),
        (None, "n/a"),
        (np.float32(0.25), "0.25"),
        (np.int64(20), "20"),
        (3, "3"),
    ],
)
def test_format_number(value, text):
    assert textfmt.format_number(value) == text
    assert report.format_number is textfmt.format_number  # the one format, also where the report is imported


@pytest.mark.parametrize("value", ["1.5", True, [1.0]])
def test_format_number_rejects_what_is_not_a_number(value):
    with pytest.raises(ValueError, match="real number"):
        textfmt.format_number(value)


def test_format_interval():
    assert textfmt.format_interval(1.0, 0.5, 2.25) == "1 [0.5, 2.25]"
    assert textfmt.format_interval(1.0, math.nan, math.nan) == "1 [n/a, n/a]"
    assert textfmt.format_count(30.0) == "30" and textfmt.format_count(math.inf) == "inf"
    assert textfmt.format_known(None) == "unknown" and textfmt.format_known(0.05) == "0.05"
    assert textfmt.join_words(["a", "b", "c"]) == "a, b and c" and textfmt.join_words([]) == ""


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
        first["final_test_nrmse_mean"], first["final_test_nrmse_ci_low"], first["final_test_nrmse_ci_high"]
    )
    assert text == "101.2 [100.7, 101.5]"
    values = {key: rows[1]["values"][i]["main"] for i, key in enumerate(headings)}
    assert values["median"] == textfmt.format_number(second["final_test_nrmse_median"]) == "92.22"
    assert values["iqm"] == "97.35" and values["stagnation"] == "0.25" and values["reach"] == "0.75"
    assert rows[0]["values"][headings.index("divergence")]["main"] == "0 (0/4)" and values["divergence"] == "0.25 (1/4)"
    assert values["steps"] == "16" and rows[2]["values"][headings.index("steps")]["main"] == "inf"
    assert rows[0]["flag"] == "" and "dataset" not in rows[0]["labels"]


def test_appendix_rows_keep_the_raw_metrics(study):
    cells = cells_table(study).iloc[:2]
    rows = sections.appendix_rows(cells)
    rmse = rows[0]["metrics"][0]
    assert f"{rmse['mean']} {rmse['ci']}" == "1.235 [0.7346, 1.485]"
    assert rows[1]["metrics"][2]["mean"] == textfmt.format_number(cells.iloc[1]["final_train_loss_mean"]) == "302.5"
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


# --- method ----------------------------------------------------------------------------------------


def test_product_rows_are_exact():
    keys = [("a", "x", "1"), ("a", "y", "1"), ("b", "x", "1"), ("b", "y", "1"), ("c", "x", "2")]
    rows = design.product_rows(keys)
    assert rows == [[["a", "b"], ["x", "y"], ["1"]], [["c"], ["x"], ["2"]]]
    expanded = {key for row in rows for key in __import__("itertools").product(*row)}
    assert expanded == set(keys)


def test_excluded_and_flagged_cells_are_listed_by_reason(study):
    listing = design.cells_by_reason([(item.cell, item.reason) for item in study.excluded])
    assert listing["headings"] == ["Experiment", "Dataset", "Targets", "Optimizer", "Loss", "Activation"]
    assert sum(int(group["count"]) for group in listing["groups"]) == len(study.excluded)
    reasons = [group["reason"] for group in listing["groups"]]
    assert len(reasons) == len(set(reasons)) == len({item.reason for item in study.excluded})
    for group in listing["groups"]:  # every row stands for the product of its values: the counts add up
        assert sum(math.prod(len(value.split(", ")) for value in row) for row in group["cells"]) == int(group["count"])
    assert listing["groups"][0]["experiments"] == f"article {listing['groups'][0]['count']}"
    first = next(item for item in study.excluded if item.reason == reasons[0])
    row = listing["groups"][0]["cells"][0]
    assert first.cell.dataset in row[1].split(", ") and first.cell.loss in row[4].split(", ")


def test_flagged_cells_are_listed_once_whatever_their_rates(study):
    tuned = design.cells_by_reason([(cell, "flag") for cell in study.cells if cell.experiment == "long"])
    assert study.experiments["long"].tune and len({c.learning_rate for c in study.cells if c.experiment == "long"}) > 1
    assert tuned["groups"][0]["count"] == "3"  # three cells, each at three rates
    assert "Learning rate" not in tuned["headings"]


def test_the_experiments_table_says_how_each_is_trained(study):
    rows = {row["heading"]: row["values"] for row in design.experiments_table(study)}
    assert rows["Tune"] == ["no", "yes"] and rows["Horizon"] == ["no", "yes"] and rows["Inputs"] == ["raw", "raw"]
    assert rows["Learning rates"] == ["adam 0.001; sgd 0.01", "adam: sweep of 3, 0.001 to 0.1"]


def test_the_statistics_settings_are_the_configs():
    config = edited(edited(smoke_config(), "statistics.alpha", 0.01), "statistics.bootstrap_resamples", 123)
    definitions = design.metrics_context(load_study(config))
    assert definitions["comparison_alpha"] == "0.01" and definitions["bootstrap_resamples"] == "123"


@pytest.fixture(scope="module")
def real_study():
    """The smoke study with a real-data dataset (noise sd unknown) in experiment long."""
    config = edited(smoke_config(), "datasets.real", {"family": "diabetes"})
    config["experiments"]["long"]["datasets"] = ["seed_small", "real"]
    return load_study(config)


def test_an_unknown_noise_sd_reads_unknown(real_study):
    datasets = {d["label"]: d for d in design.design_context(real_study)["datasets"]}
    assert datasets["real"]["noise_sd"] == "unknown" and datasets["seed_small"]["noise_sd"] == "0.01"
    threats = design.threats_context(real_study)
    assert threats["real_data"] and "10" in threats["n_features"] and "real data" not in threats["not_covered"]
    part = pd.DataFrame([{"loss": "mse", "activation": "sigmoid", "n_seeds": 6}])
    texts = captions.curve_captions("real", "long", part, real_study, floors_table().iloc[0:0])
    assert "is unknown (real data)" in texts["test_rmse"] and "no loss has a floor drawn" in texts["loss_curves"]
    assert "None" not in texts["test_rmse"] + texts["loss_curves"]


def test_threats_of_synthetic_data_with_one_feature(study):
    threats = design.threats_context(study)
    assert not threats["real_data"] and threats["one_feature"]
    assert threats["not_covered"] == "No real data, no several inputs, no classification targets."
    assert threats["tuned"] == "long" and threats["untuned"] == "article" and threats["horizon"] == "long"
    assert threats["tuning"] == {"min": "0.001", "max": "0.1", "per_decade": "1", "extend_steps": "1"}
    assert threats["cap"]["cap_steps"] == "1920" and threats["cap"]["stall_factor"] == "10"


def test_the_stall_rule_is_the_configs():
    config = edited(edited(smoke_config(), "horizon.stall_improvement", 0.02), "horizon.stall_factor", 4)
    horizon = design.metrics_context(load_study(config))["horizon"]
    assert horizon["stall_improvement_percent"] == "2" and horizon["stall_factor"] == "4"
    assert horizon["cap_steps"] == "1920" and horizon["points_per_doubling"] == "2"


# --- the article, claims, comparisons ------------------------------------------------------------


def test_article_table_has_each_example_and_the_paired_comparison():
    tables = analysis_tables()
    article = findings.article_context(tables["article_summary"], tables["article_examples"])
    first, third = article["examples"][0], article["examples"][2]
    assert first["printed"] == "0.8179" and first["median"] == "1.2" and first["range"] == "[1.01, 1.39]"
    assert first["inside"] == "no" and third["inside"] == "yes" and third["quantile"] == "0.2"
    assert third["test_median"] == "0.012" and third["test_range"] == "[0.01, 0.0139]"
    values = {row["heading"]: row["value"] for row in article["comparison"]}
    assert len(values) == len(findings.EXAMPLE_COMPARISON_ROWS)
    assert values["Mean paired difference, example 3 − example 2 [95% BCa CI]"] == "-0.024 [-0.03, -0.018]"
    assert values["Seeds paired (examples 2 and 3 share each seed's data)"] == "5"
    assert values["Hodges–Lehmann estimate of the paired difference, example 3 − example 2"] == "-0.0235"
    with pytest.raises(ValueError, match="p_value"):
        findings.article_context(tables["article_summary"], tables["article_examples"].drop(columns="p_value"))
    summary = tables["article_summary"].assign(printed_inside=tables["article_summary"]["printed_inside"].astype(str))
    assert findings.article_context(summary, tables["article_examples"])["examples"][2]["inside"] == "yes"  # as read from CSV


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
    assert (default["steps_better"], default["ratio"], default["outcome"]) == ("inf", "n/a", "undecided at the cap")
    assert tuned["pair"] == "BCE vs MSE" and tuned["ratio"] == "17 [8.5, 17.25]"
    assert (tuned["better_status"], tuned["baseline_status"]) == ("reached", "stalled")
    assert time["outcomes"] == {"default": "1 undecided at the cap", "tuned": "1 sooner"}
    assert [c["id"] for c in time["claims"]] == ["C2"]


def test_the_answer_quotes_the_findings():
    answer = discussion.answer_context(findings_json())
    assert (answer["n_cells"], answer["n_failing"], answer["budget"], answer["cap"]) == ("3", "3", "240", "1920")
    assert [c["name"] for c in answer["categories"]] == ["small gradient", "step budget", "undecided"]
    assert "median 3.75 times the optimizer's reach" in answer["categories"][1]["words"]
    assert answer["later_multiple"] == "5.417" and answer["n_reach_later"] == "2"
    assert answer["best"] == [
        {"rate": "default", "id": "C1", "name": "Claim supported", "effect": "2.891 [2.749, 3.32]"},
        {"rate": "tuned", "id": "C2", "name": "Claim <not> supported", "effect": "3.521 [3.392, 4.106]"},
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
    assert sgd["capacity"] == "n/a" and never["needed"] == "n/a" and never["reach"] == "inf"
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
    assert (tuned_c2["effect"], tuned_c2["time"], tuned_c2["sooner"]) == ("3.521 [3.392, 4.106]", "17", "1 of 1")
    c1 = remedies["rows"][1]["rates"]
    assert len(c1) == 1 and c1[0]["values"]["time"] == "n/a" and c1[0]["values"]["time_verdict"] is None


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


# --- captions ------------------------------------------------------------------------------------


def test_curve_captions_quote_the_floors_schedule_and_noise(study):
    cells = cells_table(study)
    part = cells[(cells["dataset"] == "seed_small") & (cells["experiment"] == "long")]
    floors = floors_table()
    texts = captions.curve_captions("seed_small", "long", part, study, floors[floors["experiment"] == "long"], ["grid"])
    assert "after epoch 1, every 10 epochs and the last" in texts["loss_curves"]
    assert "trained past the budget (dashed vertical line)" in texts["test_rmse"] and "up to 480 epochs" in texts["test_rmse"]
    assert "at each optimizer's default learning rate" in texts["test_rmse"]
    assert "MSE σ² = 0.5" in texts["loss_curves"] and "grid (more cells) is summarised" in texts["loss_curves"]
    assert "noise standard deviation, 0.01" in texts["test_rmse"] and "initial weights (epoch 0)" in texts["test_rmse"]
    article = cells[(cells["dataset"] == "seed_small") & (cells["experiment"] == "article")]
    texts = captions.curve_captions("seed_small", "article", article, study, floors[floors["experiment"] == "article"])
    assert "after every epoch" in texts["loss_curves"] and "binary cross-entropy: the mean binary entropy" in texts["loss_curves"]
    assert "past the budget" not in texts["loss_curves"]
    assert "Dash-dotted lines" in texts["loss_curves"] and "0.2346" in texts["loss_curves"]
    assert captions.floors_caption(floors.iloc[0:0], 0.1) == "No loss of this figure has a closed-form floor."


def test_thinning_is_quoted_beyond_the_plans_limit():
    assert captions.thinning_note(plan.MAX_POINTS) == ""
    assert f"drawn at {plan.MAX_POINTS} of them" in captions.thinning_note(plan.MAX_POINTS + 1)


def test_every_study_figure_has_a_caption(study):
    cells = cells_table(study)
    ids = plan.table_ids(study)
    for name, spec in plan.study_figures(study).items():
        text = captions.study_figure_caption(spec, study, cells, ids)
        assert len(text) > 100 and "{" not in text, name
    figure_plan = plan.study_figures(study)
    time = captions.study_figure_caption(figure_plan["time_to_target_S2_S4"], study, cells, ids)
    assert "claims S2 and S4 compare (loss: binary_crossentropy against mse)" in time
    assert "cap of 1920 steps" in time and f"Table {ids['time']} gives" in time and "One panel per optimizer" in time
    factor = captions.study_figure_caption(figure_plan["time_to_target_S5"], study, cells, ids)
    assert "claim S5 compares (multiple of the default rate: 10 against 1)" in factor and "tuned" not in factor
    rates = captions.study_figure_caption(figure_plan["lr_sensitivity_long"], study, cells, ids)
    assert "from 0.001 to 0.1, 1 per decade" in rates and "tuning.extend_steps = 1" in rates
    assert "at least 50% of the budget" in captions.study_figure_caption(figure_plan["mechanism"], study, cells, ids)
    scale = plan.study_figures(study)["scale_diagnostics"]
    assert "at the initial weights" in captions.study_figure_caption(scale, study, cells)


def test_snakemakes_captions_are_written_from_the_one_source(tmp_path):
    assert set(captions.SNAKEMAKE_CAPTIONS) == set(plan.SNAKEMAKE_CAPTIONS)
    assert set(plan.SNAKEMAKE_CAPTIONS) >= {*plan.CURVE_FIGURES, *plan.STUDY_FIGURE_KINDS}
    paths = captions.write_snakemake_captions(tmp_path)
    fake = types.SimpleNamespace(wildcards=types.SimpleNamespace(dataset="seed_small", experiment="article"))
    for name, path in paths.items():  # as `snakemake --report` renders them: Jinja, then reStructuredText
        text = jinja2.Template(path.read_text()).render(snakemake=fake)
        html = docutils.core.publish_parts(text, writer="html", settings_overrides={"report_level": 5})["body"]
        assert "system-message" not in html and len(html) > 100, name
    assert "seed_small" in jinja2.Template(paths["loss_curves"].read_text()).render(snakemake=fake)


# --- figures in the report -----------------------------------------------------------------------


def test_svg_for_html_strips_the_prolog_and_keeps_ids_apart(tmp_path):
    fig, _, _ = figures.plot_test_rmse(curves_table())
    figures.save_svg(fig, tmp_path / "a.svg")
    svg = embed.svg_for_html((tmp_path / "a.svg").read_text(), "F7-")
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
    assert ' style="' not in svg and 'stroke-linejoin="round"' in svg and "*{" not in svg  # the * rule: attributes
    sheet = re.search(r"<style>(.*?)</style>", svg).group(1)  # the class rules: scoped to this figure's root
    assert svg.startswith('<svg id="F7-svg"') and svg.count("<style") == 1
    selectors = re.findall(r"(?:^|\})([^{]+)\{", sheet)
    assert selectors and all(re.fullmatch(r"#F7-svg \.[a-z]+", s) for s in selectors)
    assert set(re.findall(r'class="([^"]+)"', svg)) <= {s.split(".")[1] for s in selectors}
    ids = set(re.findall(r'id="([^"]+)"', svg))
    assert ids and all(i.startswith("F7-") for i in ids)
    references = re.findall(r'href="#([^"]+)"', svg)
    assert references and set(references) <= ids


# --- the whole report ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(study, tmp_path_factory):
    """The report of the hand-made tables, rendered once to HTML and PDF."""
    directory = tmp_path_factory.mktemp("report")
    cells = cells_table(study)
    cells.loc[cells["dataset"] == "seed_large", "model"] = "<b>dense1</b>"
    paths = {}
    for dataset in ("seed_large", "seed_small"):
        paths[dataset] = {"article": {"test_rmse": directory / "figures" / f"{dataset}.svg"}}
        fig, _, data = figures.plot_test_rmse(curves_table(dataset))
        figures.save_figure(fig, data, paths[dataset]["article"]["test_rmse"])
    tables = analysis_tables()
    fig, _, _ = figures.plot_article_seeds(tables["article_runs"], tables["article_summary"])
    figures.save_svg(fig, directory / "article_seeds.svg")  # a figure without its data
    benchmark = directory / "job000.tsv"
    benchmark.write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t100\n")
    invocation = directory / "invocation.json"
    invocation.write_text('{"command": ["snakemake", "--cores", "2", "--configfile", "config/smoke.yaml", "--forcerun", "report"]}')
    context = report.build_context(study, cells, paths, [benchmark], repo=directory, analysis=tables,
                                   study_figures={"article_seeds": directory / "article_seeds.svg"}, floors=floors_table(),
                                   invocation=invocation, link_base=directory / "report")
    html = report.render_html(context, TEMPLATE, STYLE)
    report.write_pdf(html, directory / "report.pdf", directory)
    return cells, html, (directory / "report.pdf").read_bytes()


def test_html_has_the_tables_figures_and_escapes_labels(rendered):
    cells, html, _ = rendered
    for element in ('id="T1"', 'id="T2"', 'id="F1"', 'id="F2"', 'id="F3"', "Figure 3.", "Table 2."):
        assert element in html
    assert "&lt;b&gt;dense1&lt;/b&gt;" in html and "<b>dense1</b>" not in html
    assert "Loss Atlas smoke run" in html and "12.5 s, summed over 1 training jobs" in html
    assert "Why are gradients missing when using MSE with TensorFlow Keras?" in html and "2025-01-30" in html
    for value in cells["final_test_rmse_mean"]:
        assert textfmt.format_number(value) in html
    for verdict in ("supported", "not-supported", "mixed", "undecided"):
        assert f'class="verdict {verdict}"' in html
    assert ".verdict.undecided" in html  # its own style
    assert "the article&#39;s &lt;words&gt;" in html
    assert "<link" not in html and "src=" not in html and "<?xml" not in html
    # the only links out of the page are those to the figures' data (links, not resources it loads)
    assert html.count('href="../') == html.count('<a class="screen-only" href="../figures/') > 0


def test_figures_link_their_data_and_the_command_that_rebuilds_them(rendered):
    _, html, _ = rendered
    figure = html[html.index('<figure id="F1"'):html.index("</figure>", html.index('<figure id="F1"'))]
    assert 'href="../figures/seed_large.csv"' in figure  # relative to the HTML's directory
    assert "(columns panel, experiment, dataset, inputs, targets, model, optimizer, learning_rate, loss, activation, metric, " \
           "epoch, mean, ci_low, ci_high)" in " ".join(figure.split())
    svg = next(line for line in html.splitlines() if "seed_large.svg" in line and "Rebuild" in line)
    assert "--configfile config/smoke.yaml --force " in svg and "--forcerun" not in svg
    article = html[html.rindex("<figure"):]
    assert "Data:" not in article[:article.index("</figure>")]  # no CSV next to it: no link
    # text as text, in the report's font: the SVG's root names it, the page's CSS too
    assert "<text" in figure and "font-family=\"'DejaVu Sans'\"" in figure and 'figure svg { font-family: "DejaVu Sans"' in html


def test_compact_html_leaves_out_what_the_parser_implies_only():
    from lossatlas.report.render import compact_html

    html = ("<table>\n  <tr>\n    <td>a</td>\n    <td>b</td>\n  </tr>\n  <tr><th>c</th></tr>\n</table>\n"
            "<ul>\n  <li>x</li>\n  <li>y</li>\n</ul>\n<pre>  kept\n    as is</td></pre>\n"
            "<script>\n  var a = '</td>';\n</script>\n<p>a\n   b</p>")
    assert compact_html(html) == ("<table>\n<tr>\n<td>a<td>b<tr><th>c</table>\n<ul>\n<li>x<li>y</ul>\n"
                                  "<pre>  kept\n    as is</td></pre>\n<script>\n  var a = '</td>';\n</script>\n<p>a\nb</p>")


def test_pdf_figure_text_is_selectable(rendered):
    """pdftotext finds, on the page that holds Figure 1, the text of its panel titles and axis labels
    (drawn text, not outlines)."""
    _, _, pdf = rendered
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    if shutil.which("pdftotext"):
        run = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
        pages = run.stdout.decode().split("\f")
    page = next(page for page in pages if "Figure 1." in page)
    caption = page[page.index("Figure 1."):]
    assert "loss: binary_crossentropy" in page and "loss: binary_crossentropy" not in caption  # a panel title
    assert "epoch" in page[:page.index("Figure 1.")] and "test RMSE" in page[:page.index("Figure 1.")]  # axis labels


def test_html_answers_the_title_question_first(rendered):
    _, html, _ = rendered
    abstract = html[html.index('id="abstract"'):html.index("</section>", html.index('id="abstract"'))]
    assert abstract.index("Why do the gradients go missing?") < abstract.index("This report examines")
    flat = html_module.unescape(" ".join(re.sub(r"<[^>]+>", " ", abstract).split()))
    assert "Of the 3 cells the article's paired claims compare" in flat
    assert "3 miss test nRMSE ≤ 1.5 within the article's budget of 240 optimizer steps" in flat
    assert "2 of them reach the threshold later, trained up to 1920 steps (median 5.417 times the budget)" in flat
    assert "3.521 [3.392, 4.106] times" in flat and "Claim <not> supported" in flat
    assert "Verdicts at each cell's tuned learning rate" in flat
    for section in ('id="time"', 'id="rates"', 'id="discussion"', "What to do", "Slow or stuck?"):
        assert section in html, section
    assert "<not>" not in html and "&lt;sooner&gt;" in html  # names and rules escaped everywhere
    discussion = html[html.index('id="discussion"'):]
    assert "changes the budget verdict of C2" in " ".join(re.sub(r"<[^>]+>", " ", discussion).split())
    # sections numbered in order, the optional ones included
    numbers = re.findall(r"<h2>(\d+) ", html)
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)] and len(numbers) == 9


def test_pdf_text_has_the_table_numbers(rendered, study):
    cells, _, pdf = rendered
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    default = views.at_default(cells, study)  # the results per dataset; the appendix has every cell
    for column in ("final_test_nrmse_mean", "final_test_nrmse_ci_low", "final_test_nrmse_median"):
        for value in default[column]:
            assert textfmt.format_number(value) in text, (column, value)
    for column in ("final_test_rmse_mean", "final_test_rmse_ci_low", "final_train_loss_mean"):
        for value in cells[column]:
            assert textfmt.format_number(value) in text, (column, value)
    for words in ("not supported", "mixed", "undecided", "0.8179", "-0.024 [-0.03, -0.018]", "BCE*",
                  "17 [8.5, 17.25]", "undecided at the cap", "3.521 [3.392, 4.106]", "step budget", "small gradient"):
        assert words in text, words


def test_source_date_epoch_makes_the_report_reproducible(study, monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert provenance.render_time().isoformat() == "2023-11-14T22:13:20+00:00"
    benchmark = tmp_path / "job000.tsv"
    benchmark.write_text("s\th:m:s\n1.5\t0:00:01\n")
    outputs = []
    for name in ("a", "b"):
        context = report.build_context(study, cells_table(study).iloc[:1], {}, [benchmark], repo=tmp_path)
        html = report.render_html(context, TEMPLATE, STYLE)
        report.write_pdf(html, tmp_path / f"{name}.pdf", tmp_path)
        outputs.append((html, (tmp_path / f"{name}.pdf").read_bytes()))
    assert outputs[0] == outputs[1]
    assert "2023-11-14T22:13:20Z" in outputs[0][0]
    assert PdfReader(tmp_path / "a.pdf").metadata["/CreationDate"].startswith("D:20231114221320")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH"):
        provenance.render_time()
