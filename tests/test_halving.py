"""The time-tuned rate: successive halving over the doubling horizons, and why a group that has not
reached the threshold has not (its diagnosis); on hand-made curves."""

import math

import numpy as np
import pandas as pd
import pytest

from lossatlas.analysis.claims import by_optimizer, evaluate_time
from lossatlas.core.schedule import Horizon
from lossatlas.stats.convergence import (
    diagnose,
    extrapolated_steps,
    improvement_per_doubling,
    ranked_median,
    successive_halving,
)

# Budget 100 epochs, doubling to a cap of 1,600; 4 steps per epoch; the threshold 1.5.
HORIZON = Horizon(budget=100, cap=1600, points_per_doubling=2, stall_improvement=0.01, stall_factor=10, threshold=1.5)
EPOCHS = np.array(HORIZON.schedule(eval_every=50))
STEPS = 4


def curve(values_at, until=1600):
    """``(epochs, median)`` of a rate trained ``until`` an epoch, its median following ``values_at``."""
    epochs = EPOCHS[EPOCHS <= until]
    return epochs, np.array([values_at(e) for e in epochs], float)


def first_reach(epochs, median):
    below = np.flatnonzero(median <= 1.5)
    return float(epochs[below[0]] * STEPS) if below.size else math.inf


def halve(curves):
    reach = {rate: first_reach(*value) for rate, value in curves.items()}
    return successive_halving(curves, reach, HORIZON.checkpoints(), STEPS, HORIZON.stall_improvement)


def test_halving_keeps_the_better_half_at_each_doubling_and_stops_at_the_first_rate_to_reach():
    """Eight rates; rate r's error is 10 / (1 + e r) at epoch e: the larger the rate, the lower."""
    rates = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128]
    # reaches 1.5 when 1 + e r >= 6.67, i.e. e >= 5.67 / r: 0.032 at 177, 0.064 at 89, 0.128 at 44
    curves = {rate: curve(lambda e, r=rate: 10 / (1 + e * r), until=100) for rate in rates}
    result = halve(curves)
    assert result.decided and result.winner == 0.128 and result.last == 100
    # without the two fastest rates nobody reaches by 100 epochs: the better half (4 of 6) goes on
    slower = {rate: curves[rate] for rate in rates[:6]}
    result = halve(slower)
    assert not result.decided and result.contenders == [0.032, 0.016, 0.008]
    assert result.kept_until == {rate: 100 for rate in rates[:6]}


def test_halving_replays_what_was_trained():
    """Trained as the halving asks (the better half to the next checkpoint), the replay names the
    rate that reached the threshold first, and when each rate left."""
    rates = [0.001, 0.002, 0.004, 0.008]
    errors = {rate: (lambda e, r=rate: 10 / (1 + e * r)) for rate in rates}  # 0.008 reaches at 709 epochs
    until = {0.001: 100, 0.002: 100, 0.004: 200, 0.008: 800}
    result = halve({rate: curve(errors[rate], until[rate]) for rate in rates})
    assert result.decided and result.winner == 0.008
    assert result.kept_until == {0.001: 100, 0.002: 100, 0.004: 200, 0.008: 800}


def test_a_high_rate_that_saturates_loses_to_a_lower_rate_that_keeps_descending():
    """Rate 1.0 drops at once to a plateau of 10.6 (the output collapsed: it never moves again);
    rate 0.01 starts far worse (30 at the budget) but falls 60% per doubling and reaches 1.5 at
    about 960 epochs (first seen at the evaluation at 1,131). Ranked by error alone, 1.0 would win every rung; a rate that stopped
    improving ranks after those still improving, so 0.01 stays and wins by time."""
    trap = curve(lambda e: 10.6 if e > 0 else 50.0)
    slow = curve(lambda e: 50.0 if e == 0 else 30.0 * (e / 100) ** -math.log2(1 / 0.4))
    tiny = curve(lambda e: 50.0 - 0.001 * e)
    result = halve({1.0: trap, 0.01: slow, 0.0001: tiny})
    assert result.decided and result.winner == 0.01
    assert result.reach[0.01] == 1131 * STEPS
    assert result.kept_until == {0.0001: 100, 1.0: 200, 0.01: 1600}  # 1.0 outranks 0.0001 (both flat) at the budget


def test_a_rate_that_diverged_ranks_last():
    assert list(ranked_median(np.array([[1.0, np.nan], [2.0, np.inf], [3.0, 4.0]]))) == [2.0, np.inf]
    good, bad = curve(lambda e: 5.0 / (1 + e / 1000)), curve(lambda e: np.inf if e > 50 else 3.0)
    result = halve({0.1: bad, 0.01: good})
    assert result.contenders[0] == 0.01


def test_improvement_per_doubling_and_the_extrapolated_steps():
    # 10 * (e / 100) ** -0.5: each doubling multiplies the error by 2 ** -0.5, an improvement of 29%
    epochs, median = curve(lambda e: 10 * (max(e, 1) / 100) ** -0.5)
    assert improvement_per_doubling(median, epochs, 1600) == pytest.approx(1 - 2**-0.5)
    # at 1,600 epochs the error is 2.5; it reaches 1.5 at e = 100 * (10 / 1.5) ** 2 = 4,444 epochs
    assert extrapolated_steps(median, epochs, 1600, 1.5, STEPS) == pytest.approx(4444.44 * STEPS, rel=1e-3)
    flat = np.full(len(epochs), 3.0)
    assert improvement_per_doubling(flat, epochs, 1600) == 0 and math.isnan(extrapolated_steps(flat, epochs, 1600, 1.5, STEPS))


@pytest.mark.parametrize(
    "status, gain, saturation, ratio, expected",
    [
        ("reached", 0.0, 1.0, 0.0, ""),
        ("diverged", 0.0, 0.0, 1.0, "diverged"),
        ("undecided", 0.03, 0.9, 0.1, "still descending"),  # improving: whatever else holds
        ("stalled", 0.001, 0.9, 1.0, "saturated output"),  # most samples saturated
        ("stalled", 0.03, 0.9, 1.0, "saturated output"),  # fell over the doubling before, not the last: a stall
        ("stalled", 0.001, 0.1, 0.05, "vanishing step"),  # the update shrank to 5% of the first epoch's
        ("stalled", 0.001, 0.1, 0.8, "step-size floor"),  # updates as large as ever, error flat
        ("undecided", math.nan, math.nan, math.nan, "step-size floor"),
    ],
)
def test_each_diagnosis(status, gain, saturation, ratio, expected):
    assert diagnose(status, gain, saturation, ratio, 0.01) == expected


CELL = {"experiment": "e", "dataset": "d", "inputs": "raw", "targets": "raw", "model": "m", "learning_rate": 0.001, "activation": "sigmoid"}
STUCK = {"id": "T", "kind": "paired", "select": {"experiment": "e"}, "contrast": "loss", "pairs": [["bce", "mse"]],
         "contexts": ["dataset", "optimizer"], "time_question": "stuck"}


def test_per_optimizer_verdicts_of_a_hand_made_claim():
    """Two datasets x two optimizers. Under Adam MSE reaches the target in both datasets, 2x and 3x
    later than BCE: slow, so the claim "MSE is stuck" is not supported there. Under SGD MSE is still
    descending at the cap in both: undecided. Overall: undecided."""
    rows, cells = [], []
    for dataset in ("d1", "d2"):
        for optimizer in ("adam", "sgd"):
            factor = {"d1": 2.0, "d2": 3.0}[dataset]
            for loss in ("bce", "mse"):
                cell = {**CELL, "dataset": dataset, "optimizer": optimizer, "loss": loss}
                reached = loss == "bce" or optimizer == "adam"
                for seed in range(6):
                    steps = 100.0 * (1 + 0.1 * seed) * (factor if loss == "mse" else 1.0)
                    rows.append({**cell, "seed": seed, "steps_to_threshold": steps if reached else 6400.0, "reached_threshold": reached})
                cells.append({**cell, "horizon_status": "reached" if reached else "undecided", "horizon_steps": 6400.0,
                              "diagnosis": "" if reached else "still descending", "improvement_per_doubling": 0.031})
    detail = evaluate_time(STUCK, pd.DataFrame(rows), pd.DataFrame(cells), 500, 0)
    assert list(detail["optimizer"]) == ["adam", "sgd", "adam", "sgd"] and list(detail["dataset"]) == ["d1", "d1", "d2", "d2"]
    text = by_optimizer(STUCK, detail, "time")
    assert text == (
        "adam: not supported (slow: 2 of 2 contexts reach the target, taking 2.0–3.0× the steps of bce); "
        "sgd: undecided (still descending, 3.1% per doubling at 6,400 steps)"
    )
    assert by_optimizer(dict(STUCK, contexts=["dataset"]), detail, "time") == ""


def test_a_cell_trapped_at_its_budget_tuned_rate_is_slow_at_its_time_tuned_rate():
    """MSE + sigmoid: the budget-tuned rate 1.0 saturates the output and stalls; at 0.01, its
    time-tuned rate, it reaches the target after about 2,000 steps, four times BCE's 500. Judged at
    the budget-tuned rate the claim "MSE is stuck" holds (stuck: saturated output); at the
    time-tuned rate, as the time verdicts are, it fails: slow."""
    from lossatlas.design.views import at_tuned

    base = {**CELL, "optimizer": "adam", "dataset": "d1"}
    levels = [("mse", 1.0, math.inf, "stalled", "saturated output"), ("mse", 0.01, 2000.0, "reached", ""),
              ("bce", 0.1, 500.0, "reached", "")]
    rows, cells = [], []
    for loss, rate, steps, status, diagnosis in levels:
        cell = {**base, "loss": loss, "learning_rate": rate}
        for seed in range(6):
            value = steps * (1 + 0.05 * seed)
            rows.append({**cell, "seed": seed, "steps_to_threshold": value if math.isfinite(value) else 6400.0,
                         "reached_threshold": math.isfinite(value)})
        cells.append({**cell, "horizon_status": status, "diagnosis": diagnosis, "improvement_per_doubling": 0.0, "horizon_steps": 6400.0})
    trials, cells = pd.DataFrame(rows), pd.DataFrame(cells)
    keys = {k: v for k, v in base.items() if k != "learning_rate"}
    tuned = pd.DataFrame([{**keys, "loss": "mse", "tuned_learning_rate": 1.0, "time_tuned_learning_rate": 0.01},
                          {**keys, "loss": "bce", "tuned_learning_rate": 0.1, "time_tuned_learning_rate": 0.1}])
    claim = dict(STUCK, contexts=["dataset"])
    at_budget_rate = evaluate_time(claim, at_tuned(trials, tuned), at_tuned(cells, tuned), 500, 0).iloc[0]
    assert at_budget_rate["outcome"] == "stuck" and at_budget_rate["baseline_diagnosis"] == "saturated output"
    at_time_rate = evaluate_time(claim, at_tuned(trials, tuned, "time"), at_tuned(cells, tuned, "time"), 500, 0).iloc[0]
    assert at_time_rate["outcome"] == "slow" and at_time_rate["ratio"] == pytest.approx(4.0)


def test_sooner_where_only_the_better_level_reaches_the_target_says_so():
    """BCE reaches the target in both datasets, MSE never (an infinite ratio): sooner, and the phrase
    says so instead of an undefined ratio."""
    rows, cells = [], []
    for dataset in ("d1", "d2"):
        for loss in ("bce", "mse"):
            cell = {**CELL, "dataset": dataset, "optimizer": "sgd", "loss": loss}
            reached = loss == "bce"
            for seed in range(6):
                rows.append({**cell, "seed": seed, "steps_to_threshold": 100.0 + seed if reached else 6400.0, "reached_threshold": reached})
            cells.append({**cell, "horizon_status": "reached" if reached else "stalled", "horizon_steps": 6400.0,
                          "diagnosis": "" if reached else "saturated output", "improvement_per_doubling": 0.0})
    faster = dict(STUCK, time_question="faster")
    detail = evaluate_time(faster, pd.DataFrame(rows), pd.DataFrame(cells), 500, 0)
    assert by_optimizer(faster, detail, "time") == "sgd: supported (sooner in 2 of 2 contexts, only bce reaches the target in 2)"
