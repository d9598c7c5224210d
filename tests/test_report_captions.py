"""The captions of the report's figures and Snakemake's (lossatlas.report.captions)."""

from __future__ import annotations

import types

import docutils.core
import jinja2
from handmade import cells_table, floors_table
from report_fixtures import study_fixture  # noqa: F401  (the pytest fixture `study`)

from lossatlas.design import plan
from lossatlas.report import captions

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
    assert "Dash-dotted lines" in texts["loss_curves"] and "0.235" in texts["loss_curves"]  # a loss: 3 significant digits
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
    assert "cap of 1,920 steps" in time and f"Table {ids['time']} gives" in time and "One panel per optimizer" in time
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
