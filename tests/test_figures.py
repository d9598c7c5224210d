"""The figures and the plan of what a study draws, on tiny hand-made tables (no workflow run)."""

from __future__ import annotations

import re
import subprocess
import sys

import matplotlib.colors
from matplotlib.figure import Figure
import numpy as np
import pandas as pd
import pytest
from handmade import (
    analysis_tables,
    cells_table,
    curves_table,
    evals_table,
    floors_table,
    mechanism_table,
    slopes_table,
    tuned_rates_table,
)
from helpers import REPO, smoke_config

from lossatlas import figures
from lossatlas.design import plan, views
from lossatlas.design.config import load_study
from lossatlas.figures import curves as figure_curves
from lossatlas.figures import style
from lossatlas.figures import time as figure_time
from lossatlas.figures.write import floor_values


@pytest.fixture(scope="module")
def study():
    return load_study(smoke_config())


# --- curves of one dataset and experiment --------------------------------------------------------


def test_figures_have_a_panel_per_loss_and_save_deterministically(tmp_path):
    curves = curves_table()
    curves = pd.concat([curves[curves["loss"] == "binary_crossentropy"], curves[curves["loss"] == "mse"]])
    fig, axes, _ = figures.plot_loss_curves(curves, {("mse", "raw"): 0.01, ("mae", "raw"): 0.5})
    assert [ax.get_title() for ax in axes] == ["loss: mse", "loss: binary_crossentropy"]  # the config's loss order
    floors = [[line.get_ydata()[0] for line in ax.get_lines() if line.get_label().startswith("_")] for ax in axes]
    assert floors == [[0.01], []]  # a floor where one is given, none for a loss without one
    assert [len([line for line in ax.get_lines() if not line.get_label().startswith("_")]) for ax in axes] == [2, 2]
    _, shared, _ = figures.plot_test_rmse(curves_table(), noise_sd=0.5)
    assert shared[0].get_ylim() == shared[1].get_ylim()
    assert 0.5 in [line.get_ydata()[0] for line in shared[0].get_lines()]
    for name in ("one", "two"):  # the same figure, made twice, as a re-run makes it
        fig, _, _ = figures.plot_loss_curves(curves, {("mse", "raw"): 0.01, ("mae", "raw"): 0.5})
        figures.save_svg(fig, tmp_path / name / "loss_curves.svg")
    first = (tmp_path / "one" / "loss_curves.svg").read_bytes()
    assert first == (tmp_path / "two" / "loss_curves.svg").read_bytes()
    assert b"<dc:date>" not in first
    with pytest.raises(ValueError, match="grad_norm"):
        figures.plot_by_loss(curves_table(), "grad_norm_layer_1", "gradient norm", share_y=False)


def test_figure_text_is_text_in_the_reports_font(tmp_path):
    """Text as text (selectable in the browser and the PDF), the font named once on the root, positions
    rounded, no null rotations, no whitespace inside a text; the same bytes twice."""
    fig, _, _ = figures.plot_test_rmse(curves_table(), noise_sd=0.5)
    figures.save_svg(fig, tmp_path / "a.svg")
    svg = (tmp_path / "a.svg").read_text()
    texts = re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)
    assert {"epoch", "test RMSE", "loss: mse", "loss: binary_crossentropy"} <= set(texts)
    assert "DejaVuSans" not in svg and "<use xlink:href=\"#DejaVu" not in svg  # no glyph outlines
    assert "font-family: 'DejaVu Sans'}" in svg and svg.count("font-family") == 1
    assert "rotate(-0 " not in svg and 'transform="rotate(-90' in svg  # the y label keeps its rotation
    assert not re.search(r'\s(?:x|y)="-?\d+\.\d{3,}"', svg) and not re.search(r"<text[^>]*>\s+<tspan", svg)
    fig, _, _ = figures.plot_test_rmse(curves_table(), noise_sd=0.5)
    figures.save_svg(fig, tmp_path / "b.svg")
    assert (tmp_path / "b.svg").read_bytes() == svg.encode()
    assert figures.STYLE["svg.fonttype"] == "none" and figures.STYLE["font.family"] == "DejaVu Sans"


@pytest.mark.parametrize(
    "label, plain",
    [
        ("$\\mathdefault{10^{-3}}$", "10⁻³"),
        ("$\\mathdefault{2\\times10^{-3}}$", "2×10⁻³"),
        ("$\\mathdefault{10^{0}}$", "10⁰"),
        ("$\\mathdefault{10^{12}}$", "10¹²"),
        ("$\\mathdefault{-10^{2}}$", "\u221210²"),
        ("$\\mathdefault{0.5}$", "0.5"),
        ("", ""),
        ("$\\mathdefault{10^{0.30}}$", "$\\mathdefault{10^{0.30}}$"),  # not a whole power: left as it is
    ],
)
def test_log_labels_are_written_as_plain_text(label, plain):
    assert style.plain_label(label) == plain


def test_log_axes_label_their_ticks_as_plain_text(tmp_path):
    """Major and minor labels of log axes are single text elements with superscript powers, the same
    ticks labelled as Matplotlib's own formatter labels them."""
    fig = Figure()
    ax = fig.subplots()
    ax.plot([1e-4, 1e3], [1.5e-4, 4.5e-4])
    ax.set_xscale("log")
    ax.set_yscale("log")
    fig.canvas.draw()
    (x_low, x_high), (y_low, y_high) = ax.get_xlim(), ax.get_ylim()
    mathtext = [label.get_text() for label in ax.get_xticklabels() if x_low <= label.get_position()[0] <= x_high]
    mathtext += [label.get_text() for label in ax.get_yticklabels(minor=True) if y_low <= label.get_position()[1] <= y_high]
    figures.save_svg(fig, tmp_path / "log.svg")
    svg = (tmp_path / "log.svg").read_text()
    texts = set(re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S))
    assert "<tspan" not in svg and "mathdefault" not in svg
    assert {"2×10⁻⁴", "3×10⁻⁴", "10⁻⁴", "10⁰"} <= texts
    assert {style.plain_label(label) for label in mathtext if label} <= texts


def absolute_points(d: str) -> list[list[tuple[float, float]]]:
    """The subpaths of a path of M/m, l and z commands (as lossatlas.figures.svg writes them), absolute."""
    tokens = re.findall(r"[A-Za-z]|-?(?:\d+\.?\d*|\.\d+)", d)
    subpaths, x, y, command, i = [], 0.0, 0.0, None, 0
    while i < len(tokens):
        if tokens[i].isalpha():
            command, i = tokens[i], i + 1
            if command == "z":
                x, y = subpaths[-1][0]
            continue
        dx, dy = float(tokens[i]), float(tokens[i + 1])
        i += 2
        if command in "Mm":
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
            subpaths.append([(x, y)])
            command = "l"
        else:
            x, y = x + dx, y + dy
            subpaths[-1].append((x, y))
    return [[(round(x, 6), round(y, 6)) for x, y in subpath] for subpath in subpaths]


def test_compact_path_data_keeps_the_shape():
    from lossatlas.figures import svg

    d = "M 10.04 20 L 30.06 20.01 L 50 25 Z M 100 100 L 100 -7.26 L 101 -7.26"
    assert svg.path_data(d, tolerance=0) == "M10 20l20.1 0 19.9 5zm90 80 0-107.3 1 0"
    assert absolute_points(svg.path_data(d, tolerance=0)) == [
        [(10, 20), (30.1, 20), (50, 25)], [(100, 100), (100, -7.3), (101, -7.3)]]
    points = [(x / 10, 100 + (x % 7) / 1000) for x in range(400)] + [(50, 150)]  # a nearly straight line, then a turn
    line = "M " + " L ".join(f"{x} {y}" for x, y in points)
    simple = absolute_points(svg.path_data(line))[0]
    assert simple == [(0, 100), (39.9, 100), (50, 150)]  # within 0.1 pt of every point
    marker = "M 0 1.25 C 0.33 1.25 0.65 1.12 0.88 0.88 z"  # small shapes keep a hundredth
    assert svg.path_data(marker) == "M0 1.25c.33 0 .65-.13 .88-.37z"
    assert [svg.number_text(n, 10) for n in (123, 5, -5, 0, 10, -120)] == ["12.3", ".5", "-.5", "0", "1", "-12"]


def test_compact_svg_shows_the_same(tmp_path):
    """Styles become classes of the SVG's own sheet, ids are short and still resolve, markers keep
    their instances; the SVG stays well-formed XML."""
    import xml.etree.ElementTree as ElementTree

    fig, _, _ = figures.plot_article_seeds(analysis_tables()["article_runs"], analysis_tables()["article_summary"])
    figures.save_svg(fig, tmp_path / "a.svg")
    text = (tmp_path / "a.svg").read_text()
    root = ElementTree.fromstring(text)
    namespace = "{http://www.w3.org/2000/svg}"
    ids = {element.get("id") for element in root.iter() if element.get("id")}
    references = set(re.findall(r'href="#([^"]+)"', text)) | set(re.findall(r"url\(#([^)]+)\)", text))
    assert references and references <= ids and all(len(name) <= 4 for name in ids)
    sheet = root.find(f"{namespace}defs/{namespace}style").text
    classes = {element.get("class") for element in root.iter() if element.get("class")}
    assert classes and all(f".{name}{{" in sheet for name in classes)
    assert ' style="' not in text and "xlink:href" not in text and "<!--" not in text
    assert len(root.findall(f".//{namespace}use")) >= len(analysis_tables()["article_runs"])  # a marker per seed


def test_curve_data_is_what_the_lines_draw(tmp_path):
    curves = curves_table()
    fig, axes, data = figures.plot_loss_curves(curves, {("mse", "raw"): 0.01})
    assert list(data.columns) == ["panel", *figures.style.CURVE_COLUMNS, "floor"]
    assert list(dict.fromkeys(data["panel"])) == [ax.get_title() for ax in axes]
    for ax in axes:
        panel = data[data["panel"] == ax.get_title()]
        drawn = sorted(y for line in ax.get_lines() if not line.get_label().startswith("_") for y in line.get_ydata())
        assert drawn == sorted(panel["mean"])
    assert set(data.loc[data["loss"] == "mse", "floor"]) == {0.01} and data.loc[data["loss"] != "mse", "floor"].isna().all()
    _, _, data = figures.plot_test_rmse(curves, noise_sd=0.5, budget=2)
    assert set(data["noise_sd"]) == {0.5} and set(data["budget_epochs"]) == {2} and "floor" not in data
    assert len(data) == len(curves[curves["metric"] == "test_rmse"])
    paths = figures.save_figure(fig, data, tmp_path / "f.svg")
    assert paths == (tmp_path / "f.svg", tmp_path / "f.csv") and figures.figure_data_path(tmp_path / "f.svg") == paths[1]
    written = pd.read_csv(paths[1])
    assert list(written.columns) == list(data.columns) and len(written) == len(data)
    assert np.allclose(written["mean"], data["mean"], rtol=0, atol=0)  # every float written exactly


def test_curves_start_at_the_initial_weights_where_measured():
    _, axes, _ = figures.plot_test_rmse(curves_table())
    assert min(line.get_xdata()[0] for line in axes[0].get_lines() if not line.get_label().startswith("_")) == 0
    _, axes, _ = figures.plot_loss_curves(curves_table())
    assert all(line.get_xdata()[0] == 1 for line in axes[0].get_lines())  # no training loss at epoch 0


def test_an_unknown_noise_level_draws_no_reference_line():
    _, axes, _ = figures.plot_test_rmse(curves_table(), noise_sd=None)
    assert all(not line.get_label().startswith("_") for line in axes[0].get_lines())


def test_curves_need_the_curves_columns():
    with pytest.raises(ValueError, match="ci_high"):
        figures.plot_test_rmse(curves_table().drop(columns="ci_high"))


def test_many_lines_split_a_loss_by_activation():
    curves = pd.concat([curves_table().assign(optimizer=f"opt{k}") for k in range(7)])
    _, axes, _ = figures.plot_loss_curves(curves)
    assert [ax.get_title() for ax in axes][:2] == ["loss: mse · activation: linear", "loss: mse · activation: sigmoid"]
    assert len(axes) == 4 and all(len(ax.get_lines()) == 7 for ax in axes)
    assert figure_curves.curve_panels(curves_table()) == ["loss"]


def test_long_curves_are_thinned_to_the_plans_limit():
    from lossatlas.figures.style import thin

    curve = pd.DataFrame({"epoch": np.arange(plan.MAX_POINTS * 3), "mean": 1.0, "ci_low": 0.5, "ci_high": 2.0})
    thinned = thin(curve)
    assert len(thinned) <= plan.MAX_POINTS and thinned["epoch"].iloc[[0, -1]].tolist() == [0, plan.MAX_POINTS * 3 - 1]


# --- heatmaps, gradients, scale ------------------------------------------------------------------


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
    fig, axes, _ = figures.plot_nrmse_heatmap(heatmap_cells(), ["d1", "d2"], ["adam", "sgd"], ["mse", "binary_crossentropy"],
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
    fig, axes, _ = figures.plot_gradient_curves(curves, [("article", "adam"), ("article", "sgd")])
    assert [ax.get_title() for ax in axes] == ["article · adam", "article · sgd"]
    assert [len(ax.get_lines()) for ax in axes] == [3, 3]  # the article's three cells
    assert axes[1].get_yscale() == "log"
    assert axes[0].get_lines()[0].get_xdata()[0] == 0  # from the initial weights


def scale_cells() -> pd.DataFrame:
    rows = []
    for dataset, scale in (("s1", 0.01), ("s2", 1.0), ("s3", 100.0)):
        for optimizer in ("adam", "sgd"):
            for loss in ("mse", "mae"):
                for targets in ("raw", "standardized"):
                    rows.append(dict(dataset=dataset, targets=targets, optimizer=optimizer, loss=loss, activation="linear",
                                     initial_grad_norm_mean=scale, first_epoch_update_norm_mean=1e-3 if optimizer == "adam" else scale,
                                     final_test_nrmse_median=1 + scale))
    return pd.DataFrame(rows)


def test_scale_diagnostics_are_log_log_with_slopes_in_the_legend():
    assert list(figures.SCALE_METRICS) == ["initial_grad_norm", "first_epoch_update_norm"]
    scales = {"s1": 0.01, "s2": 1.0, "s3": 100.0}
    slopes = pd.DataFrame([dict(metric="initial_grad_norm", optimizer="adam", loss="mse", slope=1.0012,
                                slope_ci_low=0.98, slope_ci_high=1.02)])
    cells = scale_cells()
    fig, axes, _ = figures.plot_scale_diagnostics(cells[cells["targets"] == "raw"], slopes, scales, ["adam", "sgd"], ["mse", "mae"])
    assert len(axes) == 4 and [ax.get_title() for ax in axes] == ["adam", "sgd", "adam", "sgd"]
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in axes)
    assert axes[0].get_ylabel() == "gradient norm at the initial weights"
    labels = [text.get_text() for text in axes[0].get_legend().get_texts()]
    assert labels == ["mse 1.00 [0.98, 1.02]", "mae", "slope 1 (∝ scale)"]
    reference = axes[0].get_lines()[-1]
    x, y = reference.get_xdata(), reference.get_ydata()
    assert np.log(y[-1] / y[0]) / np.log(x[-1] / x[0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="initial_grad_norm_mean"):
        figures.plot_scale_diagnostics(cells.drop(columns="initial_grad_norm_mean"), slopes, scales, ["adam"], ["mse"])


def test_nrmse_vs_scale_has_a_panel_per_targets_and_optimizer():
    scales = {"s1": 0.01, "s2": 1.0, "s3": 100.0}
    fig, axes, _ = figures.plot_nrmse_vs_scale(scale_cells(), scales, ["raw", "standardized"], ["adam", "sgd"], ["mse", "mae"], ["linear"])
    assert [ax.get_title() for ax in axes] == ["raw targets · adam", "raw targets · sgd",
                                               "standardized targets · adam", "standardized targets · sgd"]
    assert all(1.0 in [line.get_ydata()[0] for line in ax.get_lines()] for ax in axes)  # the noise floor
    assert axes[0].get_xscale() == "log" and axes[0].get_yscale() == "log"


def test_article_seeds_mark_the_printed_value():
    tables = analysis_tables()
    fig, axes, _ = figures.plot_article_seeds(tables["article_runs"], tables["article_summary"])
    assert len(axes) == 4 and axes[0].get_title() == "example 1: 5 seeds"
    printed = [line.get_xdata()[0] for line in axes[1].get_lines() if line.get_color() == "#c0392b"]
    assert printed == [0.01331729521339747]
    assert any(text.get_text().strip() == "printed 0.0133" for text in axes[1].texts)
    assert [tick.get_text() for tick in axes[3].get_yticklabels()] == ["example 2", "example 3"]


# --- time to target, learning rates, mechanism ---------------------------------------------------


def test_time_to_target_draws_the_median_nrmse_of_each_compared_cell(study):
    group = plan.time_groups(study)[0]
    lines = figures.time_lines(evals_table(study), cells_table(study), study, group, tuned_rates_table())
    # The rows of each cell grouped once by the caller (several figures of one table) give the same lines.
    rows_of = figure_time.rows_by_cell(evals_table(study))
    pd.testing.assert_frame_equal(figures.time_lines(evals_table(study), cells_table(study), study, group, tuned_rates_table(),
                                                     rows_of=rows_of), lines)
    assert sorted(set(zip(lines["rate"], lines["level"], lines["learning_rate"]))) == [
        ("default", "binary_crossentropy", 0.001), ("default", "mse", 0.001),
        ("tuned", "binary_crossentropy", 1.0), ("tuned", "mse", 0.1)]
    baseline = lines[(lines["rate"] == "tuned") & (lines["level"] == "mse")].sort_values("step")
    assert baseline["step"].tolist() == [4, 40, 80, 160, 240, 480]  # step 0 left out; rate 0.1 stops at epoch 120
    evals = evals_table(study)
    first = evals[(evals["loss"] == "mse") & (evals["activation"] == "sigmoid") & (evals["learning_rate"] == 0.1)
                  & (evals["epoch"] == 1)]
    assert baseline["error"].iloc[0] == pytest.approx(first["test_rmse"].median() / 0.01)
    assert set(lines["metric"]) == {"nrmse"} and set(lines["threshold"]) == {1.5}  # seed_small: known noise, linear
    better = lines[(lines["rate"] == "tuned") & (lines["level"] == "binary_crossentropy")]
    assert better["status"].iloc[0] == figures.time.NOT_PAST_BUDGET  # the cell past the sweep has no horizon status
    assert set(lines["budget_steps"]) == {240} and set(lines["panel"]) == {0}
    targets = figures.time.panel_targets(study, group)
    assert targets == [("nrmse", 1.5)]
    fig, axes, data = figures.plot_time_to_target(lines, group, targets)
    assert len(axes) == 1 and axes[0].get_xscale() == "log" and axes[0].get_title() == "adam"
    assert axes[0].get_ylabel() == "median test nRMSE" and figures.time.panels_without_data(axes) == []
    assert fig._suptitle.get_text() == "S2, S4: BCE vs MSE"
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert labels[:4] == ["BCE, default rate", "BCE, tuned rate", "MSE, default rate", "MSE, tuned rate"]
    assert "threshold, nRMSE 1.5" in labels and "undecided at the cap" in labels and "noise floor, nRMSE 1" in labels
    assert not any("rRMSE" in label for label in labels)  # no panel draws it
    dashes = {line.get_linestyle() for line in axes[0].get_lines() if len(line.get_xdata()) > 2}
    assert dashes == {"-", "--"}  # default and tuned rate
    ends = [line for line in axes[0].get_lines() if len(line.get_xdata()) == 1 and line.get_marker() != "None"]
    assert len(ends) == 3  # a status marker on each line but the one not trained past the budget
    assert sorted(horizontal_lines(axes[0])) == [1.0, 1.5]  # the noise floor and the threshold
    assert set(data["metric"]) == {"nrmse"} and set(data["threshold"]) == {1.5} and set(data["context"]) == {"adam"}
    factor = plan.time_groups(study)[1]
    lines = figures.time_lines(evals_table(study), cells_table(study), study, factor, None)
    assert sorted(set(zip(lines["level"], lines["learning_rate"]))) == [("1", 0.001), ("10", 0.01)]
    fig, _, _ = figures.plot_time_to_target(lines, factor, figures.time.panel_targets(study, factor))
    assert fig._suptitle.get_text() == "S5: ×10 default rate vs ×1 default rate"
    with pytest.raises(ValueError, match="1 panel"):
        figures.plot_time_to_target(lines, factor, [("nrmse", 1.5), ("rrmse", 1.1)])
    with pytest.raises(ValueError, match="panel 0 draw nrmse"):  # a line drawn against another target's threshold
        figures.plot_time_to_target(lines, factor, [("rrmse", 1.1)])
    with pytest.raises(ValueError, match="unknown error"):
        figures.plot_time_to_target(lines, factor, [("rmse", 1.1)])


def horizontal_lines(ax) -> list[float]:
    """The y of every horizontal reference line of ``ax`` (threshold, noise floor, least-squares fit)."""
    return [line.get_ydata()[0] for line in ax.get_lines()
            if line.get_gid() == figures.time.REFERENCE and len(set(line.get_ydata())) == 1 and len(line.get_ydata()) == 2]


#: Seeds' least-squares test RMSE of the hand-made real and Friedman datasets (three seeds, as evals_table).
OLS_RMSE = {"diabetes_1e0": np.array([0.2, 0.25, 0.3]), "friedman1_1e0": np.array([0.1, 0.12, 0.15])}


def mixed_study():
    """The smoke study with its horizon experiment (long) also on real data (diabetes: noise unknown)
    and Friedman #1 (nonlinear): both have an rRMSE target, seed_small an nRMSE one."""
    config = smoke_config()
    config["datasets"].update({"diabetes_1e0": {"family": "diabetes"}, "friedman1_1e0": {"family": "friedman1"}})
    config["experiments"]["long"]["datasets"] = ["seed_small", "diabetes_1e0", "friedman1_1e0"]
    return load_study(config)


def time_claim(contexts) -> dict:
    return {"id": "R1", "kind": "paired", "judged_by": ["time"], "rates": ["default"], "contrast": "loss",
            "pairs": [["binary_crossentropy", "mse"]], "contexts": list(contexts),
            "select": {"experiment": "long", "model": "dense1", "activation": "sigmoid"}}


def test_time_panels_draw_the_error_their_target_is_defined_on():
    """Real data (noise sd unknown) and Friedman #1 (nonlinear) panels draw the test rRMSE (test RMSE
    over the seed's least-squares test RMSE) with the rRMSE threshold; seed_small the nRMSE with its
    own; each axis names its own error, and no panel is empty."""
    study = mixed_study()
    assert study.datasets["diabetes_1e0"].noise_sd is None
    assert [study.fit_target(d)[0] for d in ("seed_small", "diabetes_1e0", "friedman1_1e0")] == ["nrmse", "rrmse", "rrmse"]
    group = plan.time_groups(study, [time_claim(["dataset", "optimizer"])])[0]
    assert [context["dataset"] for context in group["contexts"]] == ["diabetes_1e0", "friedman1_1e0", "seed_small"]
    nrmse, rrmse = study.config["metrics"]["nrmse_threshold"], study.config["metrics"]["rrmse_threshold"]
    targets = figures.time.panel_targets(study, group)
    assert targets == [("rrmse", rrmse), ("rrmse", rrmse), ("nrmse", nrmse)] and rrmse != nrmse
    evals = evals_table(study)
    lines = figures.time_lines(evals, cells_table(study), study, group, None, {d: {"ols_rmse_test": v} for d, v in OLS_RMSE.items()})
    real = lines[lines["dataset"] == "diabetes_1e0"]
    assert len(real) and set(real["metric"]) == {"rrmse"} and set(real["threshold"]) == {rrmse}
    first = evals[(evals["dataset"] == "diabetes_1e0") & (evals["loss"] == "mse") & (evals["activation"] == "sigmoid")
                  & (evals["learning_rate"] == 0.001) & (evals["epoch"] == 1)].sort_values("seed")
    expected = np.median(first["test_rmse"].to_numpy() / OLS_RMSE["diabetes_1e0"][first["seed"].to_numpy()])
    assert real[(real["level"] == "mse") & (real["step"] == first["step"].iloc[0])]["error"].iloc[0] == pytest.approx(expected)
    fig, axes, data = figures.plot_time_to_target(lines, group, targets)
    assert figures.time.panels_without_data(axes) == []  # the real-data panel is no longer empty
    assert not any(text.get_text() == "no evaluations" for ax in axes for text in ax.texts)
    assert [ax.get_title() for ax in axes] == ["diabetes_1e0 · adam", "friedman1_1e0 · adam", "seed_small · adam"]
    assert sorted(horizontal_lines(axes[0])) == [1.0, rrmse]  # real data: its rRMSE threshold line
    assert sorted(horizontal_lines(axes[1])) == [1.0, rrmse]  # Friedman: the rRMSE threshold, not the nRMSE one
    assert sorted(horizontal_lines(axes[2])) == [1.0, nrmse]
    assert [ax.get_ylabel() for ax in axes] == ["median test rRMSE", "median test rRMSE", "median test nRMSE"]
    assert not axes[0].get_shared_y_axes().joined(axes[0], axes[2])  # an nRMSE axis is not an rRMSE axis
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert {f"threshold, rRMSE {rrmse}", f"threshold, nRMSE {nrmse}", "noise floor, nRMSE 1",
            "least-squares fit, rRMSE 1"} <= set(labels)
    assert set(zip(data["context"], data["metric"])) == {("diabetes_1e0 · adam", "rrmse"), ("friedman1_1e0 · adam", "rrmse"),
                                                          ("seed_small · adam", "nrmse")}
    only_real = plan.time_groups(study, [{**time_claim(["dataset", "optimizer"]),
                                          "select": {**time_claim([])["select"], "dataset": "friedman1_1e0"}}])[0]
    lines = figures.time_lines(evals, cells_table(study), study, only_real, None, {d: {"ols_rmse_test": v} for d, v in OLS_RMSE.items()})
    _, axes, _ = figures.plot_time_to_target(lines, only_real, figures.time.panel_targets(study, only_real))
    assert axes[0].get_ylabel() == "median test rRMSE" and sorted(horizontal_lines(axes[0])) == [1.0, rrmse]
    with pytest.raises(ValueError, match="diabetes_1e0.*ols_rmse_test"):  # no arrays: an error, not an empty panel
        figures.time_lines(evals, cells_table(study), study, group, None)
    with pytest.raises(ValueError, match="3 seeds"):
        figures.time_lines(evals.assign(seed=evals["seed"] + 1), cells_table(study), study, group, None,
                           {d: {"ols_rmse_test": v} for d, v in OLS_RMSE.items()})
    with pytest.raises(ValueError, match="different errors"):  # one panel cannot hold nRMSE and rRMSE cells
        figures.time.panel_targets(study, plan.time_groups(study, [time_claim(["optimizer"])])[0])


def test_median_curve_divides_each_row_by_its_scale():
    evals = pd.DataFrame({"step": [0, 4, 4, 4, 8], "test_rmse": [1.0, 0.2, 0.4, np.nan, 0.1]})
    curve = figures.time.median_curve(evals, np.array([1.0, 0.5, 2.0, 1.0, 0.1]))
    assert curve["step"].tolist() == [4, 8] and curve["error"].tolist() == pytest.approx([0.3, 1.0])
    assert figures.time.median_curve(evals, 0.1)["error"].tolist() == pytest.approx([3.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        figures.time.median_curve(evals, np.ones(3))
    with pytest.raises(ValueError, match="positive"):
        figures.time.median_curve(evals, 0.0)


def test_panels_without_data_ignore_reference_lines():
    from matplotlib.figure import Figure

    axes = Figure().subplots(1, 3)
    for ax in axes:
        ax.axhline(1.5, gid=figures.time.REFERENCE)
    axes[1].plot([1, 2], [np.nan, np.nan])
    axes[2].plot([1, 2], [np.nan, 0.5])
    assert figures.time.panels_without_data(axes) == [0, 1]


def test_lr_sensitivity_marks_the_tuned_and_default_rates(study):
    panels = plan.sensitivity_panels(study, "long")
    fig, axes, _ = figures.plot_lr_sensitivity(cells_table(study), tuned_rates_table(), panels, views.default_rates(study), 1.5)
    ax = axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "learning rate"
    assert figures.time.panels_without_data(axes) == []
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert labels[:3] == ["MSE / sigmoid", "MSE / linear", "BCE / sigmoid"]
    assert "tuned rate at an edge of the rates trained" in labels
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["BCE / sigmoid"].get_xdata()) == [0.001, 0.01, 0.1, 1.0]  # the rate past the sweep included
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 3 and sum(line.get_markerfacecolor() == "white" for line in stars) == 1  # the edge: hollow
    assert [line.get_xdata()[0] for line in stars] == [0.1, 0.01, 1.0]
    assert 0.001 in [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == ":"]  # the default rate


def test_an_lr_panel_where_every_seed_diverged_at_every_rate_says_so(study):
    """No blank panel: where every cell of a panel diverged (no finite error at any rate) the panel
    says so, and its data carry the divergence rate of every point."""
    panels = plan.sensitivity_panels(study, "long")
    cells = cells_table(study).assign(final_test_nrmse_median=np.nan, divergence_rate=1.0)
    fig, axes, data = figures.plot_lr_sensitivity(cells, tuned_rates_table(), panels, views.default_rates(study), 1.5)
    assert "every seed diverged\nat every rate" in [text.get_text() for text in axes[0].texts]
    assert (data["divergence_rate"] == 1.0).all() and data["error"].isna().all()


def test_lr_sensitivity_panels_draw_the_error_their_target_is_defined_on():
    """Real data has no nRMSE (NaN in the cells table): its panel draws the rRMSE with the rRMSE
    threshold, as Friedman #1's does; every panel has data and names its own error."""
    study = mixed_study()
    panels = plan.sensitivity_panels(study, "long")
    assert [panel["dataset"] for panel in panels] == ["seed_small", "diabetes_1e0", "friedman1_1e0"]
    cells = cells_table(study)
    cells["final_test_rrmse_median"] = cells["final_test_nrmse_median"] / 50
    cells.loc[cells["dataset"] == "diabetes_1e0", "final_test_nrmse_median"] = np.nan  # noise unknown
    targets = [study.fit_target(panel["dataset"]) for panel in panels]
    fig, axes, data = figures.plot_lr_sensitivity(cells, tuned_rates_table(), panels, views.default_rates(study), 1.5, targets)
    assert figures.time.panels_without_data(axes) == []
    assert [ax.get_ylabel() for ax in axes] == ["median final test nRMSE", "median final test rRMSE", "median final test rRMSE"]
    assert [sorted(horizontal_lines(ax)) for ax in axes] == [[1.5], [1.1], [1.1]]
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert {"threshold, nRMSE 1.5", "threshold, rRMSE 1.1"} <= set(labels)
    real = data[data["dataset"] == "diabetes_1e0"]
    assert len(real) and set(real["metric"]) == {"rrmse"} and np.isfinite(real["error"]).all() and set(real["threshold"]) == {1.1}
    _, nrmse_only, _ = figures.plot_lr_sensitivity(cells, tuned_rates_table(), panels, views.default_rates(study), 1.5)
    assert figures.time.panels_without_data(nrmse_only) == [1]  # what the figure drew before: an empty real-data panel
    with pytest.raises(ValueError, match="final_test_rrmse_median"):
        figures.plot_lr_sensitivity(cells.drop(columns="final_test_rrmse_median"), tuned_rates_table(), panels,
                                    views.default_rates(study), 1.5, targets)
    with pytest.raises(ValueError, match="3 panel"):
        figures.plot_lr_sensitivity(cells, tuned_rates_table(), panels, views.default_rates(study), 1.5, targets[:2])


def title_boxes(fig, axes) -> list:
    """The window extents of the panel titles of ``fig`` (drawn on an Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return [ax.title.get_window_extent() for ax in axes]


def assert_titles_apart(fig, axes) -> None:
    boxes = title_boxes(fig, axes)
    width = fig.bbox.width
    for index, box in enumerate(boxes):
        assert box.width > 0 and box.x0 >= 0 and box.x1 <= width, axes[index].get_title()
        for other in boxes[index + 1:]:
            assert not box.overlaps(other), (axes[index].get_title(), box, other)


def test_lr_sensitivity_titles_never_run_into_each_other(study):
    """The smoke config's panels, and a wide hand-made case (two long dataset labels by six clipped
    optimizers and two target preprocessings: four panels a row) whose one-line titles would overlap."""
    panels = plan.sensitivity_panels(study, "long")
    fig, axes, _ = figures.plot_lr_sensitivity(cells_table(study), tuned_rates_table(), panels, views.default_rates(study), 1.5)
    assert_titles_apart(fig, axes)
    optimizers = ["adam", "adam_clipvalue", "adam_clipnorm", "sgd", "sgd_clipvalue", "sgd_clipnormalized_by_global_norm"]
    wide = [{"experiment": "remedies_multi", "dataset": dataset, "inputs": "standardized", "targets": targets, "model": "dense1",
             "optimizer": optimizer, "lines": [("mse", "sigmoid")]}
            for dataset in ("friedman1_1e-3", "diabetes_1e-3") for targets in ("raw", "standardized") for optimizer in optimizers]
    cells = pd.concat([cells_table(study).assign(experiment="remedies_multi", dataset=p["dataset"], inputs=p["inputs"],
                                                 targets=p["targets"], optimizer=p["optimizer"]) for p in wide])
    fig, axes, data = figures.plot_lr_sensitivity(cells, tuned_rates_table(), wide, {"adam": 0.001, "sgd": 0.01}, 1.5)
    assert len(axes) == 24 and figures.time.panels_without_data(axes) == []
    assert "friedman1_1e-3 · standardized targets · adam_clipvalue" in set(data["panel"])  # the data keeps it on one line
    assert any("\n" in ax.get_title() for ax in axes)  # wrapped to the panel's width
    assert_titles_apart(fig, axes)


def test_titles_wrap_to_the_width_given():
    from lossatlas.figures.time import text_width, wrap_title

    title = wrap_title(["friedman1_1e-3", "standardized targets", "adam"], 90)
    assert title == "friedman1_1e-3\nstandardized targets\nadam" or all(text_width(line) <= 90 for line in title.split("\n"))
    assert all(text_width(line) <= 90 for line in title.split("\n"))
    assert wrap_title(["seed_small", "adam"], 500) == "seed_small · adam"
    long = wrap_title(["a_very_long_dataset_label_that_cannot_fit_on_one_line"], 60)
    assert len(long.split("\n")) > 1 and all(text_width(line) <= 60 for line in long.split("\n"))
    assert long.replace("\n", "") == "a_very_long_dataset_label_that_cannot_fit_on_one_line"
    with pytest.raises(ValueError, match="positive"):
        wrap_title(["a"], 0)


def test_mechanism_sets_the_needed_distance_against_the_travelled_one():
    fig, (main, side), _ = figures.plot_mechanism(mechanism_table())
    assert main.get_xscale() == "log" and main.get_yscale() == "log"
    points = [(line.get_xdata()[0], line.get_ydata()[0]) for line in main.get_lines() if line.get_marker() == "o"]
    assert points == [(0.9, 0.2), (0.5, 0.05)]
    squares = [line.get_ydata()[0] for line in main.get_lines() if line.get_marker() == "s"]
    assert squares == [0.24]  # Adam's reach; SGD has none
    assert [line.get_ydata()[0] for line in side.get_lines() if line.get_marker() == "o"] == [0.227]
    assert [tick.get_text() for tick in side.get_xticklabels()] == ["BCE/sigmoid lr 0.001"]
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert legend[:3] == ["step budget", "small gradient", "undecided"]


# --- the plan ------------------------------------------------------------------------------------


def test_study_figures_follow_the_grid(study):
    figure_plan = plan.study_figures(study)
    assert list(figure_plan) == ["article_seeds", "gradient_curves", "scale_diagnostics", "nrmse_vs_scale",
                                 "nrmse_heatmap_article_dense1_raw_raw", "nrmse_heatmap_article_dense1_raw_standardized",
                                 "time_to_target_S2_S4", "time_to_target_S5", "lr_sensitivity_long", "mechanism"]
    assert {spec["kind"] for spec in figure_plan.values()} == set(plan.STUDY_FIGURE_KINDS)
    assert figure_plan["gradient_curves"]["panels"] == [("article", "adam"), ("article", "sgd"), ("long", "adam")]
    assert figure_plan["nrmse_vs_scale"]["scales"] == {"scale_1e-2": 0.01, "scale_1e0": 1.0}
    assert plan.curve_experiments(study, "seed_small") == ["article", "long"]
    assert plan.report_datasets(study) == ["seed_large", "seed_small", "scale_1e-2", "scale_1e0"]
    assert figure_plan["nrmse_vs_scale"]["inputs"] == "raw" and figure_plan["gradient_curves"]["inputs"] == "raw"


def test_study_figures_are_grouped_by_the_tables_they_read(study):
    """Every kind in one group; the groups split the plan's figures, each in report order."""
    kinds = [kind for group in plan.STUDY_FIGURE_GROUPS.values() for kind in group]
    assert sorted(kinds) == sorted(plan.STUDY_FIGURE_KINDS)
    figure_plan = plan.study_figures(study)
    groups = plan.study_figure_groups(figure_plan)
    assert sorted(name for names in groups.values() for name in names) == sorted(figure_plan)
    assert all(names == [name for name in figure_plan if name in names] for names in groups.values())
    assert groups["analysis"][0] == "article_seeds"
    assert {figure_plan[name]["kind"] for name in groups["rates"]} == {"time_to_target", "lr_sensitivity"}
    assert plan.study_figure_groups({"mechanism": {"kind": "mechanism"}}) == {"analysis": ["mechanism"]}
    # Each group's job is given the tables its figures read (STUDY_FIGURE_TABLES), each once.
    tables = {group: plan.study_figure_tables(figure_plan, names) for group, names in groups.items()}
    assert tables == {"overview": ["curves", "cells"], "rates": ["evals", "data", "manifests", "tuned_rates", "cells"],
                      "analysis": ["article_runs", "article_summary", "slopes", "cells", "mechanism"]}
    sensitivity = [name for name in groups["rates"] if figure_plan[name]["kind"] == "lr_sensitivity"]
    assert plan.study_figure_tables(figure_plan, sensitivity) == ["cells", "tuned_rates"]  # no evaluations


def test_the_default_view_has_each_optimizers_own_rate(study):
    cells = views.default_cells(study)
    assert len(cells) == len(study.cells) - 6  # experiment long's three cells at two more rates of its sweep
    assert {(c.optimizer, c.learning_rate) for c in cells} == {("adam", 0.001), ("sgd", 0.01)}
    assert views.default_rates(study) == {"adam": 0.001, "sgd": 0.01}


def test_time_groups_are_the_comparisons_of_the_time_judged_claims(study):
    groups = plan.time_groups(study)
    assert [(g["name"], g["claims"], g["contrast"], g["levels"], g["rates"]) for g in groups] == [
        ("time_to_target_S2_S4", ["S2", "S4"], "loss", ["binary_crossentropy", "mse"], ["default", "tuned"]),  # same cells
        ("time_to_target_S5", ["S5"], "learning_rate_factor", ["10", "1"], ["default"]),
    ]
    assert all(g["contexts"] == [{"optimizer": "adam"}] and g["experiments"] == ["long"] for g in groups)
    jobs = plan.time_jobs(study)  # the jobs that train experiment long's cells
    assert jobs == [job for job in study.jobs() if job.startswith("long/")] and len(jobs) == 1
    cells = cells_table(study)
    default, tuned = plan.comparisons(groups[0])
    assert (default["rate"], tuned["rate"], default["panel"]) == ("default", "tuned", 0)
    factor = plan.claim_view(cells, plan.comparisons(groups[1])[0], study)
    assert sorted(zip(factor["level"], factor["learning_rate"])) == [("1", 0.001), ("10", 0.01)]
    rows = plan.claim_view(cells, default, study)
    assert set(rows["learning_rate"]) == {0.001} and set(rows["level"]) == {"binary_crossentropy", "mse"}
    rows = plan.claim_view(cells, tuned, study, tuned_rates_table())
    assert sorted(zip(rows["loss"], rows["learning_rate"])) == [("binary_crossentropy", 1.0), ("mse", 0.1)]
    assert plan.figure_label("a b/c") == "a_b_c"


def test_sensitivity_panels_are_the_contexts_of_tuned_experiments(study):
    panels = plan.sensitivity_panels(study)
    assert len(panels) == 1 and panels[0]["experiment"] == "long" and panels[0]["optimizer"] == "adam"
    assert panels[0]["lines"] == [("mse", "sigmoid"), ("mse", "linear"), ("binary_crossentropy", "sigmoid")]
    config = smoke_config()
    config["experiments"]["long"]["tune"] = False
    assert plan.sensitivity_panels(load_study(config)) == []
    assert not any(name.startswith("lr_sensitivity") for name in plan.study_figures(load_study(config)))


def test_evaluation_points_match_the_engines_schedule():
    assert plan.evaluation_points(60, 10) == len([0, 1, 10, 20, 30, 40, 50, 60])
    assert plan.evaluation_points(25, 10) == len([0, 1, 10, 20, 25])
    assert plan.evaluation_points(20, 1) == 21


def test_statistics_settings_come_from_the_config(study):
    settings = plan.statistics(study)
    assert settings == {"alpha": study.config["statistics"]["alpha"],
                        "bootstrap_resamples": study.config["statistics"]["bootstrap_resamples"]}


# --- writing from the results files --------------------------------------------------------------


def test_floor_values_are_those_of_the_dataset_and_experiment():
    floors = floor_values(floors_table(), "seed_small", "article")
    assert floors == {("mse", "raw"): 0.0001, ("binary_crossentropy", "raw"): 0.2345678, ("mse", "standardized"): 0.25}
    assert floor_values(floors_table(), "seed_large", "article") == {}
    with pytest.raises(ValueError, match="experiment"):
        floor_values(floors_table().drop(columns="experiment"), "seed_small", "article")


def test_write_figures_reads_the_curves_and_floors_tables(tmp_path):
    curves, floors = tmp_path / "curves.parquet", tmp_path / "floors.csv"
    curves_table().to_parquet(curves, index=False)
    floors_table().to_csv(floors, index=False)
    outputs = {kind: tmp_path / f"{kind}.svg" for kind in plan.CURVE_FIGURES}
    figures.write_figures(curves, floors, "seed_small", "article", outputs, noise_sd=None)
    first = {path: path.read_bytes() for svg in outputs.values() for path in (svg, svg.with_suffix(".csv"))}
    assert all(first[svg].startswith(b"<?xml") for svg in outputs.values())
    data = pd.read_csv(outputs["loss_curves"].with_suffix(".csv"))
    assert set(data["metric"]) == {"train_loss"} and data["floor"].notna().any()
    assert len(data) == len(curves_table().query("metric == 'train_loss'"))
    assert "noise_sd" not in pd.read_csv(outputs["test_rmse"].with_suffix(".csv"))  # unknown: none drawn
    figures.write_figures(curves, floors, "seed_small", "article", outputs, noise_sd=None)
    assert {path: path.read_bytes() for path in first} == first
    with pytest.raises(ValueError, match="no curves"):
        figures.write_figures(curves, floors, "seed_large", "article", outputs)


def test_study_figures_read_the_arrays_of_the_rrmse_datasets(tmp_path):
    """The time figures need each seed's least-squares test RMSE of the datasets they draw in rRMSE,
    and only those: read from results/datasets/<label>.npz, checked against its manifest when given."""
    import hashlib
    import json

    from lossatlas.figures.write import read_datasets, rrmse_datasets

    study = mixed_study()
    group = plan.time_groups(study, [time_claim(["dataset", "optimizer"])])[0]
    assert rrmse_datasets(study, {"time": {"kind": "time_to_target", **group}, "other": {"kind": "mechanism"}}) == [
        "diabetes_1e0", "friedman1_1e0"]  # config order; seed_small draws nRMSE
    assert rrmse_datasets(load_study(smoke_config()), plan.study_figures(load_study(smoke_config()))) == []
    path = tmp_path / "diabetes_1e0.npz"
    np.savez(path, ols_rmse_test=OLS_RMSE["diabetes_1e0"])
    manifest = tmp_path / "diabetes_1e0.manifest.json"
    manifest.write_text(json.dumps({"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}))
    arrays = read_datasets({"diabetes_1e0": (path, manifest), "seed_small": tmp_path / "absent.npz"}, ["diabetes_1e0"])
    assert list(arrays) == ["diabetes_1e0"] and arrays["diabetes_1e0"]["ols_rmse_test"].tolist() == [0.2, 0.25, 0.3]
    assert read_datasets({"diabetes_1e0": str(path)}, ["diabetes_1e0"])["diabetes_1e0"]["ols_rmse_test"].shape == (3,)
    with pytest.raises(ValueError, match="friedman1_1e0"):
        read_datasets({"diabetes_1e0": path}, ["friedman1_1e0", "diabetes_1e0"])
    manifest.write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(ValueError, match="SHA-256"):
        read_datasets({"diabetes_1e0": (path, manifest)}, ["diabetes_1e0"])


@pytest.mark.slow
def test_write_study_figures_makes_every_planned_figure(study, tmp_path, monkeypatch):
    tables = analysis_tables()
    paths = {name: tmp_path / f"{name}.csv" for name in ("cells", "slopes", "runs", "summary")}
    cells_table(study).to_csv(paths["cells"], index=False)
    slopes_table().to_csv(paths["slopes"], index=False)
    tables["article_runs"].to_csv(paths["runs"], index=False)
    tables["article_summary"].to_csv(paths["summary"], index=False)
    rates = views.default_rates(study)
    curves = pd.concat([curves_table(metrics=("grad_norm_output",), learning_rate=rates[optimizer]).assign(
                            experiment=experiment, optimizer=optimizer)
                        for experiment, optimizer in (("article", "adam"), ("article", "sgd"), ("long", "adam"))])
    curves.to_parquet(tmp_path / "curves.parquet", index=False)
    tuned_rates_table().to_csv(tmp_path / "tuned.csv", index=False)
    mechanism_table().to_csv(tmp_path / "mechanism.csv", index=False)
    evals_table(study).to_parquet(tmp_path / "evals.parquet", index=False)
    outputs = {name: tmp_path / "study" / f"{name}.svg" for name in plan.study_figures(study)}
    arguments = (paths["cells"], tmp_path / "curves.parquet", paths["slopes"], paths["runs"], paths["summary"],
                 tmp_path / "tuned.csv", tmp_path / "mechanism.csv", [tmp_path / "evals.parquet"])
    figures.write_study_figures(study, outputs, *arguments)
    assert all(path.read_text().lstrip().startswith("<?xml") for path in outputs.values())
    data = {name: pd.read_csv(figures.figure_data_path(path)) for name, path in outputs.items()}
    assert all(len(frame) for frame in data.values()), {name: len(frame) for name, frame in data.items()}
    columns = {name: list(frame.columns) for name, frame in data.items()}
    assert columns["article_seeds"] == ["example", "seed", "final_loss", "printed_loss", "test_mse"]
    assert columns["nrmse_heatmap_article_dense1_raw_raw"][:4] == ["experiment", "model", "inputs", "targets"]
    assert {"final_test_nrmse_median", "flagged", "excluded"} <= set(columns["nrmse_heatmap_article_dense1_raw_raw"])
    assert {"scale", "value", "slope"} <= set(columns["scale_diagnostics"])
    assert {"step", "metric", "error", "context", "threshold"} <= set(columns["time_to_target_S2_S4"])
    assert {"learning_rate", "metric", "error", "tuned", "default_rate", "threshold"} <= set(columns["lr_sensitivity_long"])
    assert {"required_linf", "moved_linf", "capacity_linf", "category"} <= set(columns["mechanism"])
    heatmap = data["nrmse_heatmap_article_dense1_raw_raw"]
    cells = pd.read_csv(paths["cells"])
    one = heatmap[~heatmap["excluded"]].iloc[0]
    match = cells[(cells["experiment"] == one["experiment"]) & (cells["dataset"] == one["dataset"])
                  & (cells["targets"] == "raw") & (cells["optimizer"] == one["optimizer"]) & (cells["loss"] == one["loss"])
                  & (cells["activation"] == one["activation"]) & (cells["learning_rate"] == rates[one["optimizer"]])]
    assert one["final_test_nrmse_median"] == match["final_test_nrmse_median"].iloc[0]  # the number written in the square
    first = outputs["time_to_target_S2_S4"].read_bytes()
    figures.write_study_figures(study, outputs, *arguments)
    assert outputs["time_to_target_S2_S4"].read_bytes() == first
    for wrong in ({}, {"nowhere": tmp_path / "nowhere.svg"}):
        with pytest.raises(ValueError, match="not among the study's figures"):
            figures.write_study_figures(study, wrong, *arguments)
    # Each figure alone, from only the tables STUDY_FIGURE_TABLES lists for its kind: the same figure.
    keywords = dict(zip(["cells_path", "curves_path", "slopes_path", "runs_path", "summary_path", "tuned_path",
                         "mechanism_path", "evals_paths"], arguments))
    by_table = {"cells": "cells_path", "curves": "curves_path", "slopes": "slopes_path", "article_runs": "runs_path",
                "article_summary": "summary_path", "tuned_rates": "tuned_path", "mechanism": "mechanism_path",
                "evals": "evals_paths"}
    figure_plan = plan.study_figures(study)
    for name, path in outputs.items():
        alone = tmp_path / "alone" / path.name
        given = {by_table[table]: keywords[by_table[table]] for table in plan.STUDY_FIGURE_TABLES[figure_plan[name]["kind"]]
                 if table in by_table}
        figures.write_study_figures(study, {name: alone}, **given)
        assert alone.read_bytes() == path.read_bytes(), name
    # A figure whose table is not given names it; so does one whose kind does not list a table it reads.
    with pytest.raises(ValueError, match="'scale_diagnostics' needs the cells table"):
        figures.write_study_figures(study, {"scale_diagnostics": alone}, slopes_path=paths["slopes"])
    with monkeypatch.context() as patch:
        patch.setitem(plan.STUDY_FIGURE_TABLES, "mechanism", ("cells",))
        with pytest.raises(ValueError, match="'mechanism' reads the mechanism table, which STUDY_FIGURE_TABLES does not list"):
            figures.write_study_figures(study, {"mechanism": alone}, *arguments)


# --- one way: config -> ... -> figures, report ---------------------------------------------------


def imported(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return set(run.stdout.split())


@pytest.mark.slow
def test_figures_and_report_never_import_each_other_nor_tensorflow():
    figures_side, report_side, planned = imported("lossatlas.figures"), imported("lossatlas.report"), imported("lossatlas.design.plan")
    assert not any(m.startswith("lossatlas.report") for m in figures_side)
    assert not any(m.startswith("lossatlas.figures") for m in report_side)
    assert "matplotlib" not in planned and "matplotlib" not in report_side
    for modules in (figures_side, report_side, planned):
        assert "tensorflow" not in modules and "keras" not in modules
        assert not modules & {"lossatlas.training.backend", "lossatlas.training.engine", "lossatlas.training.train", "lossatlas.training.reference", "lossatlas.training.article"}


def test_the_report_rules_import_only_the_plan():
    text = (REPO / "workflow" / "rules" / "report.smk").read_text()
    modules = set(re.findall(r"^\s*(?:import|from)\s+([\w.]+)", text, re.MULTILINE))
    assert {m for m in modules if m.startswith("lossatlas")} == {"lossatlas.design.plan"}


def test_epoch_tick_labels_stay_short_on_long_horizons():
    from lossatlas.figures.style import short_count

    assert [short_count(value) for value in (0, 800, 2500, 40000, 100000, 1.2e6)] == ["0", "800", "2.5k", "40k", "100k", "1.2M"]
