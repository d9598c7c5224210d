"""`make diagnose` / `python -m lossatlas.diagnose`: the config and claims it writes for a CSV file, its
summary, and one run end to end on the shipped example."""

import csv
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO, copy_workflow

from lossatlas import diagnose
from lossatlas.design.claimspec import check_claims
from lossatlas.design.config import ConfigError, load_study

EXAMPLE = REPO / "examples" / "diabetes_small.csv"


def prepared(directory, data, target, choice=None, size="smoke", **options):
    """Writes a diagnosis's files in ``directory`` (its own repository); returns (config, claims, study)."""
    path = diagnose.prepare(str(data), target, choice or diagnose.Choice(), diagnose.SIZES[size], repository=directory,
                            **options)
    config = yaml.safe_load((directory / path).read_text())
    claims = yaml.safe_load((directory / path.with_name("claims.yaml")).read_text())
    return config, claims, path


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A directory standing for the checkout, with the shipped example in it, as working directory."""
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "examples" / EXAMPLE.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_shipped_example_is_the_first_300_diabetes_patients():
    from sklearn.datasets import load_diabetes

    frame = pd.read_csv(EXAMPLE)
    x, y = load_diabetes(return_X_y=True, scaled=False)
    assert list(frame.columns) == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "progression"]
    assert len(frame) == 300
    assert (frame.iloc[:, :10].to_numpy() == x[:300]).all() and (frame["progression"].to_numpy() == y[:300]).all()
    assert "BSD-3-Clause" in (REPO / "examples" / "README.md").read_text()


def test_the_config_is_a_remedies_experiment_on_the_file_under_results_diagnose(repository):
    config, claims, path = prepared(repository, "examples/diabetes_small.csv", "progression")
    assert path.as_posix() == "results/diagnose/diabetes_small/config.yaml"
    assert config["results_dir"] == "results/diagnose/diabetes_small"
    assert config["datasets"] == {"diabetes_small": {"family": "csv", "path": "examples/diabetes_small.csv",
                                                     "target": "progression", "scale": None}}
    experiment = config["experiments"]["diagnose"]
    # targets 25 ... 346: no binary cross-entropy
    assert experiment["losses"] == ["mse", "huber", "mae"]
    assert experiment["activations"] == ["linear", "sigmoid", "tanh"] and experiment["optimizers"] == ["adam", "sgd"]
    assert experiment["targets"] == ["raw", "standardized"] and experiment["tune"] and experiment["horizon"]
    assert config["optimizers"]["adam"]["learning_rate"] == 0.001 and config["optimizers"]["sgd"]["learning_rate"] == 0.01
    with __import__("contextlib").chdir(repository):
        study = load_study(config)
        from lossatlas.design.claimspec import load_claims

        check_claims(load_claims(config["claims"]), study, config["claims"])
    ids = [claim["id"] for claim in claims["claims"]]
    assert ids == ["loss_huber", "loss_mae", "output_sigmoid", "output_tanh", "targets_standardized", "optimizer_sgd"]
    names = [claim["name"] for claim in claims["claims"]]
    assert names[0] == "Huber loss instead of your MSE" and names[2] == "A sigmoid output instead of your linear output"
    assert names[-1] == "SGD (at its own default rate) instead of your Adam"
    huber = claims["claims"][0]
    assert huber["pairs"] == [["huber", "mse"]] and huber["contrast"] == "loss" and huber["remedy"]
    assert huber["select"] == {"experiment": "diagnose", "model": "dense1", "activation": "linear", "optimizer": "adam",
                               "targets": "raw"}
    assert huber["judged_by"] == ["budget", "time"] and huber["rates"] == ["default", "tuned"]


def test_binary_cross_entropy_is_run_where_the_targets_lie_in_the_unit_interval(repository):
    rows = list(csv.reader(EXAMPLE.open()))
    high = max(float(row[-1]) for row in rows[1:])
    with open(repository / "unit.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows[0])
        writer.writerows(row[:-1] + [f"{float(row[-1]) / high:.6g}"] for row in rows[1:])
    choice = diagnose.Choice(loss="mse", activation="sigmoid", optimizer="adam")
    config, claims, _ = prepared(repository, "unit.csv", "progression", choice)
    assert "binary_crossentropy" in config["experiments"]["diagnose"]["losses"]
    ids = [claim["id"] for claim in claims["claims"]]
    assert "loss_binary_crossentropy" in ids and "output_linear" in ids
    with __import__("contextlib").chdir(repository):
        from lossatlas.design.claimspec import load_claims

        check_claims(load_claims(config["claims"]), load_study(config), config["claims"])


def test_a_bad_file_is_refused_before_anything_is_written(repository):
    with pytest.raises(ConfigError, match="did you mean 'progression'"):
        prepared(repository, "examples/diabetes_small.csv", "progresion")
    assert not (repository / "results").exists()
    assert diagnose.main(["--data", "examples/diabetes_small.csv", "--target", "progresion", "--config-only",
                          "--repository", str(repository)]) == 2


def test_names_and_paths():
    assert diagnose.dataset_name("data/My Data (v2).csv") == "My_Data_v2"
    assert diagnose.dataset_name("...csv") == "data"
    assert diagnose.config_path_of(REPO / "examples" / "diabetes_small.csv", REPO) == "examples/diabetes_small.csv"
    assert diagnose.config_path_of("/somewhere/else.csv", REPO) == "/somewhere/else.csv"


def test_the_summary_names_the_best_cell_your_choice_and_the_ranked_remedies(tmp_path):
    coordinates = {"experiment": "diagnose", "dataset": "d", "inputs": "standardized", "model": "dense1"}
    rows = []
    for loss, rate, median, status, diagnosis in [
        ("mse", 0.001, 3.0, "stalled", "step-size floor"), ("mse", 0.01, 1.5, "undecided", "still descending"),
        ("huber", 0.001, 1.2, "reached", ""), ("huber", 0.1, 1.0, "reached", ""),
    ]:
        rows.append({**coordinates, "targets": "raw", "optimizer": "adam", "learning_rate": rate, "loss": loss,
                     "activation": "linear", "final_test_rrmse_median": median, "final_test_rrmse_ci_low": median - 0.1,
                     "final_test_rrmse_ci_high": median + 0.1, "horizon_status": status, "horizon_steps": 2000,
                     "diagnosis": diagnosis, "steps_to_threshold_median": 500.0})
    (tmp_path / "aggregate").mkdir()
    (tmp_path / "analysis").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "aggregate" / "cells.csv", index=False)
    pd.DataFrame([{**coordinates, "targets": "raw", "optimizer": "adam", "loss": loss, "activation": "linear",
                   "tuned_learning_rate": rate, "edge": "", "n_rates": 3} for loss, rate in [("mse", 0.01), ("huber", 0.1)]]
                 ).to_csv(tmp_path / "analysis" / "tuned_rates.csv", index=False)
    pd.DataFrame([
        {"id": "loss_huber", "name": "Huber loss instead of your mse", "remedy": True, "rate": "default", "effect": 2.5,
         "effect_ci_low": 2.0, "effect_ci_high": 3.0, "verdict_budget": "supported", "verdict_time": "supported", "rank": 1.0},
        {"id": "output_tanh", "name": "A tanh output instead of your linear", "remedy": True, "rate": "default",
         "effect": 0.5, "effect_ci_low": 0.4, "effect_ci_high": 0.6, "verdict_budget": "not supported",
         "verdict_time": "", "rank": 2.0},
    ]).to_csv(tmp_path / "analysis" / "remedies.csv", index=False)
    text = diagnose.summarize(tmp_path, diagnose.Choice())
    lines = text.splitlines()
    assert lines[0].startswith("Best cell: Huber + linear output, adam at rate 0.1 (tuned), raw targets: median test rRMSE 1")
    assert "[0.9, 1.1]" in lines[0]
    assert "Your choice (MSE, linear output, adam at Keras's default rate 0.001, raw targets): median test rRMSE 3" in text
    assert "the best cell's is 3x lower" in text
    assert "STUCK: it stalled after 2,000 steps" in text and "step-size floor" in text
    assert "at its tuned rate 0.01: median test rRMSE 1.5; UNDECIDED" in text
    ranked = text[text.index("Alternatives ranked"):]
    assert ranked.index("1. Huber loss") < ranked.index("2. A tanh output") and "2.5x [2.0, 3.0]" in ranked


@pytest.mark.slow
def test_diagnose_runs_end_to_end_on_the_shipped_example(tmp_path):
    """The whole workflow on examples/diabetes_small.csv with smoke-sized settings (a few minutes)."""
    directory = copy_workflow(tmp_path)
    shutil.copytree(REPO / "examples", directory / "examples")
    run = subprocess.run(
        [sys.executable, "-m", "lossatlas.diagnose", "--data", "examples/diabetes_small.csv", "--target", "progression",
         "--size", "smoke", "--cores", "2"],
        cwd=directory, capture_output=True, text=True, timeout=1800, check=False,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-5000:]
    results = directory / "results" / "diagnose" / "diabetes_small"
    assert (results / "config.yaml").is_file() and (results / "claims.yaml").is_file()
    assert (results / "report" / "report.html").is_file()
    assert f"Report: {results / 'report' / 'report.html'}" in run.stdout
    assert "Best cell: " in run.stdout and "median test rRMSE" in run.stdout
    assert "Your choice (MSE, linear output, adam" in run.stdout
    assert "Alternatives ranked" in run.stdout
    assert not (directory / "results" / "datasets").exists()  # nothing outside results/diagnose/<name>
