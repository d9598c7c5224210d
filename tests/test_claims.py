"""Claims get their verdicts from the data: supported, not supported, mixed or undecided, by the
stated rule."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from lossatlas.analysis.analyses import article_summary, log_log_slope, scale_slopes
from lossatlas.analysis.claims import VERDICTS, evaluate_claims, verdict
from lossatlas.analysis.wording import decision_rule
from lossatlas.design.claimspec import load_claims

STUDY = SimpleNamespace(config={"statistics": {"alpha": 0.05}},
                        optimizers={"adam": SimpleNamespace(learning_rate=0.001), "sgd": SimpleNamespace(learning_rate=0.01)})

SEEDS = 12


def toy_trials():
    """Two optimizers x two activations, 12 paired seeds. Under adam, linear beats sigmoid on every
    seed; under sgd the two are the same up to seed-to-seed noise of either sign."""
    rng = np.random.default_rng(0)
    rows = []
    for optimizer in ("adam", "sgd"):
        base = rng.uniform(1, 2, SEEDS)
        for activation in ("linear", "sigmoid"):
            shift = 1.0 if (optimizer == "adam" and activation == "sigmoid") else 0.0
            noise = rng.normal(0, 0.01, SEEDS) if optimizer == "sgd" else 0.0
            for seed in range(SEEDS):
                rows.append(
                    {"experiment": "e", "dataset": "d", "targets": "raw", "model": "m", "optimizer": optimizer,
                     "loss": "mse", "activation": activation, "seed": seed, "diverged": False,
                     "final_test_nrmse": base[seed] + shift + (noise[seed] if optimizer == "sgd" else 0.0)}
                )
    return pd.DataFrame(rows)


def scale_trials(exponent):
    rows = []
    for label, scale in (("s1", 0.01), ("s2", 1.0), ("s3", 100.0)):
        for seed in range(SEEDS):
            rows.append(
                {"experiment": "e", "dataset": label, "inputs": "raw", "targets": "raw", "model": "m", "optimizer": "adam", "loss": "mse",
                 "activation": "linear", "seed": seed, "diverged": False, "grad": (1 + 0.01 * seed) * scale**exponent}
            )
    return pd.DataFrame(rows)


def claims(*items):
    return {"claims": list(items)}


def evaluate(document, trials, slopes, resamples, cells=None):
    """evaluate_claims on hand-made trials (every coordinate filled in: raw inputs, each optimizer's
    default rate) with the statistics settings of :data:`STUDY`."""
    trials = trials.assign(inputs="raw", learning_rate=trials["optimizer"].map({"adam": 0.001, "sgd": 0.01}))
    tuned = pd.DataFrame(columns=["tuned_learning_rate"])
    return evaluate_claims(document, trials, pd.DataFrame() if cells is None else cells, RUNS, slopes, STUDY, tuned, resamples, 0)


PAIRED = {
    "id": "P", "name": "linear beats sigmoid", "claim": "c", "article": "a", "kind": "paired",
    "select": {"experiment": "e", "loss": "mse"}, "contrast": "activation", "pairs": [["linear", "sigmoid"]],
    "metric": "final_test_nrmse", "contexts": ["optimizer"],
}
RUNS = pd.DataFrame({"example": ["example 1"] * 10, "seed": range(10), "final_loss": [0.5] * 9 + [5.0],
                     "train_mse": 0.0, "test_mse": 0.0, "test_rmse": 0.0})


def test_paired_claim_is_mixed_when_it_holds_in_one_context_only():
    verdicts, details = evaluate(claims(PAIRED), toy_trials(), NO_SLOPES, 2000)
    assert verdicts.loc[0, "verdict"] == "mixed" and verdicts.loc[0, "holds_in"] == "optimizer adam"
    adam = details[details["context"] == "optimizer adam"].iloc[0]
    assert adam["probability_of_improvement"] == 1.0 and adam["p_holm"] < 0.05  # 12 seeds: exact p = 2/4096, x2 (Holm)
    only_adam = dict(PAIRED, select={"experiment": "e", "optimizer": "adam"})
    assert evaluate(claims(only_adam), toy_trials(), NO_SLOPES, 2000)[0].loc[0, "verdict"] == "supported"
    reversed_pair = dict(only_adam, pairs=[["sigmoid", "linear"]])
    assert evaluate(claims(reversed_pair), toy_trials(), NO_SLOPES, 2000)[0].loc[0, "verdict"] == "not supported"


def outlier_trials():
    """Under adam, 12 seeds: linear = seed + 1 and sigmoid = seed + 2 (linear lower by exactly 1),
    except on seed 0, where linear is an outlier at 52 (worse by 50)."""
    rows = []
    for seed in range(SEEDS):
        for activation, value in (("linear", 52.0 if seed == 0 else seed + 1.0), ("sigmoid", seed + 2.0)):
            rows.append(
                {"experiment": "e", "dataset": "d", "targets": "raw", "model": "m", "optimizer": "adam", "loss": "mse",
                 "activation": activation, "seed": seed, "diverged": False, "final_test_nrmse": value}
            )
    return pd.DataFrame(rows)


def test_paired_claim_direction_follows_hodges_lehmann_not_the_mean():
    # linear - sigmoid = [+50, -1 x 11]: the mean is (50 - 11) / 12 = +3.25 > 0, but 11 of 12 seeds
    # favour linear; the signed-rank test (p = 136 / 4096 = 0.0332, one test so Holm changes nothing,
    # see test_compare) and its Hodges-Lehmann estimate (-1: 66 of the 78 Walsh averages are -1)
    # agree that linear is lower. The claim holds.
    claim = dict(PAIRED, select={"experiment": "e", "optimizer": "adam"})
    verdicts, details = evaluate(claims(claim), outlier_trials(), NO_SLOPES, 2000)
    row = details.iloc[0]
    assert row["mean_difference"] == pytest.approx(3.25)
    assert row["hodges_lehmann"] == -1.0 and row["median_difference"] == -1.0
    assert row["p_holm"] == pytest.approx(136 / 4096)
    assert row["holds"] and not row["fails"]
    assert verdicts.loc[0, "verdict"] == "supported"
    assert "Hodges-Lehmann" in verdicts.loc[0, "rule"]


def test_slope_claim_uses_the_ci_of_the_log_log_slope():
    slope_claim = {"id": "S", "name": "n", "claim": "c", "article": "a", "kind": "slope", "select": {"loss": "mse"},
                   "metric": "grad", "contexts": ["optimizer"], "expected_slope": [0.8, 1.2]}
    scales = {"s1": 0.01, "s2": 1.0, "s3": 100.0}
    for exponent, expected in ((1.0, "supported"), (0.0, "not supported")):
        slopes = scale_slopes(scale_trials(exponent), scales, "grad", 2000, 0)
        verdicts, details = evaluate(claims(slope_claim), scale_trials(exponent), slopes, 2000)
        assert verdicts.loc[0, "verdict"] == expected
        assert details.loc[0, "slope"] == pytest.approx(exponent, abs=1e-9)


NO_SLOPES = pd.DataFrame(columns=["metric"])
RATE = {"id": "R", "name": "n", "claim": "c", "article": "a", "kind": "rate", "select": {"example": "example 1"},
        "metric": "final_loss", "at_most": 2.0, "required_rate": 0.9}


def test_rate_claim_is_decided_by_the_wilson_interval():
    # 9 of 10 runs reach the threshold: rate 0.9. Wilson, z = 1.96, z^2 = 3.8415, n = 10:
    # centre (0.9 + 3.8415 / 20) / (1 + 3.8415 / 10) = 1.09207 / 1.38415 = 0.78897;
    # half-width 1.96 / 1.38415 * sqrt(0.9 * 0.1 / 10 + 3.8415 / 400) = 1.41600 * 0.13640 = 0.19314;
    # CI [0.5958, 0.9821].
    verdicts, details = evaluate(claims(RATE), toy_trials(), NO_SLOPES, 2000)
    assert details.loc[0, "success_rate"] == 0.9 and details.loc[0, "successes"] == 9 and details.loc[0, "n"] == 10
    assert details.loc[0, "rate_ci_low"] == pytest.approx(0.5958, abs=1e-4)
    assert details.loc[0, "rate_ci_high"] == pytest.approx(0.9821, abs=1e-4)
    # Required 0.9: the CI straddles it (0.5958 < 0.9 <= 0.9821): undecided, not supported as the bare
    # rate 0.9 >= 0.9 used to say.
    assert verdicts.loc[0, "verdict"] == "undecided" and verdicts.loc[0, "holds_in"] == "nowhere"
    assert not details.loc[0, "holds"] and not details.loc[0, "fails"]
    # Required 0.95: still inside the CI: undecided (it used to be "not supported", 0.9 < 0.95).
    assert evaluate(claims(dict(RATE, required_rate=0.95)), toy_trials(), NO_SLOPES, 2000)[0].loc[0, "verdict"] == "undecided"
    # Required 0.5 <= 0.5958, the lower bound: supported. Required 0.99 > 0.9821, the upper bound: not supported.
    assert evaluate(claims(dict(RATE, required_rate=0.5)), toy_trials(), NO_SLOPES, 2000)[0].loc[0, "verdict"] == "supported"
    assert evaluate(claims(dict(RATE, required_rate=0.99)), toy_trials(), NO_SLOPES, 2000)[0].loc[0, "verdict"] == "not supported"
    rule = decision_rule(RATE, 0.05)
    assert "Wilson" in rule and "lower bound" in rule and "upper bound" in rule and "undecided" in rule
    with pytest.raises(ValueError, match="required_rate"):
        evaluate(claims(dict(RATE, required_rate=1.5)), toy_trials(), NO_SLOPES, 2000)


def test_verdict_rule_for_each_branch():
    assert VERDICTS == ("supported", "not supported", "mixed", "undecided")
    # holds in every context
    assert verdict([True, True], [False, False]) == "supported"
    # fails in every context
    assert verdict([False, False], [True, True]) == "not supported"
    # holds in one, fails in another; an undecided third cannot change that
    assert verdict([True, False], [False, True]) == "mixed"
    assert verdict([True, False, False], [False, True, False]) == "mixed"
    # an undecided context (neither holds nor fails) that could still make it supported or mixed...
    assert verdict([True, False], [False, False]) == "undecided"
    # ... or not supported or mixed ...
    assert verdict([False, False], [True, False]) == "undecided"
    # ... or any of the three
    assert verdict([False], [False]) == "undecided"
    for holds, fails in (([], []), ([True], [True]), ([True], [False, False])):
        with pytest.raises(ValueError):
            verdict(holds, fails)


def test_a_claim_that_selects_nothing_or_misses_a_key_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="matches no results"):
        evaluate(claims(dict(PAIRED, select={"experiment": "nope"})), toy_trials(), NO_SLOPES, 100)
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(claims({k: v for k, v in PAIRED.items() if k != "pairs"})))
    with pytest.raises(ValueError, match="claim P: key 'pairs': missing"):
        load_claims(path)


def test_the_repository_claims_files_are_valid():
    from helpers import REPO

    for name in ("claims.yaml", "claims-smoke.yaml"):
        document = load_claims(REPO / "config" / name)
        assert len(document["claims"]) >= 3


def test_log_log_slope_by_hand():
    scales = np.array([0.1, 1.0, 10.0])
    values = np.array([[0.2, 2.0, 20.0], [0.4, 4.0, 40.0]])  # means 0.3, 3, 30: slope exactly 1
    assert log_log_slope(scales, values) == pytest.approx(1.0)
    assert log_log_slope(scales, np.array([[1.0, 1.0, 1.0]])) == pytest.approx(0.0)
    assert np.isnan(log_log_slope(scales, np.array([[1.0, np.nan, np.nan]])))
    table = scale_slopes(scale_trials(0.5), {"s1": 0.01, "s2": 1.0, "s3": 100.0}, "grad", 1000, 0)
    assert table.loc[0, "slope"] == pytest.approx(0.5) and table.loc[0, "n_scales"] == 3


def test_article_summary_places_the_printed_loss_in_the_seed_distribution():
    runs = pd.DataFrame({"example": "example 2", "seed": range(40), "final_loss": np.linspace(0.01, 0.2, 40),
                         "train_mse": 0.0, "test_mse": 0.0, "test_rmse": 0.0})
    summary = article_summary(runs).iloc[0]
    assert summary["printed_loss"] == pytest.approx(0.01331729521339747)
    # linspace(0.01, 0.2, 40) steps by 0.2/40 - 0.01/40 = 0.004872: its 2.5% quantile is 0.01475 > 0.01332
    assert summary["final_loss_low"] == pytest.approx(0.01475) and not summary["printed_inside"]
    assert summary["printed_quantile"] == 1 / 40  # only 0.01 lies below the printed value
