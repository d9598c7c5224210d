"""The method section of the report (lossatlas.report.design): the grid, the excluded cells, the
experiments, the statistics, the threats."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from handmade import floors_table
from helpers import edited, smoke_config
from report_fixtures import study_fixture  # noqa: F401  (the pytest fixture `study`)

from lossatlas.design.config import load_study
from lossatlas.report import captions, design

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
    assert rows["Horizon rate factors"] == ["—", "0.1×, 10×"]  # as trained (the horizon section's), never "None"
    assert rows["Cells planned"] == ["38", "9"]


def test_the_statistics_settings_are_the_configs():
    config = edited(edited(smoke_config(), "statistics.alpha", 0.01), "statistics.bootstrap_resamples", 123)
    definitions = design.metrics_context(load_study(config))
    assert definitions["comparison_alpha"] == "0.01" and definitions["bootstrap_resamples"] == "123"


def test_the_dataset_table_has_one_row_per_family():
    config = smoke_config()
    config["datasets"] = {
        "small": {"family": "target_scale", "scale": 0.001},
        "unit": {"family": "target_scale", "scale": 1.0},
        "large": {"family": "target_scale", "scale": 1000.0},
        "seed": {"family": "seed_large"},
        "friedman_a": {"family": "friedman1", "scale": 1.0, "n_train": 200},
        "friedman_b": {"family": "friedman1", "scale": 1.0, "params": {"noise": 2.0}},
    }
    for experiment in config["experiments"].values():
        experiment["datasets"] = ["small", "unit"]
    rows = design.dataset_families(load_study(config))
    assert [row["family"] for row in rows] == ["target_scale", "seed_large", "friedman1"]
    scale, seed, friedman = rows
    # the process once, the scales in one column, what is proportional to the scale as a multiple of it
    assert scale["description"].count("clip") == 1 and scale["datasets"] == "small, unit, large"
    assert scale["scales"] == "0.001, 1, 1,000" and scale["sizes"] == "100 / 100 / 1,000"
    assert scale["noise_sd"] == "0.05 × s" and scale["target_range"] == "[0, 1] × s"
    assert seed["scales"] == "1" and seed["noise_sd"] == "1" and seed["target_range"] == "unbounded"
    # what differs between datasets of one scale: per dataset, in the order of the datasets column
    assert friedman["datasets"] == "friedman_a, friedman_b" and friedman["scales"] == "1"
    assert friedman["sizes"] == "200 / 100 / 1,000; 100 / 100 / 1,000" and friedman["n_test"] == "1,000"
    assert friedman["noise_sd"] == "0.0333; 0.0667" and friedman["target_range"] == "[0, 1]"


@pytest.fixture(scope="module")
def real_study():
    """The smoke study with a real-data dataset (noise sd unknown) in experiment long."""
    config = edited(smoke_config(), "datasets.real", {"family": "diabetes"})
    config["experiments"]["long"]["datasets"] = ["seed_small", "real"]
    return load_study(config)


def test_an_unknown_noise_sd_reads_unknown(real_study):
    families = {d["family"]: d for d in design.design_context(real_study)["datasets"]}
    assert families["diabetes"]["noise_sd"] == "unknown" and families["seed_small"]["noise_sd"] == "0.01"
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
    assert threats["cap"]["cap_steps"] == "1,920" and threats["cap"]["stall_factor"] == "10"  # steps: thousands separated


def test_the_stall_rule_is_the_configs():
    config = edited(edited(smoke_config(), "horizon.stall_improvement", 0.02), "horizon.stall_factor", 4)
    horizon = design.metrics_context(load_study(config))["horizon"]
    assert horizon["stall_improvement_percent"] == "2" and horizon["stall_factor"] == "4"
    assert horizon["cap_steps"] == "1,920" and horizon["points_per_doubling"] == "2"
