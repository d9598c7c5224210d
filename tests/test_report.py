"""The report stage on tiny hand-made tables: number format, table rows, escaping, figures, HTML and PDF."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from helpers import REPO, smoke_config
from lossatlas import figures, report
from lossatlas.compare import COMPARISON_KEYS
from lossatlas.config import load_study

TEMPLATE = REPO / "report" / "template.html.j2"
STYLE = REPO / "report" / "style.css"


@pytest.fixture(scope="module")
def study():
    return load_study(smoke_config())


def cells_table(study) -> pd.DataFrame:
    """A cells table (columns of cells.csv) for every cell of ``study``, with made-up numbers, in
    reverse grid order; reach flags as cells.csv holds them (NaN when none)."""
    rows = []
    for index, cell in enumerate(reversed(study.cells)):
        row = {**vars(cell), "n_seeds": 4, "n_diverged": index % 2, "divergence_rate": (index % 2) / 4}
        row["reach_flag"] = study.flags.get(cell, np.nan)
        row.update(stagnation_rate=0.25 * (index % 3), reach_rate=1 - 0.25 * (index % 3),
                   steps_to_threshold_median=math.inf if index % 3 == 2 else 8.0 * (index + 1))
        for offset, metric in enumerate(("final_test_rmse", "final_test_nrmse", "final_test_mae", "final_train_loss")):
            mean = 1.23456789 * (index + 1) + 100 * offset
            row.update({f"{metric}_mean": mean, f"{metric}_ci_low": mean - 0.5, f"{metric}_ci_high": mean + 0.25})
            row[f"{metric}_median"] = mean * 0.9
            row[f"{metric}_iqm"] = mean * 0.95
        row.update(final_test_r2_mean=0.5 - 0.01 * index, best_test_r2_mean=0.9)
        rows.append(row)
    return pd.DataFrame(rows)


def curves_table(dataset: str = "seed_small", metrics=("train_loss", "test_rmse")) -> pd.DataFrame:
    """A curves table: two losses x two activations, three epochs, each of ``metrics``."""
    rows = []
    for loss in ("mse", "binary_crossentropy"):
        for activation in ("linear", "sigmoid"):
            for metric in metrics:
                for epoch in (1, 2, 3):
                    mean = 1.0 / epoch + (activation == "sigmoid")
                    rows.append(
                        dict(experiment="article", dataset=dataset, targets="raw", model="dense1", optimizer="adam",
                             loss=loss, activation=activation, metric=metric, epoch=epoch, mean=mean,
                             ci_low=mean * 0.9, ci_high=mean * 1.1)
                    )
    return pd.DataFrame(rows)


def analysis_tables() -> dict[str, pd.DataFrame]:
    """Hand-made analysis tables: the article's runs and summary, the example comparison, loss
    comparisons of the smoke grid's seed_small contexts, and one claim of each verdict."""
    runs = pd.DataFrame(
        [
            {"example": example, "seed": seed, "final_loss": loss * (1 + 0.1 * seed), "train_mse": 0.0,
             "test_mse": mse * (1 + 0.1 * seed), "test_rmse": 0.0}
            for example, loss, mse in (("example 1", 1.0, 1.1), ("example 2", 0.02, 0.03), ("example 3", 0.3, 0.01))
            for seed in range(5)
        ]
    )
    summary = pd.DataFrame(
        [
            {"example": "example 1", "n_seeds": 5, "printed_loss": 0.8178590472494597, "final_loss_median": 1.2,
             "final_loss_low": 1.01, "final_loss_high": 1.39, "printed_inside": False, "printed_quantile": 0.0,
             "test_mse_median": 1.32, "test_mse_low": 1.1, "test_mse_high": 1.52},
            {"example": "example 2", "n_seeds": 5, "printed_loss": 0.01331729521339747, "final_loss_median": 0.024,
             "final_loss_low": 0.0201, "final_loss_high": 0.0279, "printed_inside": False, "printed_quantile": 0.0,
             "test_mse_median": 0.036, "test_mse_low": 0.03, "test_mse_high": 0.0419},
            {"example": "example 3", "n_seeds": 5, "printed_loss": 0.08371002228322282, "final_loss_median": 0.36,
             "final_loss_low": 0.301, "final_loss_high": 0.419, "printed_inside": True, "printed_quantile": 0.2,
             "test_mse_median": 0.012, "test_mse_low": 0.01, "test_mse_high": 0.0139},
        ]
    )
    examples = pd.DataFrame([dict(zip(COMPARISON_KEYS, (5, 0, 0.012, 0.036, -0.024, -0.03, -0.018, 0.0, 0.0625, 0.0625,
                                                       1.0, 3.21, 1.0)))])
    comparisons = pd.DataFrame(
        [
            {"experiment": "article", "dataset": "seed_small", "targets": "raw", "model": "dense1", "optimizer": optimizer,
             "activation": "sigmoid", "level_a": "binary_crossentropy", "level_b": "mse", "mean_difference": difference,
             "significant": significant, "metric": "final_test_nrmse"}
            for optimizer, difference, significant in (("adam", -2.0, True), ("sgd", -1.0, False))
        ]
    )
    verdicts = pd.DataFrame(
        [
            {"id": f"C{index}", "name": f"Claim {verdict}", "claim": f"The claim that is {verdict}.",
             "article": '"the article\'s <words>"', "kind": "paired", "rule": "a better than b (Holm p < 0.05)",
             "verdict": verdict, "holds_in": holds, "n_contexts": 2, "n_holds": n_holds,
             "evidence": "optimizer adam: a vs b: median 1.23 vs 4.56\noptimizer sgd: a vs b: median 7.89 vs 0.12"}
            for index, (verdict, holds, n_holds) in enumerate(
                (("supported", "optimizer adam; optimizer sgd", 2), ("not supported", "nowhere", 0), ("mixed", "optimizer adam", 1)), 1
            )
        ]
    )
    return {"article_runs": runs, "article_summary": summary, "article_examples": examples,
            "comparisons": comparisons, "verdicts": verdicts}


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
    assert report.format_number(value) == text


@pytest.mark.parametrize("value", ["1.5", True, [1.0]])
def test_format_number_rejects_what_is_not_a_number(value):
    with pytest.raises(ValueError, match="real number"):
        report.format_number(value)


def test_format_interval():
    assert report.format_interval(1.0, 0.5, 2.25) == "1 [0.5, 2.25]"
    assert report.format_interval(1.0, math.nan, math.nan) == "1 [n/a, n/a]"
    assert report.format_count(30.0) == "30" and report.format_count(math.inf) == "inf"


# --- loss floors ---------------------------------------------------------------------------------


def test_mean_binary_entropy_by_hand():
    h = lambda y: -y * math.log(y) - (1 - y) * math.log(1 - y)  # noqa: E731
    y = np.array([[[0.5], [0.0], [1.0], [0.25]], [[0.1], [0.1], [0.9], [0.5]]])
    seed_means = [(math.log(2) + 0 + 0 + h(0.25)) / 4, (h(0.1) * 3 + math.log(2)) / 4]
    assert figures.mean_binary_entropy(y) == pytest.approx(np.mean(seed_means), rel=1e-12)
    assert figures.binary_entropy([0.0, 1.0]).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        figures.binary_entropy([1.5])


def test_loss_floors_raw_and_standardized():
    y = np.array([[[0.1], [0.3]], [[0.2], [0.6]]])  # training stds 0.1 and 0.2
    raw = figures.loss_floors(y, 0.05, "raw")
    assert raw["mse"] == pytest.approx(0.0025) and raw["mae"] == pytest.approx(0.05 * math.sqrt(2 / math.pi))
    assert raw["binary_crossentropy"] == pytest.approx(figures.mean_binary_entropy(y))
    standardized = figures.loss_floors(y, 0.05, "standardized")
    assert standardized["mse"] == pytest.approx((0.25 + 0.0625) / 2)
    assert standardized["mae"] == pytest.approx(math.sqrt(2 / math.pi) * (0.5 + 0.25) / 2)
    assert "binary_crossentropy" not in standardized
    assert "binary_crossentropy" not in figures.loss_floors(y * 10, 0.5, "raw")  # targets beyond [0, 1]
    with pytest.raises(ValueError, match="preprocessing"):
        figures.loss_floors(y, 0.05, "scaled")


# --- results tables ------------------------------------------------------------------------------


def test_table_rows_format_every_number_of_the_cells_table(study):
    cells = cells_table(study).iloc[:3]
    rows = report.table_rows(cells)
    first, second = cells.iloc[0], cells.iloc[1]
    assert [row["labels"]["loss"] for row in rows] == [report.LOSS_NAMES[loss] for loss in cells["loss"]]
    headings = [key for key, _ in report.RESULT_COLUMNS]
    nrmse = rows[0]["values"][headings.index("nrmse")]
    text = f"{nrmse['main']} {nrmse['ci']}"
    assert text == report.format_interval(
        first["final_test_nrmse_mean"], first["final_test_nrmse_ci_low"], first["final_test_nrmse_ci_high"]
    )
    assert text == "101.2 [100.7, 101.5]"
    values = {key: rows[1]["values"][i]["main"] for i, key in enumerate(headings)}
    assert values["median"] == report.format_number(second["final_test_nrmse_median"]) == "92.22"
    assert values["iqm"] == "97.35" and values["stagnation"] == "0.25" and values["reach"] == "0.75"
    assert rows[0]["values"][headings.index("divergence")]["main"] == "0 (0/4)" and values["divergence"] == "0.25 (1/4)"
    assert values["steps"] == "16" and rows[2]["values"][headings.index("steps")]["main"] == "inf"
    assert rows[0]["flag"] == "" and "dataset" not in rows[0]["labels"]


def test_appendix_rows_keep_the_raw_metrics(study):
    cells = cells_table(study).iloc[:2]
    rows = report.appendix_rows(cells)
    rmse = rows[0]["metrics"][0]
    assert f"{rmse['mean']} {rmse['ci']}" == "1.235 [0.7346, 1.485]"
    assert rows[1]["metrics"][2]["mean"] == report.format_number(cells.iloc[1]["final_train_loss_mean"]) == "302.5"
    assert rows[1]["r2"] == "0.49 (0.9)" and rows[0]["labels"]["dataset"] == cells.iloc[0]["dataset"]


def test_table_rows_need_every_column(study):
    with pytest.raises(ValueError, match="final_test_nrmse_iqm"):
        report.table_rows(cells_table(study).drop(columns="final_test_nrmse_iqm"))


def test_results_tables_follow_the_config_order(study):
    tables = report.results_tables(cells_table(study), study)
    assert [(t["id"], t["dataset"]) for t in tables] == [
        ("T1", "seed_large"), ("T2", "seed_small"), ("T3", "scale_1e-2"), ("T4", "scale_1e0")
    ]
    assert [d["name"] for d in tables[0]["dimensions"]] == ["targets", "optimizer", "loss", "activation"]
    columns = ("targets", "optimizer", "loss", "activation")
    grid = [(c.targets, c.optimizer, report.loss_name(c.loss), c.activation) for c in study.cells if c.dataset == "seed_small"]
    rows = [row for group in tables[1]["groups"] for row in group["rows"]]
    assert [tuple(r["labels"][c] for c in columns) for r in rows] == grid
    assert [g["experiment"] for g in tables[1]["groups"]] == ["article", "long"]
    flagged = [r for g in tables[0]["groups"] for r in g["rows"] if r["flag"]]
    assert flagged and all(r["labels"]["activation"] == "sigmoid" for r in flagged) and tables[0]["any_flag"]


def test_results_tables_show_a_dimension_that_varies(study):
    cells = cells_table(study)
    assert "model" not in [d["name"] for d in report.results_tables(cells, study)[1]["dimensions"]]
    cells.loc[cells.index[::2], "model"] = "other"
    assert "model" in [d["name"] for d in report.results_tables(cells, study)[1]["dimensions"]]


def test_large_experiments_are_summarised_not_listed(study, monkeypatch):
    monkeypatch.setattr(figures, "CURVE_CELL_LIMIT", 5)
    sections = report.dataset_sections(cells_table(study), study)
    seed_small = next(s for s in sections if s["dataset"] == "seed_small")
    assert [g["experiment"] for g in seed_small["table"]["groups"]] == ["long"]
    assert seed_small["summarised"] == [{"experiment": "article", "n_cells": "10"}]
    assert next(s for s in sections if s["dataset"] == "seed_large")["table"] is None


def test_wide_tables_go_on_landscape_pages(study):
    cells = cells_table(study)
    assert not any(table["landscape"] for table in report.results_tables(cells, study))
    cells["optimizer"] = "a_rather_long_optimizer_label_" + cells["optimizer"]
    cells["loss"] = "a_rather_long_loss_label_" + cells["loss"]
    assert all(table["landscape"] for table in report.results_tables(cells, study))


def test_product_rows_are_exact():
    keys = [("a", "x", "1"), ("a", "y", "1"), ("b", "x", "1"), ("b", "y", "1"), ("c", "x", "2")]
    rows = report.product_rows(keys)
    assert rows == [[["a", "b"], ["x", "y"], ["1"]], [["c"], ["x"], ["2"]]]
    expanded = {key for row in rows for key in __import__("itertools").product(*row)}
    assert expanded == set(keys)


def test_excluded_and_flagged_cells_are_listed_by_reason(study):
    listing = report.cells_by_reason([(item.cell, item.reason) for item in study.excluded])
    assert listing["headings"] == ["Dataset", "Targets", "Optimizer", "Loss", "Activation"]
    assert sum(int(group["count"]) for group in listing["groups"]) == len(study.excluded)
    reasons = [group["reason"] for group in listing["groups"]]
    assert len(reasons) == len(set(reasons)) == len({item.reason for item in study.excluded})
    for group in listing["groups"]:  # every row stands for the product of its values: the counts add up
        assert sum(math.prod(len(value.split(", ")) for value in row) for row in group["cells"]) == int(group["count"])
    assert listing["groups"][0]["experiments"] == f"article {listing['groups'][0]['count']}"
    first = next(item for item in study.excluded if item.reason == reasons[0])
    row = listing["groups"][0]["cells"][0]
    assert first.cell.dataset in row[0].split(", ") and first.cell.loss in row[3].split(", ")


# --- the article, claims, comparisons ------------------------------------------------------------


def test_article_table_has_each_example_and_the_paired_comparison():
    tables = analysis_tables()
    article = report.article_context(tables["article_summary"], tables["article_examples"])
    first, third = article["examples"][0], article["examples"][2]
    assert first["printed"] == "0.8179" and first["median"] == "1.2" and first["range"] == "[1.01, 1.39]"
    assert first["inside"] == "no" and third["inside"] == "yes" and third["quantile"] == "0.2"
    assert third["test_median"] == "0.012" and third["test_range"] == "[0.01, 0.0139]"
    values = {row["heading"]: row["value"] for row in article["comparison"]}
    assert len(values) == len(report.EXAMPLE_COMPARISON_ROWS)
    assert values["Mean paired difference, example 3 − example 2 [95% BCa CI]"] == "-0.024 [-0.03, -0.018]"
    assert values["Seeds paired (examples 2 and 3 share each seed's data)"] == "5"
    with pytest.raises(ValueError, match="p_value"):
        report.article_context(tables["article_summary"], tables["article_examples"].drop(columns="p_value"))


def test_claims_context_knows_every_verdict():
    claims = report.claims_context(analysis_tables()["verdicts"])
    assert [c["verdict"] for c in claims] == ["supported", "not supported", "mixed"]
    assert [c["verdict_class"] for c in claims] == ["supported", "not-supported", "mixed"]
    assert claims[0]["holds"] == "2 of 2" and claims[0]["evidence"][1].startswith("optimizer sgd")
    assert claims[0]["article"] == "the article's <words>"
    bad = analysis_tables()["verdicts"].assign(verdict="plausible")
    with pytest.raises(ValueError, match="plausible"):
        report.claims_context(bad)


def test_best_losses_mark_significance(study):
    cells = cells_table(study)
    cells = cells.assign(final_test_nrmse_median=np.where(cells["loss"] == "binary_crossentropy", 1.0, 2.0))
    best = report.best_losses(cells, analysis_tables()["comparisons"])
    small = best[(best["dataset"] == "seed_small") & (best["experiment"] == "article")].set_index("optimizer")
    assert list(small["best"]) == ["binary_crossentropy", "binary_crossentropy"]
    assert small.loc["adam", "all_beaten"] and not small.loc["sgd", "all_beaten"]
    assert small.loc["adam", "n_losses"] == 2
    tables = report.comparison_tables(cells, analysis_tables()["comparisons"], study)
    article = next(t for t in tables if t["experiment"] == "article")
    cell = article["rows"][[r["labels"][0] for r in article["rows"]].index("seed_small")]["cells"][0]
    assert cell == {"loss": "BCE", "mark": "*", "median": "1"}
    tally = {row["loss"]: row for row in article["tally"]}
    assert tally["binary_crossentropy"]["best"] == tally["binary_crossentropy"]["contexts"]


# --- figures -------------------------------------------------------------------------------------


def test_svg_for_html_strips_the_prolog_and_keeps_ids_apart(tmp_path):
    fig, _ = figures.plot_test_rmse(curves_table())
    figures.save_svg(fig, tmp_path / "a.svg")
    svg = report.svg_for_html((tmp_path / "a.svg").read_text(), "F7-")
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
    assert "<style" not in svg and ' style="' not in svg and 'stroke-linejoin="round"' in svg
    ids = set(re.findall(r'id="([^"]+)"', svg))
    assert ids and all(i.startswith("F7-") for i in ids)
    references = re.findall(r'href="#([^"]+)"', svg)
    assert references and set(references) <= ids


def test_figures_have_a_panel_per_loss_and_save_deterministically(tmp_path):
    curves = curves_table()
    curves = pd.concat([curves[curves["loss"] == "binary_crossentropy"], curves[curves["loss"] == "mse"]])
    fig, axes = figures.plot_loss_curves(curves, {("mse", "raw"): 0.01, ("mae", "raw"): 0.5})
    assert [ax.get_title() for ax in axes] == ["loss: mse", "loss: binary_crossentropy"]  # the config's loss order
    floors = [[line.get_ydata()[0] for line in ax.get_lines() if line.get_label().startswith("_")] for ax in axes]
    assert floors == [[0.01], []]  # a floor where one is given, none for a loss without one
    assert [len([line for line in ax.get_lines() if not line.get_label().startswith("_")]) for ax in axes] == [2, 2]
    _, shared = figures.plot_test_rmse(curves_table(), noise_sd=0.5)
    assert shared[0].get_ylim() == shared[1].get_ylim()
    assert 0.5 in [line.get_ydata()[0] for line in shared[0].get_lines()]
    for name in ("one", "two"):  # the same figure, made twice, as a re-run makes it
        fig, _ = figures.plot_loss_curves(curves, {("mse", "raw"): 0.01, ("mae", "raw"): 0.5})
        figures.save_svg(fig, tmp_path / name / "loss_curves.svg")
    first = (tmp_path / "one" / "loss_curves.svg").read_bytes()
    assert first == (tmp_path / "two" / "loss_curves.svg").read_bytes()
    assert b"<dc:date>" not in first
    with pytest.raises(ValueError, match="grad_norm"):
        figures.plot_by_loss(curves_table(), "grad_norm_layer_1", "gradient norm", share_y=False)


def test_many_lines_split_a_loss_by_activation():
    curves = pd.concat([curves_table().assign(optimizer=f"opt{k}") for k in range(7)])
    _, axes = figures.plot_loss_curves(curves)
    assert [ax.get_title() for ax in axes][:2] == ["loss: mse · activation: linear", "loss: mse · activation: sigmoid"]
    assert len(axes) == 4 and all(len(ax.get_lines()) == 7 for ax in axes)


def heatmap_cells() -> pd.DataFrame:
    rows = []
    for dataset, optimizer, loss, activation, value, flag in [
        ("d1", "adam", "mse", "linear", 1.5, np.nan),
        ("d1", "adam", "mse", "sigmoid", 120.0, "sigmoid cannot reach"),
        ("d1", "sgd", "mse", "linear", 3.25, np.nan),
        ("d2", "adam", "binary_crossentropy", "sigmoid", 2.0, np.nan),
        ("d2", "sgd", "mse", "sigmoid", np.nan, np.nan),
    ]:
        rows.append(dict(dataset=dataset, optimizer=optimizer, loss=loss, activation=activation,
                         final_test_nrmse_median=value, reach_flag=flag))
    return pd.DataFrame(rows)


def test_heatmap_has_a_panel_per_dataset_and_optimizer():
    excluded = [("d1", "adam", "binary_crossentropy", "linear")]
    fig, axes = figures.plot_nrmse_heatmap(heatmap_cells(), ["d1", "d2"], ["adam", "sgd"], ["mse", "binary_crossentropy"],
                                           ["linear", "sigmoid"], excluded, title="grid")
    assert [ax.get_title() for ax in axes] == ["d1 · adam", "d1 · sgd", "d2 · adam", "d2 · sgd"]
    texts = [[t.get_text() for t in ax.texts] for ax in axes]
    assert texts[0] == ["1.5", "120\u2020"] and texts[1] == ["3.25"] and texts[3] == ["n/a"]
    assert [tick.get_text() for tick in axes[0].get_yticklabels()] == ["mse", "binary_crossentropy"]
    hatched = [p for p in axes[0].patches if p.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_xy() == (-0.5, 0.5)  # row binary_crossentropy, column linear
    norm = axes[0].collections[0].norm
    assert isinstance(norm, matplotlib.colors.LogNorm) and (norm.vmin, norm.vmax) == (1.5, 120.0)
    with pytest.raises(ValueError, match="final_test_nrmse_median"):
        figures.plot_nrmse_heatmap(heatmap_cells().drop(columns="final_test_nrmse_median"), ["d1"], ["adam"], ["mse"], ["linear"])


def test_gradient_curves_have_a_panel_per_experiment_and_optimizer():
    curves = curves_table(metrics=("grad_norm_output",))
    curves = pd.concat([curves, curves.assign(optimizer="sgd", mean=curves["mean"] * 100)])
    fig, axes = figures.plot_gradient_curves(curves, [("article", "adam"), ("article", "sgd")])
    assert [ax.get_title() for ax in axes] == ["article · adam", "article · sgd"]
    assert [len(ax.get_lines()) for ax in axes] == [3, 3]  # the article's three cells
    assert axes[1].get_yscale() == "log"


def scale_cells() -> pd.DataFrame:
    rows = []
    for dataset, scale in (("s1", 0.01), ("s2", 1.0), ("s3", 100.0)):
        for optimizer in ("adam", "sgd"):
            for loss in ("mse", "mae"):
                for targets in ("raw", "standardized"):
                    rows.append(dict(dataset=dataset, targets=targets, optimizer=optimizer, loss=loss, activation="linear",
                                     first_epoch_grad_norm_mean=scale, first_epoch_update_norm_mean=1e-3 if optimizer == "adam" else scale,
                                     final_test_nrmse_median=1 + scale))
    return pd.DataFrame(rows)


def test_scale_diagnostics_are_log_log_with_slopes_in_the_legend():
    scales = {"s1": 0.01, "s2": 1.0, "s3": 100.0}
    slopes = pd.DataFrame([dict(metric="first_epoch_grad_norm", optimizer="adam", loss="mse", slope=1.0012,
                                slope_ci_low=0.98, slope_ci_high=1.02)])
    cells = scale_cells()
    fig, axes = figures.plot_scale_diagnostics(cells[cells["targets"] == "raw"], slopes, scales, ["adam", "sgd"], ["mse", "mae"])
    assert len(axes) == 4 and [ax.get_title() for ax in axes] == ["adam", "sgd", "adam", "sgd"]
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in axes)
    labels = [text.get_text() for text in axes[0].get_legend().get_texts()]
    assert labels == ["mse 1.001 [0.98, 1.02]", "mae", "slope 1 (∝ scale)"]
    reference = axes[0].get_lines()[-1]
    x, y = reference.get_xdata(), reference.get_ydata()
    assert np.log(y[-1] / y[0]) / np.log(x[-1] / x[0]) == pytest.approx(1.0)


def test_nrmse_vs_scale_has_a_panel_per_targets_and_optimizer():
    scales = {"s1": 0.01, "s2": 1.0, "s3": 100.0}
    fig, axes = figures.plot_nrmse_vs_scale(scale_cells(), scales, ["raw", "standardized"], ["adam", "sgd"], ["mse", "mae"], ["linear"])
    assert [ax.get_title() for ax in axes] == ["raw targets · adam", "raw targets · sgd",
                                               "standardized targets · adam", "standardized targets · sgd"]
    assert all(1.0 in [line.get_ydata()[0] for line in ax.get_lines()] for ax in axes)  # the noise floor
    assert axes[0].get_xscale() == "log" and axes[0].get_yscale() == "log"


def test_article_seeds_mark_the_printed_value():
    tables = analysis_tables()
    fig, axes = figures.plot_article_seeds(tables["article_runs"], tables["article_summary"])
    assert len(axes) == 4 and axes[0].get_title() == "example 1: 5 seeds"
    printed = [line.get_xdata()[0] for line in axes[1].get_lines() if line.get_color() == "#c0392b"]
    assert printed == [0.01331729521339747]
    assert any(text.get_text().strip() == "printed 0.01332" for text in axes[1].texts)
    assert [tick.get_text() for tick in axes[3].get_yticklabels()] == ["example 2", "example 3"]


def test_study_figures_follow_the_grid(study):
    plan = figures.study_figures(study)
    assert list(plan) == ["article_seeds", "gradient_curves", "scale_diagnostics", "nrmse_vs_scale",
                          "nrmse_heatmap_article_dense1_raw", "nrmse_heatmap_article_dense1_standardized"]
    assert plan["gradient_curves"]["panels"] == [("article", "adam"), ("article", "sgd"), ("long", "adam")]
    assert plan["nrmse_vs_scale"]["scales"] == {"scale_1e-2": 0.01, "scale_1e0": 1.0}
    assert figures.curve_experiments(study, "seed_small") == ["article", "long"]


# --- the whole report ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(study, tmp_path_factory):
    """The report of the hand-made tables, rendered once to HTML and PDF."""
    directory = tmp_path_factory.mktemp("report")
    cells = cells_table(study)
    cells.loc[cells["dataset"] == "seed_large", "model"] = "<b>dense1</b>"
    paths = {}
    for dataset in ("seed_large", "seed_small"):
        paths[dataset] = {"article": {"test_rmse": directory / f"{dataset}.svg"}}
        fig, _ = figures.plot_test_rmse(curves_table(dataset))
        figures.save_svg(fig, paths[dataset]["article"]["test_rmse"])
    tables = analysis_tables()
    fig, _ = figures.plot_article_seeds(tables["article_runs"], tables["article_summary"])
    figures.save_svg(fig, directory / "article_seeds.svg")
    benchmark = directory / "job000.tsv"
    benchmark.write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t100\n")
    context = report.build_context(study, cells, paths, [benchmark], repo=directory, analysis=tables,
                                   study_figures={"article_seeds": directory / "article_seeds.svg"})
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
        assert report.format_number(value) in html
    for verdict in ("supported", "not-supported", "mixed"):
        assert f'class="verdict {verdict}"' in html
    assert "the article&#39;s &lt;words&gt;" in html
    assert "<link" not in html and "src=" not in html and "<?xml" not in html and "href=\"../" not in html


def test_pdf_text_has_the_table_numbers(rendered):
    cells, _, pdf = rendered
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for column in ("final_test_nrmse_mean", "final_test_nrmse_ci_low", "final_test_nrmse_median",
                   "final_test_rmse_mean", "final_test_rmse_ci_low", "final_train_loss_mean"):
        for value in cells[column]:
            assert report.format_number(value) in text, (column, value)
    for words in ("not supported", "mixed", "0.8179", "-0.024 [-0.03, -0.018]", "BCE*"):
        assert words in text, words


def test_source_date_epoch_makes_the_report_reproducible(study, monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert report.render_time().isoformat() == "2023-11-14T22:13:20+00:00"
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
        report.render_time()


# --------------------------------------------------------------------------------------------
# Citable tables, abstract, provenance of stages, citation
# --------------------------------------------------------------------------------------------

from lossatlas import citation, tables  # noqa: E402

TOY_TABLE = {
    "id": "T4", "number": 4, "caption": "Costs & 50% of_it {x} [T4; config abc; commit 1234567]",
    "columns": ["Loss", "Test nRMSE"], "align": "lr",
    "rows": [["mse|mae", "1.235 [1.1, 1.3]"], ["a\\b ~^$#", "n/a"]],
}


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


def test_the_repository_cff_makes_a_bibtex_entry():
    entry = citation.bibtex(citation.read_cff(REPO / "CITATION.cff"))
    assert entry.startswith("@software{") and "year = {" in entry


def test_abstract_counts_the_verdicts():
    claims = report.claims_context(analysis_tables()["verdicts"])
    abstract = report.abstract_context(claims)
    assert abstract["summary"] == "1 supported, 1 not supported and 1 mixed"
    assert [s["id"] for s in abstract["sentences"]] == [c["id"] for c in claims]
    assert abstract["sentences"][0]["text"].endswith(": supported (holds in 2 of 2 contexts).")


def test_stage_times_from_benchmark_files(tmp_path):
    def bench(relative, seconds):
        path = tmp_path / "results" / "benchmarks" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:00\t1\n")
        return path

    paths = [bench("train/grid/mse/job000.tsv", 2.5), bench("train/grid/mae/job001.tsv", 4), bench("aggregate.tsv", 1.25),
             bench("figures/seed_small/article.tsv", 3), bench("figures/study.tsv", 7), bench("datasets/seed_small.tsv", 0.5)]
    stages = report.stage_times(paths)
    assert [s["stage"] for s in stages] == ["dataset", "train", "aggregate", "figures", "study_figures"]
    assert stages[1] == {"stage": "train", "jobs": "2", "total": "6.5", "max": "4"}
    context = report.provenance_context(paths, tmp_path)
    assert context["training_seconds"] == "6.5" and context["training_jobs"] == "2"


def test_shown_command_leaves_out_job_selection():
    argv = ["snakemake", "--cores", "2", "--configfile", "config/smoke.yaml", "--forcerun", "report", "figures",
            "--rerun-triggers", "mtime", "-F", "--until=aggregate"]
    assert report.shown_command(argv) == "snakemake --cores 2 --configfile config/smoke.yaml"


def test_table_ids_come_from_the_config(study, tmp_path):
    ids = report.table_ids(study)
    assert list(ids.values()) == [f"T{n}" for n in range(1, len(ids) + 1)]
    assert ids["appendix"] == f"T{len(ids)}" and "claims" in ids
    # The results do not move the ids: the same plan with the cells of a run or without.
    cells = cells_table(study)
    context = report.build_context(study, cells, {}, [], repo=tmp_path, analysis=analysis_tables())
    by_id = {t["id"]: t for t in context["citable_tables"]}
    assert list(by_id) == list(ids.values())
    for table in context["citable_tables"]:
        assert table["caption"].endswith(f"[{table['id']}; config {study.config_hash}; commit unknown]")
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
    appendix = by_id[ids["appendix"]]
    first = cells.iloc[-1]
    expected = report.format_interval(first["final_test_rmse_mean"], first["final_test_rmse_ci_low"], first["final_test_rmse_ci_high"])
    assert expected in [cell for row in appendix["rows"] for cell in row]
