"""Time to target: when a group of runs has reached the threshold, stalled, diverged, or is still
undecided; and the verdicts "stuck", "slow" and "undecided at the cap" that follow only from them."""

import math

import numpy as np
import pandas as pd
import pytest

from lossatlas.analysis.claims import evaluate_time
from lossatlas.core.schedule import Horizon
from lossatlas.stats.convergence import group_status, improvement, median_curve
from lossatlas.stats.survival import time_ratio

# Budget 100 epochs, doubling to a cap of 1,600; 4 steps per epoch.
HORIZON = Horizon(budget=100, cap=1600, points_per_doubling=2, stall_improvement=0.01, stall_factor=10, threshold=1.5)
EPOCHS = np.array(HORIZON.schedule(eval_every=50))
STEPS = 4


def curves(values_at, seeds=6):
    """``(seeds, points)``: every seed follows ``values_at(epoch)``, times 1 + a tiny seed offset."""
    return np.array([[values_at(e) * (1 + 0.001 * s) for e in EPOCHS] for s in range(seeds)])


def test_the_schedule_doubles_from_the_budget_to_the_cap():
    assert HORIZON.checkpoints() == [100, 200, 400, 800, 1600]
    assert list(EPOCHS) == [0, 1, 50, 100, 141, 200, 283, 400, 566, 800, 1131, 1600]


def test_a_group_that_reached_the_threshold_is_reached_even_if_it_diverged_later():
    values = curves(lambda e: 10 / (1 + e / 20))  # below 1.5 from epoch ~114
    assert group_status(values, EPOCHS, np.zeros(6, bool), 200, fastest_steps=400, settings=HORIZON, steps_per_epoch=STEPS) == "reached"
    values[:, EPOCHS > 300] = np.nan  # every seed diverged later: the event still happened
    assert group_status(values, EPOCHS, np.ones(6, bool), 400, 400, HORIZON, STEPS) == "reached"


def test_a_flat_group_stalls_only_once_the_horizon_is_long_enough():
    flat = curves(lambda e: 5.0 if e > 0 else 30.0)
    not_diverged = np.zeros(6, bool)
    # fastest cell of the context needed 100 steps: a horizon of 400 epochs = 1,600 steps >= 10 x 100
    assert group_status(flat, EPOCHS, not_diverged, 400, fastest_steps=100, settings=HORIZON, steps_per_epoch=STEPS) == "stalled"
    # the fastest needed 200 steps: 1,600 < 2,000, too short to call anything stalled
    assert group_status(flat, EPOCHS, not_diverged, 400, fastest_steps=200, settings=HORIZON, steps_per_epoch=STEPS) == "running"
    # nothing in the context reached the threshold: there is no scale, so no stall verdict at all
    assert group_status(flat, EPOCHS, not_diverged, 400, fastest_steps=math.inf, settings=HORIZON, steps_per_epoch=STEPS) == "running"


def test_a_group_still_improving_at_the_cap_is_undecided_never_stuck():
    """Improving by a steady 5% per doubling (more than the 1% the stall rule asks) and still above
    the threshold at the cap: the verdict is "undecided at the cap", not "stuck"."""
    slow = curves(lambda e: 20.0 * (1 + e) ** -0.07)
    gain = improvement(np.median(slow, axis=0), EPOCHS, 1600)
    assert 0.01 < gain < 0.1 and np.median(slow[:, -1]) > 1.5
    status = group_status(slow, EPOCHS, np.zeros(6, bool), 1600, fastest_steps=40, settings=HORIZON, steps_per_epoch=STEPS)
    assert status == "undecided"

    steps = np.full(6, 1600.0 * STEPS)
    better = np.full(6, 40.0)
    trials, cells = time_claim_tables(better, steps, better_status="reached", baseline_status=status)
    details = evaluate_time(STUCK, trials, cells, 500, 0)
    assert details.loc[0, "outcome"] == "undecided at the cap" and not details.loc[0, "holds"] and not details.loc[0, "fails"]


def test_a_group_where_most_seeds_diverged_is_diverged():
    values = curves(lambda e: 5.0)
    diverged = np.array([True, True, True, True, False, False])
    assert group_status(values, EPOCHS, diverged, 400, 100, HORIZON, STEPS) == "diverged"


STUCK = {"id": "T", "select": {"experiment": "e"}, "contrast": "loss", "pairs": [["bce", "mse"]], "contexts": [],
         "time_question": "stuck"}
FASTER = dict(STUCK, time_question="faster")
CELL = {"experiment": "e", "dataset": "d", "inputs": "raw", "targets": "raw", "model": "m", "optimizer": "adam",
        "learning_rate": 0.001, "activation": "sigmoid"}


def time_claim_tables(better_steps, baseline_steps, better_status, baseline_status, cap=6400.0):
    rows = []
    for loss, steps in (("bce", better_steps), ("mse", baseline_steps)):
        for seed, value in enumerate(steps):
            rows.append({**CELL, "loss": loss, "seed": seed, "steps_to_threshold": min(value, cap), "reached_threshold": value < cap})
    cells = pd.DataFrame([{**CELL, "loss": "bce", "horizon_status": better_status}, {**CELL, "loss": "mse", "horizon_status": baseline_status}])
    return pd.DataFrame(rows), cells


@pytest.mark.parametrize("baseline_status, outcome, holds", [("stalled", "stuck", True), ("reached", "slow", False)])
def test_stuck_only_where_the_stall_rule_fired_and_slow_where_it_reached_later(baseline_status, outcome, holds):
    better = np.array([40.0, 44, 48, 40, 52, 44])
    baseline = better * 30 if baseline_status == "reached" else np.full(6, np.inf)
    trials, cells = time_claim_tables(better, baseline, "reached", baseline_status)
    row = evaluate_time(STUCK, trials, cells, 500, 0).iloc[0]
    assert row["outcome"] == outcome and row["holds"] == holds and row["fails"] == (not holds)


def test_sooner_needs_the_ratio_ci_above_one():
    better = np.array([40.0, 44, 48, 40, 52, 44])
    trials, cells = time_claim_tables(better, better * 10, "reached", "reached")
    row = evaluate_time(FASTER, trials, cells, 2000, 0).iloc[0]
    assert row["ratio"] == pytest.approx(10.0) and row["ratio_ci_low"] > 1 and row["holds"] and row["outcome"] == "sooner"
    trials, cells = time_claim_tables(better, better[::-1], "reached", "reached")  # the same times, shuffled over seeds
    row = evaluate_time(FASTER, trials, cells, 2000, 0).iloc[0]
    assert row["ratio_ci_low"] <= 1 <= row["ratio_ci_high"] and not row["holds"] and not row["fails"]


def test_time_ratio_by_hand():
    # medians: a 8 steps (times 4, 8, 8, 12, 4: KM median 8), b 80 (ten times each): b / a = 10
    result = time_ratio([4, 8, 8, 12, 4], [True] * 5, [40, 80, 80, 120, 40], [True] * 5, 1000, 0)
    assert (result["median_a"], result["median_b"], result["ratio"]) == (8.0, 80.0, 10.0)
    assert result["ratio_ci_low"] == result["ratio_ci_high"] == 10.0  # every resample keeps the ratio exactly
    never = time_ratio([4, 8, 8, 12, 4], [True] * 5, [40, 80, 80, 120, 40], [False] * 5, 1000, 0)
    assert never["ratio"] == math.inf and never["ratio_ci_low"] == math.inf


@pytest.mark.parametrize("factors, rates", [(None, {0.001, 0.01, 0.1}), ([], {0.001, 0.1})])
def test_the_rates_past_the_budget_are_the_default_the_tuned_and_the_experiments_multiples(factors, rates):
    """Smoke's sweep is 0.001, 0.01, 0.1 (Adam's default 0.001); the validation error below makes 0.1
    each cell's tuned rate. The horizon section's multiples (0.1 and 10) add 0.01, where the sweep has
    it; an experiment's own ``horizon_rate_factors: []`` adds none."""
    from helpers import edited, smoke_config

    from lossatlas.core.results import TRIAL
    from lossatlas.design.config import load_study
    from lossatlas.training.train import horizon_cells

    config = smoke_config() if factors is None else edited(smoke_config(), "experiments.long.horizon_rate_factors", factors)
    study = load_study(config)
    cells = [cell for cell in study.cells if cell.experiment == "long"]
    budget = study.experiments["long"].epochs
    rows = [{**vars(cell), "seed": seed, "epoch": budget, "validation_rmse": 1.0 / cell.learning_rate}
            for cell in cells for seed in range(3)]
    evals = pd.DataFrame(rows)
    diverged = evals[TRIAL].assign(diverged=False)
    chosen = horizon_cells(study, cells, evals, diverged, budget)
    assert {cell.learning_rate for cell in chosen} == rates
    assert {cell.key()[:6] + cell.key()[7:] for cell in chosen} == {cell.key()[:6] + cell.key()[7:] for cell in cells}


def test_median_curve_is_the_median_of_each_points_finite_values():
    """By hand, column by column: an even count averages the middle two, an odd count takes the
    middle one, non-finite values are left out, a column with none is NaN; and it equals
    np.nanmedian bit for bit on random columns of mixed magnitudes."""
    values = np.array([[3.0, np.nan, 1.0, np.inf], [1.0, 5.0, np.inf, np.nan], [2.0, 7.0, -np.inf, np.nan], [10.0, np.nan, 4.0, np.nan]])
    np.testing.assert_array_equal(median_curve(values), [2.5, 6.0, 2.5, np.nan])
    assert median_curve(np.empty((0, 2))).shape == (2,) and np.isnan(median_curve(np.empty((0, 2)))).all()
    rng = np.random.default_rng(0)
    noisy = rng.normal(size=(21, 50)) * 10.0 ** rng.uniform(-6, 6, size=(21, 50))
    noisy[rng.random(noisy.shape) < 0.3] = np.nan
    np.testing.assert_array_equal(median_curve(noisy), np.nanmedian(noisy, axis=0))
