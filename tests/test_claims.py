"""Claims get their verdicts from the data: supported, not supported or mixed, by the stated rule."""

import numpy as np
import pandas as pd
import pytest
import yaml

from lossatlas.analysis import article_summary, log_log_slope, scale_slopes
from lossatlas.claims import evaluate_claims, load_claims

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
                {"experiment": "e", "dataset": label, "targets": "raw", "model": "m", "optimizer": "adam", "loss": "mse",
                 "activation": "linear", "seed": seed, "diverged": False, "grad": (1 + 0.01 * seed) * scale**exponent}
            )
    return pd.DataFrame(rows)


def claims(*items):
    return {"alpha": 0.05, "claims": list(items)}


PAIRED = {
    "id": "P", "name": "linear beats sigmoid", "claim": "c", "article": "a", "kind": "paired",
    "select": {"experiment": "e", "loss": "mse"}, "contrast": "activation", "pairs": [["linear", "sigmoid"]],
    "metric": "final_test_nrmse", "contexts": ["optimizer"],
}
RUNS = pd.DataFrame({"example": ["example 1"] * 10, "seed": range(10), "final_loss": [0.5] * 9 + [5.0],
                     "train_mse": 0.0, "test_mse": 0.0, "test_rmse": 0.0})


def test_paired_claim_is_mixed_when_it_holds_in_one_context_only():
    verdicts, details = evaluate_claims(claims(PAIRED), toy_trials(), RUNS, {}, 2000, 0)
    assert verdicts.loc[0, "verdict"] == "mixed" and verdicts.loc[0, "holds_in"] == "optimizer adam"
    adam = details[details["context"] == "optimizer adam"].iloc[0]
    assert adam["probability_of_improvement"] == 1.0 and adam["p_holm"] < 0.05  # 12 seeds: exact p = 2/4096, x2 (Holm)
    only_adam = dict(PAIRED, select={"experiment": "e", "optimizer": "adam"})
    assert evaluate_claims(claims(only_adam), toy_trials(), RUNS, {}, 2000, 0)[0].loc[0, "verdict"] == "supported"
    reversed_pair = dict(only_adam, pairs=[["sigmoid", "linear"]])
    assert evaluate_claims(claims(reversed_pair), toy_trials(), RUNS, {}, 2000, 0)[0].loc[0, "verdict"] == "not supported"


def test_slope_claim_uses_the_ci_of_the_log_log_slope():
    slope_claim = {"id": "S", "name": "n", "claim": "c", "article": "a", "kind": "slope", "select": {"loss": "mse"},
                   "metric": "grad", "contexts": ["optimizer"], "expected_slope": [0.8, 1.2]}
    scales = {"s1": 0.01, "s2": 1.0, "s3": 100.0}
    for exponent, verdict in ((1.0, "supported"), (0.0, "not supported")):
        verdicts, details = evaluate_claims(claims(slope_claim), scale_trials(exponent), RUNS, scales, 2000, 0)
        assert verdicts.loc[0, "verdict"] == verdict
        assert details.loc[0, "slope"] == pytest.approx(exponent, abs=1e-9)


def test_rate_claim_counts_runs_below_the_threshold():
    rate_claim = {"id": "R", "name": "n", "claim": "c", "article": "a", "kind": "rate", "select": {"example": "example 1"},
                  "metric": "final_loss", "at_most": 2.0, "required_rate": 0.9}
    verdicts, details = evaluate_claims(claims(rate_claim), toy_trials(), RUNS, {}, 2000, 0)
    assert verdicts.loc[0, "verdict"] == "supported" and details.loc[0, "rate"] == 0.9  # 9 of 10
    stricter = dict(rate_claim, required_rate=0.95)
    assert evaluate_claims(claims(stricter), toy_trials(), RUNS, {}, 2000, 0)[0].loc[0, "verdict"] == "not supported"


def test_a_claim_that_selects_nothing_or_misses_a_key_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="matches no results"):
        evaluate_claims(claims(dict(PAIRED, select={"experiment": "nope"})), toy_trials(), RUNS, {}, 100, 0)
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(claims({k: v for k, v in PAIRED.items() if k != "pairs"})))
    with pytest.raises(ValueError, match=r"claims\[0\] \(P\): missing key 'pairs'"):
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
