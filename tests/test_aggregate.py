"""Aggregation on tiny hand-made tables: derived per-trial metrics, steps to threshold, cell summaries."""

import math

import numpy as np
import pandas as pd
import pytest
from helpers import smoke_config

from lossatlas.aggregation import aggregate
from lossatlas.core.results import CELL
from lossatlas.design.config import load_study

CELL_KEY = {"experiment": "long", "dataset": "seed_small", "inputs": "raw", "targets": "raw", "model": "dense1", "optimizer": "adam",
            "learning_rate": 0.001,
            "loss": "mse", "activation": "sigmoid"}


@pytest.fixture(scope="module")
def study():
    return load_study(smoke_config())


def evals_frame(rmse_by_seed: dict[int, list[float]], epochs: list[int]) -> pd.DataFrame:
    rows = [{**CELL_KEY, "seed": seed, "epoch": epoch, "test_rmse": value}
            for seed, values in rmse_by_seed.items() for epoch, value in zip(epochs, values)]
    return pd.DataFrame(rows)


def trials_frame(seeds, diverged) -> pd.DataFrame:
    return pd.DataFrame([{**CELL_KEY, "seed": seed, "diverged": flag} for seed, flag in zip(seeds, diverged)])


def test_a_trial_that_reaches_the_threshold_and_diverges_later_counts_as_reached(study):
    """seed_small has noise sd 0.01 and the smoke run's threshold is nRMSE 1.5, i.e. RMSE 0.015.
    Seed 0 reaches it at epoch 20 and diverges at epoch 40 (NaN after it): the event happened at 20
    (4 steps per epoch: 80 steps). Seed 1 never reaches it and is censored at 60 epochs (240 steps);
    seed 2 diverges before reaching it and is censored at its last finite evaluation, epoch 20."""
    epochs = [0, 1, 10, 20, 30, 40, 50, 60]
    evals = evals_frame(
        {
            0: [0.5, 0.4, 0.02, 0.014, 0.013, np.nan, np.nan, np.nan],
            1: [0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03],
            2: [0.5, 0.4, 0.3, 0.2, np.inf, np.nan, np.nan, np.nan],
        },
        epochs,
    )
    trials = trials_frame([0, 1, 2], [True, False, True])
    result = aggregate.progress(trials, evals, study, {})
    assert result["reached_threshold"].tolist() == [True, False, False]
    assert result["steps_to_threshold"].tolist() == [80.0, 240.0, 80.0]
    assert not result["stagnated"].any()  # a diverged trial never stagnates; seed 1 still improves
    # Kaplan-Meier over the three: one event at 80 with 3 at risk -> S = 2/3 > 1/2: median not reached.
    cells = aggregate.summarize_cells(pd.concat([trials, result, metric_columns(3)], axis=1), 0, 200)
    assert cells.loc[0, "reach_rate"] == pytest.approx(1 / 3)
    assert math.isinf(cells.loc[0, "steps_to_threshold_median"])


def metric_columns(n: int, values=None) -> pd.DataFrame:
    """Every metric aggregate.summarize_cells reads, constant 1.0 unless ``values`` gives it."""
    frame = pd.DataFrame({m: np.ones(n) for m in (*aggregate.SUMMARY_METRICS, *aggregate.MEAN_METRICS)})
    for name, column in (values or {}).items():
        frame[name] = column
    return frame


def test_every_statistic_of_a_cell_is_over_the_same_finite_values():
    """Seeds 1, 2, 3, inf, NaN (none diverged): mean, median and IQM are all over 1, 2, 3 (each 2),
    and n_finite is 3. Before, the median kept the inf (median of 1, 2, 3, inf, NaN: NaN)."""
    values = [1.0, 2.0, 3.0, np.inf, np.nan]
    trials = pd.concat(
        [trials_frame(range(5), [False] * 5), metric_columns(5, {"final_test_nrmse": values}),
         pd.DataFrame({"steps_to_threshold": [8.0] * 5, "reached_threshold": [True] * 5, "stagnated": [False] * 5})],
        axis=1,
    )
    row = aggregate.summarize_cells(trials, 0, 500).iloc[0]
    assert row["final_test_nrmse_mean"] == pytest.approx(2.0)
    assert row["final_test_nrmse_median"] == pytest.approx(2.0)
    assert row["final_test_nrmse_iqm"] == pytest.approx(2.0)
    assert row["final_test_nrmse_n_finite"] == 3
    assert row["final_test_nrmse_ci_low"] <= 2.0 <= row["final_test_nrmse_ci_high"]
    assert row["steps_to_threshold_median"] == 8.0 and row["reach_rate"] == 1.0


def test_diverged_seeds_are_left_out_of_the_statistics_but_counted():
    trials = pd.concat(
        [trials_frame(range(4), [False, False, False, True]), metric_columns(4, {"final_test_nrmse": [1.0, 2.0, 6.0, 0.1]}),
         pd.DataFrame({"steps_to_threshold": [8.0] * 4, "reached_threshold": [True] * 4, "stagnated": [True, False, False, False]})],
        axis=1,
    )
    row = aggregate.summarize_cells(trials, 0, 500).iloc[0]
    assert row["n_diverged"] == 1 and row["divergence_rate"] == 0.25
    assert row["final_test_nrmse_mean"] == pytest.approx(3.0) and row["final_test_nrmse_median"] == pytest.approx(2.0)
    assert row["stagnation_rate"] == pytest.approx(1 / 3)


def test_derived_metrics_use_the_noise_and_each_seeds_test_variance(study):
    y_test = np.array([[[0.0], [0.02]], [[0.0], [0.04]]])  # variances 1e-4 and 4e-4
    trials = pd.DataFrame([{**CELL_KEY, "seed": seed, "final_test_rmse": 0.015, "final_validation_rmse": 0.01} for seed in (0, 1)])
    derived = aggregate.derive_metrics(trials, study, {"seed_small": {"y_test": y_test, "ols_rmse_test": np.array([0.012, 0.02]),
                                                                       "ols_rmse_validation": np.array([0.01, 0.01])}})
    np.testing.assert_allclose(derived["final_test_rrmse"], [0.015 / 0.012, 0.015 / 0.02])
    np.testing.assert_allclose(derived["final_test_nrmse"], [1.5, 1.5])
    np.testing.assert_allclose(derived["final_validation_nrmse"], [1.0, 1.0])
    np.testing.assert_allclose(derived["final_test_r2"], [1 - 0.015**2 / 1e-4, 1 - 0.015**2 / 4e-4])
    np.testing.assert_allclose(derived["best_test_r2"], [1 - 0.01**2 / 1e-4, 1 - 0.01**2 / 4e-4])


def test_curves_are_means_with_bands_per_cell_and_point():
    rows = [{**CELL_KEY, "seed": seed, "epoch": epoch, "test_rmse": float(seed + epoch)} for seed in range(4) for epoch in (0, 5)]
    curves = aggregate.summarize_curves(pd.DataFrame(rows), 0, 200, metrics=["test_rmse"])
    assert list(curves.columns) == [*CELL, "metric", "epoch", "mean", "ci_low", "ci_high"]
    np.testing.assert_allclose(curves["mean"], [1.5, 6.5])
    assert (curves["ci_low"] <= curves["mean"]).all() and (curves["mean"] <= curves["ci_high"]).all()


def test_mean_binary_entropy_by_hand():
    # y = 0.5: ln 2 = 0.6931; y = 0 and y = 1: 0 (0 ln 0 = 0). Mean over the 4 values of seed 0:
    # (0.6931 + 0 + 0 + 0.6931) / 4; seed 1 is all 0.5: 0.6931. Mean over seeds: 0.5199.
    y = np.array([[[0.5], [0.0], [1.0], [0.5]], [[0.5], [0.5], [0.5], [0.5]]])
    assert aggregate.mean_binary_entropy(y) == pytest.approx((math.log(2) / 2 + math.log(2)) / 2)
    with pytest.raises(ValueError):
        aggregate.binary_entropy([1.5])


def test_loss_floors_raw_and_standardized():
    y = np.array([[[0.1], [0.3]], [[0.2], [0.6]]])  # standard deviations 0.1 and 0.2
    raw = aggregate.loss_floors(y, 0.01, "raw")
    assert raw["mse"] == pytest.approx(1e-4) and raw["mae"] == pytest.approx(0.01 * math.sqrt(2 / math.pi))
    assert "binary_crossentropy" in raw
    standardized = aggregate.loss_floors(y, 0.01, "standardized")
    assert standardized["mse"] == pytest.approx((1e-4 / 0.01 + 1e-4 / 0.04) / 2)
    assert "binary_crossentropy" not in standardized


def test_metric_matrices_place_each_row_at_its_trial_and_epoch():
    """Rows in any order, a trial missing an epoch (NaN there), a row of a trial not asked for (left
    out), epochs in order; a repeated (trial, epoch) is an error."""
    trial = {column: "x" for column in CELL} | {"learning_rate": 0.1}
    trials = pd.DataFrame([{**trial, "seed": seed} for seed in (2, 0)])
    evals = pd.DataFrame([
        {**trial, "seed": 0, "epoch": 10, "test_rmse": 1.5, "update_norm": 0.5},
        {**trial, "seed": 2, "epoch": 0, "test_rmse": 3.0, "update_norm": np.nan},
        {**trial, "seed": 0, "epoch": 0, "test_rmse": 2.0, "update_norm": np.nan},
        {**trial, "seed": 7, "epoch": 20, "test_rmse": 9.0, "update_norm": 9.0},
    ])
    (rmse, update), epochs = aggregate.metric_matrices(evals, ["test_rmse", "update_norm"], trials)
    np.testing.assert_array_equal(epochs, [0, 10, 20])
    np.testing.assert_array_equal(rmse, [[3.0, np.nan, np.nan], [2.0, 1.5, np.nan]])
    np.testing.assert_array_equal(update, [[np.nan, np.nan, np.nan], [np.nan, 0.5, np.nan]])
    with pytest.raises(ValueError, match="more than one row"):
        aggregate.metric_matrices(pd.concat([evals, evals.iloc[[0]]]), ["test_rmse"], trials)
