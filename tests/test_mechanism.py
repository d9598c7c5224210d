"""Why a cell fails at the budget, which remedies work best, and the numbers the discussion quotes
(lossatlas.analysis.mechanism), on small hand-made tables of the smoke study, every expected value
worked out by hand in a comment.

The smoke study's budgets: 100 training samples in batches of 32 make ceil(100 / 32) = 4 steps per
epoch, so experiment ``long`` (60 epochs) has a budget of 4 x 60 = 240 steps and ``article``
(20 epochs) 4 x 20 = 80. Default rates: adam 0.001 (so Adam travels at most 0.001 x 240 = 0.24 in
``long``'s budget), sgd 0.01. ``mechanism.saturated_fraction`` is 0.5 (the config's default)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, edited, smoke_config

from lossatlas.analysis import mechanism
from lossatlas.core.results import MECHANISM_CATEGORIES
from lossatlas.design.claimspec import load_claims
from lossatlas.design.config import load_study

#: A cell of the smoke study's tuned, horizon experiment (budget 240 steps), Adam at its default rate.
LONG = {"experiment": "long", "dataset": "seed_small", "inputs": "raw", "targets": "raw", "model": "dense1",
        "optimizer": "adam", "learning_rate": 0.001, "loss": "mse", "activation": "sigmoid"}
#: The smoke claims that compare LONG (S2 and S4: binary cross-entropy against MSE, sigmoid output).
CLAIMS = "S2, S4"


@pytest.fixture(scope="module")
def study():
    return load_study(smoke_config())


def seed(steps, reached, end=math.nan, final=0.2, saturation=0.1, grad=1.0, diverged=False) -> dict:
    """One trial's columns that the mechanism reads: ``steps_to_threshold`` (censored, i.e. the steps
    observed, when not ``reached``), ``end_distance_linf`` (where training ended: past the budget
    in a horizon experiment), ``final_distance_linf`` (at the budget), ``mean_output_saturation``,
    ``initial_grad_norm``, ``diverged``."""
    return {"steps_to_threshold": float(steps), "reached_threshold": reached, "diverged": diverged,
            "end_distance_linf": end, "final_distance_linf": final, "mean_output_saturation": saturation,
            "initial_grad_norm": grad}


def trials(cell: dict, seeds: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{**cell, "seed": index, **values} for index, values in enumerate(seeds)])


def claim_cells(*cells: dict, claims: str = CLAIMS) -> pd.DataFrame:
    """The ``claim_cells`` table of ``cells``, each compared by ``claims``."""
    return pd.DataFrame([{**{key: cell[key] for key in mechanism.KEY}, "claims": claims} for cell in cells])


def explain(study, seeds: list[dict], cell: dict = LONG) -> pd.Series:
    """The mechanism row of the one cell ``cell`` with trials ``seeds``."""
    table = mechanism.mechanism_table(claim_cells(cell), trials(cell, seeds), study)
    assert len(table) == 1
    return table.iloc[0]


# --- mechanism_table: the values of one cell ------------------------------------------------------


def test_mechanism_row_of_one_cell(study):
    seeds = [
        seed(320, True, end=0.9, final=0.20, saturation=0.10, grad=2.0),
        seed(480, True, end=1.1, final=0.22, saturation=0.20, grad=4.0),
        seed(640, True, end=1.5, final=0.23, saturation=0.30, grad=3.0),
        seed(1920, False, end=0.7, final=0.25, saturation=0.05, grad=1.0),  # censored at the cap
        # reached the threshold at 160 steps, then diverged: it counts for the Kaplan-Meier median, but
        # not in any median of distances or measurements (its 5.0 would make the distance needed
        # median(0.9, 1.1, 1.5, 5.0) = 1.3, its 100 the gradient's median 3, its 0.99 the saturation's 0.2)
        seed(160, True, end=5.0, final=5.0, saturation=0.99, grad=100.0, diverged=True),
    ]
    row = explain(study, seeds)
    # Kaplan-Meier over all 5 seeds: at 160 steps 5 at risk, 1 reaches: S = 4/5; at 320, 4 at risk:
    # S = 4/5 x 3/4 = 3/5; at 480, 3 at risk: S = 3/5 x 2/3 = 2/5 <= 1/2, so the median is 480
    assert row["reach_steps"] == 480.0
    # 3 of the 5 seeds reached it and did not diverge (3 x 2 = 6 >= 5): the median end distance of
    # those 3, median(0.9, 1.1, 1.5)
    assert row["required_linf"] == pytest.approx(1.1, rel=1e-12)
    # the 4 that did not diverge, at the budget: median(0.20, 0.22, 0.23, 0.25) = (0.22 + 0.23) / 2
    assert row["moved_linf"] == pytest.approx(0.225, rel=1e-12)
    assert row["capacity_linf"] == pytest.approx(0.24, rel=1e-12)  # Adam: 0.001 x 240 steps
    assert row["mean_saturation"] == pytest.approx(0.15, rel=1e-12)  # median(0.05, 0.10, 0.20, 0.30)
    assert row["initial_grad_norm"] == pytest.approx(2.5, rel=1e-12)  # median(1, 2, 3, 4)
    assert row["budget_steps"] == 240 and row["optimizer_name"] == "adam" and row["claims"] == CLAIMS
    assert {key: row[key] for key in mechanism.KEY} == LONG
    # 480 > 240 steps, saturated 0.15 < 0.5 of the budget, needs 1.1 > Adam's reach 0.24
    assert row["category"] == "step budget"


def test_mechanism_table_keeps_the_claim_cells_order_and_columns(study):
    sgd = {**LONG, "experiment": "article", "optimizer": "sgd", "learning_rate": 0.01}
    both = pd.concat([trials(LONG, [seed(80, True), seed(80, True)]), trials(sgd, [seed(40, True), seed(40, True)])])
    table = mechanism.mechanism_table(claim_cells(sgd, LONG), both, study)
    assert list(table.columns) == [*mechanism.KEY, "claims", "optimizer_name", "budget_steps", "reach_steps",
                                   "required_linf", "moved_linf", "capacity_linf", "mean_saturation",
                                   "initial_grad_norm", "category"]
    assert table["optimizer"].tolist() == ["sgd", "adam"]
    assert table["budget_steps"].tolist() == [80, 240]  # article: 4 x 20 steps; long: 4 x 60
    assert table["optimizer_name"].tolist() == ["sgd", "adam"]
    assert math.isnan(table["capacity_linf"].iloc[0])  # SGD's step has no such bound
    assert table["category"].tolist() == ["reaches within the budget"] * 2  # 40 <= 80 and 80 <= 240


# --- mechanism_table: the category, one test per branch -------------------------------------------


def test_category_reaches_within_the_budget(study):
    # at 240 steps 4 at risk and 2 reach: S = 2/4 = 1/2, so the median is 240 = the budget (<=); it
    # comes first: saturated 0.9 >= 0.5 and needing 1.0 > 0.24 do not count
    seeds = [seed(240, True, end=1.0, saturation=0.9), seed(240, True, end=1.0, saturation=0.9),
             seed(1920, False, saturation=0.9), seed(1920, False, saturation=0.9)]
    row = explain(study, seeds)
    assert row["reach_steps"] == 240.0 and row["required_linf"] == 1.0
    assert row["category"] == "reaches within the budget"


SATURATED = [  # reach: 3/4 at 320, 3/4 x 2/3 = 1/2 at 480 > 240; required median(1.0, 1.2) = 1.1 > 0.24
    seed(320, True, end=1.0, saturation=0.4), seed(480, True, end=1.2, saturation=0.5),
    seed(1920, False, saturation=0.5), seed(1920, False, saturation=0.6),
]


def test_category_saturated_output(study):
    row = explain(study, SATURATED)
    # median saturation (0.5 + 0.5) / 2 = 0.5 >= mechanism.saturated_fraction 0.5; before the step budget
    assert (row["reach_steps"], row["mean_saturation"]) == (480.0, 0.5)
    assert row["required_linf"] == pytest.approx(1.1, rel=1e-12) and row["capacity_linf"] == pytest.approx(0.24, rel=1e-12)
    assert row["category"] == "saturated output"
    # the threshold is the config's: at 0.6, 0.5 is no longer saturated and the step budget applies
    stricter = load_study(edited(smoke_config(), "mechanism.saturated_fraction", 0.6))
    assert explain(stricter, SATURATED)["category"] == "step budget"


def test_category_step_budget(study):
    seeds = [seed(320, True, end=0.2), seed(480, True, end=0.3), seed(1920, False), seed(1920, False)]
    row = explain(study, seeds)
    # reach 480 > 240; saturated 0.1 < 0.5; needs median(0.2, 0.3) = 0.25 > Adam's 0.001 x 240 = 0.24
    assert row["reach_steps"] == 480.0 and row["required_linf"] == pytest.approx(0.25, rel=1e-12)
    assert row["category"] == "step budget"


def test_category_small_gradient(study):
    # SGD at its default rate; the mechanism reads the budget of (long, seed_small), 240 steps, and the
    # optimizer's name, not whether the config's grid trains SGD there
    sgd = {**LONG, "optimizer": "sgd", "learning_rate": 0.01}
    seeds = [seed(320, True, end=0.5, final=0.05), seed(480, True, end=0.7, final=0.06),
             seed(1920, False, final=0.07), seed(1920, False, final=0.08)]
    row = explain(study, seeds, sgd)
    # reach 480 > 240; needs median(0.5, 0.7) = 0.6; travelled median(0.05, ..., 0.08) = 0.065 < 0.6
    assert row["reach_steps"] == 480.0 and row["required_linf"] == pytest.approx(0.6, rel=1e-12)
    assert row["moved_linf"] == pytest.approx(0.065, rel=1e-12) and math.isnan(row["capacity_linf"])
    assert row["optimizer_name"] == "sgd" and row["category"] == "small gradient"


def test_category_undecided(study):
    seeds = [seed(320, True, end=0.3), seed(1920, False), seed(1920, False), seed(1920, False)]
    row = explain(study, seeds)
    # S = 3/4 after 320 steps and never lower: median inf; 1 of 4 reached (1 x 2 < 4): the distance
    # needed is unknown, though the one seed that reached needed 0.3 > 0.24
    assert row["reach_steps"] == math.inf and math.isnan(row["required_linf"])
    assert row["category"] == "undecided"
    # half rule over all seeds, diverged ones included: 2 of 5 reached (2 x 2 = 4 < 5), though the
    # Kaplan-Meier median is finite (the seed that diverged at 160 is censored there: at 320, 4 at
    # risk, S = 3/4; at 480, 3 at risk, S = 1/2): 480 steps, and the distance needed still unknown
    seeds = [seed(320, True, end=0.3), seed(480, True, end=0.4), seed(1920, False), seed(1920, False),
             seed(160, False, diverged=True)]
    row = explain(study, seeds)
    assert row["reach_steps"] == 480.0 and math.isnan(row["required_linf"])
    assert row["category"] == "undecided"


def test_category_other(study):
    # Adam at 0.01 (a rate of long's sweep): reach 0.01 x 240 = 2.4 >= the 0.25 it needs
    fast = {**LONG, "learning_rate": 0.01}
    seeds = [seed(320, True, end=0.2), seed(480, True, end=0.3), seed(1920, False), seed(1920, False)]
    row = explain(study, seeds, fast)
    assert row["capacity_linf"] == pytest.approx(2.4, rel=1e-12) and row["category"] == "other"
    # SGD that travelled median(0.6, 0.7, 0.8, 0.9) = 0.75 >= the 0.6 it needs, and yet is slow
    sgd = {**LONG, "optimizer": "sgd", "learning_rate": 0.01}
    seeds = [seed(320, True, end=0.5, final=0.6), seed(480, True, end=0.7, final=0.7),
             seed(1920, False, final=0.8), seed(1920, False, final=0.9)]
    row = explain(study, seeds, sgd)
    assert row["moved_linf"] == pytest.approx(0.75, rel=1e-12) and row["category"] == "other"


# --- claim_cells --------------------------------------------------------------------------------------


def paired(claim_id: str, select: dict, contrast: str, pair: list, **extra) -> dict:
    return {"id": claim_id, "name": f"claim {claim_id}", "kind": "paired", "select": select, "contrast": contrast,
            "pairs": [pair], "metric": "final_test_nrmse", "contexts": ["optimizer"], **extra}


def test_claim_cells_lists_each_compared_cell_once_at_the_default_rate(study):
    cells = pd.DataFrame([vars(cell) for cell in study.cells])  # the study's cells, in grid order
    article = {"experiment": "article", "dataset": "seed_small", "targets": "raw", "optimizer": "sgd"}
    claims = {"claims": [
        paired("A", {**article, "loss": "mse"}, "activation", ["linear", "sigmoid"]),
        paired("B", {**article, "activation": "sigmoid"}, "loss", ["binary_crossentropy", "mse"]),
        # 4 datasets selected, 2 compared
        paired("C", {"experiment": "article", "targets": "raw", "optimizer": "adam", "loss": "mse", "activation": "linear"},
               "dataset", ["scale_1e-2", "scale_1e0"]),
        # rates of the sweep: skipped, though its select matches cells at the default rate
        paired("D", {"experiment": "long", "loss": "mse", "activation": "sigmoid"}, "learning_rate_factor", ["10", "1"]),
        {"id": "E", "kind": "slope", "select": {"experiment": "article"}, "metric": "initial_grad_norm"},
        # long trains a sweep of 0.001, 0.01, 0.1: only Adam's default 0.001
        paired("F", {"experiment": "long", "activation": "sigmoid"}, "loss", ["binary_crossentropy", "mse"]),
    ]}
    table = mechanism.claim_cells(claims, cells, study, pd.DataFrame(columns=[*mechanism.KEY, "tuned_learning_rate"]))
    assert list(table.columns) == [*mechanism.KEY, "claims"]
    coordinates = ("experiment", "dataset", "optimizer", "learning_rate", "loss", "activation", "claims")
    assert [tuple(row) for row in table[list(coordinates)].itertuples(index=False)] == [
        ("article", "seed_small", "sgd", 0.01, "mse", "linear", "A"),
        ("article", "seed_small", "sgd", 0.01, "mse", "sigmoid", "A, B"),  # compared by both: once
        ("article", "seed_small", "sgd", 0.01, "binary_crossentropy", "sigmoid", "B"),
        ("article", "scale_1e-2", "adam", 0.001, "mse", "linear", "C"),
        ("article", "scale_1e0", "adam", 0.001, "mse", "linear", "C"),
        ("long", "seed_small", "adam", 0.001, "mse", "sigmoid", "F"),
        ("long", "seed_small", "adam", 0.001, "binary_crossentropy", "sigmoid", "F"),
    ]
    assert set(table["inputs"]) == set(table["targets"]) == {"raw"} and set(table["model"]) == {"dense1"}


def test_claim_cells_of_the_smoke_claims(study):
    # S2 and S4 compare the same two cells; S5 contrasts rates (skipped); S1 and S3 are not paired
    claims = load_claims(REPO / "config" / "claims-smoke.yaml")
    cells = pd.DataFrame([vars(cell) for cell in reversed(study.cells)])  # the order of the cells table
    table = mechanism.claim_cells(claims, cells, study, pd.DataFrame())
    assert table[["loss", "learning_rate", "claims"]].values.tolist() == [
        ["binary_crossentropy", 0.001, "S2, S4"], ["mse", 0.001, "S2, S4"]]
    assert set(table["experiment"]) == {"long"} and set(table["activation"]) == {"sigmoid"}


# --- remedy_table -------------------------------------------------------------------------------------


def remedy_trials() -> pd.DataFrame:
    """final_test_nrmse of 4 seeds, sigmoid output unless noted:

    * article, seed_small, raw (claim R1, contexts adam and sgd, default rates):
      adam  mse [2, 4, 8, 3],  BCE [1, 1, 2, 3]            -> mse / BCE = [2, 4, 4, 1]
      sgd   mse [6, 5, 9, 1],  BCE [2, 1, 1, 0.5 diverged] -> [3, 5, 9, (2 if it counted)]
    * long, seed_small, Adam (claims R2, R3), at each rate of the sweep:
      0.001 (default): mse [5, 10, 2.5, 5], BCE [1, 2, 0.5, 1], mse with a linear output [2, 2, 2, 2]
      0.01: mse [100] x 4, BCE [1] x 4 (BCE's tuned rate)
      0.1:  mse [2] x 4 (mse's tuned rate), BCE [0.01] x 4
    """
    values = {
        ("article", "adam", 0.001, "mse", "sigmoid"): [2, 4, 8, 3],
        ("article", "adam", 0.001, "binary_crossentropy", "sigmoid"): [1, 1, 2, 3],
        ("article", "sgd", 0.01, "mse", "sigmoid"): [6, 5, 9, 1],
        ("article", "sgd", 0.01, "binary_crossentropy", "sigmoid"): [2, 1, 1, 0.5],
        ("long", "adam", 0.001, "mse", "sigmoid"): [5, 10, 2.5, 5],
        ("long", "adam", 0.001, "binary_crossentropy", "sigmoid"): [1, 2, 0.5, 1],
        ("long", "adam", 0.001, "mse", "linear"): [2, 2, 2, 2],
        ("long", "adam", 0.01, "mse", "sigmoid"): [100] * 4,
        ("long", "adam", 0.01, "binary_crossentropy", "sigmoid"): [1] * 4,
        ("long", "adam", 0.1, "mse", "sigmoid"): [2] * 4,
        ("long", "adam", 0.1, "binary_crossentropy", "sigmoid"): [0.01] * 4,
    }
    rows = []
    for (experiment, optimizer, rate, loss, activation), nrmse in values.items():
        for index, value in enumerate(nrmse):
            diverged = (experiment, optimizer, loss, index) == ("article", "sgd", "binary_crossentropy", 3)
            rows.append({**LONG, "experiment": experiment, "optimizer": optimizer, "learning_rate": rate, "loss": loss,
                         "activation": activation, "seed": index, "diverged": diverged, "final_test_nrmse": float(value)})
    return pd.DataFrame(rows)


BCE_MSE = ["binary_crossentropy", "mse"]
REMEDIES = {"claims": [
    paired("R1", {"experiment": "article", "dataset": "seed_small", "targets": "raw", "activation": "sigmoid"}, "loss",
           BCE_MSE, remedy=True, rates=["default"]),
    paired("R2", {"experiment": "long", "activation": "sigmoid"}, "loss", BCE_MSE, remedy=True, rates=["default", "tuned"]),
    paired("R3", {"experiment": "long", "loss": "mse"}, "activation", ["linear", "sigmoid"], remedy=True, rates=["default"]),
    paired("N", {"experiment": "long", "activation": "sigmoid"}, "loss", BCE_MSE, rates=["default"]),  # no remedy
]}


def remedy_details() -> pd.DataFrame:
    """claim_details rows: R1 at the budget (holds under adam, fails under sgd: mixed) and by time
    (ratios 2 and 6, both sooner); R2 at the budget (holds at the default rate: supported; neither
    at the tuned rate: undecided) and by time (3, sooner, at the default rate; 0.5, later, at the
    tuned one); R3 none; N at the budget (not a remedy: ignored)."""
    rows = [("R1", "budget", "default", math.nan, True, False), ("R1", "budget", "default", math.nan, False, True),
            ("R1", "time", "default", 2.0, True, False), ("R1", "time", "default", 6.0, True, False),
            ("R2", "budget", "default", math.nan, True, False), ("R2", "budget", "tuned", math.nan, False, False),
            ("R2", "time", "default", 3.0, True, False), ("R2", "time", "tuned", 0.5, False, True),
            ("N", "budget", "default", math.nan, True, False)]
    return pd.DataFrame(rows, columns=["id", "judged", "rate", "ratio", "holds", "fails"])


def tuned_rates() -> pd.DataFrame:
    """The tuned rates of long's sigmoid cells: 0.01 for binary cross-entropy, 0.1 for MSE."""
    base = {key: LONG[key] for key in mechanism.KEY if key != "learning_rate"}
    return pd.DataFrame([{**base, "loss": "binary_crossentropy", "tuned_learning_rate": 0.01},
                         {**base, "loss": "mse", "tuned_learning_rate": 0.1}])


def test_remedy_table(study):
    table = mechanism.remedy_table(REMEDIES, remedy_details(), remedy_trials(), study, tuned_rates(), 500, 3)
    assert list(table.columns) == ["id", "name", "remedy", "rate", "effect", "effect_ci_low", "effect_ci_high", "n_pairs",
                                   "time_ratio_median", "time_sooner", "time_contexts", "verdict_budget",
                                   "verdict_time", "rank"]
    # R1: the ratios of both contexts pooled, the diverged seed dropped: [2, 4, 4, 1, 3, 5, 9],
    # sorted [1, 2, 3, 4, 4, 5, 9]: exp(median of the logs) = 4 (7 pairs; with the diverged seed's 2
    # it would be sqrt(3 x 4) = 3.46). R2 at the default rate: every ratio 5 -> 5; at the tuned rate
    # (BCE at 0.01, mse at 0.1): 2 / 1 = 2 -> 2 (not 200 / 1 or 2 / 0.01 at the other rates).
    # R3 (mse, sigmoid over linear): [5, 10, 2.5, 5] / 2 = [2.5, 5, 1.25, 2.5] -> median of the
    # middle two, exp((log 2.5 + log 2.5) / 2) = 2.5. N, not a remedy, gets its effect (R2's cells:
    # 5) but no rank.
    # Rank: by the effect at the default rate (the article's setting): R2 5 > R1 4 > R3 2.5.
    assert table[["id", "rate", "rank", "n_pairs"]].values.tolist()[:4] == [
        ["R2", "default", 1, 4], ["R2", "tuned", 1, 4], ["R1", "default", 2, 7], ["R3", "default", 3, 4]]
    last = table.iloc[4]
    assert (last["id"], bool(last["remedy"]), math.isnan(last["rank"])) == ("N", False, True)
    assert table["remedy"].tolist() == [True, True, True, True, False]
    assert table["effect"].tolist() == pytest.approx([5.0, 2.0, 4.0, 2.5, 5.0], rel=1e-12)
    assert table["name"].tolist() == ["claim R2", "claim R2", "claim R1", "claim R3", "claim N"]
    r1 = table.iloc[2]
    assert 1.0 <= r1["effect_ci_low"] <= 4.0 <= r1["effect_ci_high"] <= 9.0  # within the pooled ratios
    assert table["effect_ci_low"].iloc[:2].tolist() == pytest.approx([5.0, 2.0], rel=1e-12)  # every ratio equal
    assert table["effect_ci_high"].iloc[:2].tolist() == pytest.approx([5.0, 2.0], rel=1e-12)
    # the verdicts and the time columns, from the details
    assert table["verdict_budget"].tolist() == ["supported", "undecided", "mixed", "", "supported"]
    assert table["verdict_time"].tolist() == ["supported", "not supported", "supported", "", ""]
    assert table["time_sooner"].tolist() == [1, 0, 2, 0, 0] and table["time_contexts"].tolist() == [1, 1, 2, 0, 0]
    ratios = table["time_ratio_median"].tolist()
    assert ratios[:3] == [3.0, 0.5, 4.0] and math.isnan(ratios[3])  # median(2, 6) = 4
    # the bootstrap is seeded: the same table again
    again = mechanism.remedy_table(REMEDIES, remedy_details(), remedy_trials(), study, tuned_rates(), 500, 3)
    pd.testing.assert_frame_equal(table, again)


def test_a_claim_not_marked_remedy_gets_its_effect_but_no_rank(study):
    claims = {"claims": [REMEDIES["claims"][-1]]}
    table = mechanism.remedy_table(claims, remedy_details(), remedy_trials(), study, tuned_rates(), 100, 0)
    assert table["id"].tolist() == ["N"] and not table["remedy"].any() and table["rank"].isna().all()


# --- findings -------------------------------------------------------------------------------------------


def mechanisms_table() -> pd.DataFrame:
    """8 cells (the columns findings reads), budgets 240 (long) and 80 (article)."""
    rows = [
        # category, budget, reach, required, capacity, saturation
        ("reaches within the budget", 240, 200.0, 0.1, 0.24, 0.0),
        ("saturated output", 240, math.inf, math.nan, 0.24, 0.6),
        ("saturated output", 240, 960.0, 1.0, 0.24, 0.8),  # 960 / 240 = 4 budgets
        ("step budget", 240, 480.0, 1.0, 0.24, 0.1),  # 480 / 240 = 2 budgets; needs 1 / 0.24 = 4.1667
        ("step budget", 80, math.inf, 0.5, 0.08, 0.1),  # needs 0.5 / 0.08 = 6.25
        ("small gradient", 80, 400.0, 0.5, math.nan, 0.1),  # 400 / 80 = 5 budgets
        ("undecided", 240, math.inf, math.nan, 0.24, 0.2),
        ("other", 80, 240.0, 0.1, math.nan, 0.3),  # 240 / 80 = 3 budgets
    ]
    return pd.DataFrame(rows, columns=["category", "budget_steps", "reach_steps", "required_linf", "capacity_linf",
                                       "mean_saturation"])


def verdicts_table() -> pd.DataFrame:
    """Budget verdicts: A judged at the default rate only, B changed by tuning, C the same at both."""
    return pd.DataFrame({"id": ["A", "B", "C"], "verdict_budget_default": ["supported", "supported", "mixed"],
                         "verdict_budget_tuned": ["", "mixed", "mixed"]})


def remedies_table() -> pd.DataFrame:
    rows = [("A", "default", 2.0), ("B", "default", 3.0), ("B", "tuned", 1.5), ("C", "tuned", 2.5)]
    return pd.DataFrame([{"id": claim_id, "name": f"claim {claim_id}", "rate": rate, "effect": effect,
                          "effect_ci_low": effect - 0.5, "effect_ci_high": effect + 0.25} for claim_id, rate, effect in rows])


def test_findings(study):
    found = mechanism.findings(mechanisms_table(), verdicts_table(), remedies_table(), study)
    assert found["n_cells"] == 8 and found["budget_steps"] == [80, 240]
    assert found["categories"] == {"reaches within the budget": 1, "saturated output": 2, "step budget": 2,
                                   "small gradient": 1, "undecided": 1, "other": 1}
    assert list(found["categories"]) == list(MECHANISM_CATEGORIES)
    assert found["n_failing"] == 7  # all but the one that reaches within the budget
    # failing cells with a finite reach: 960/240 = 4, 480/240 = 2, 400/80 = 5, 240/80 = 3;
    # median of [2, 3, 4, 5] = 3.5
    assert found["n_reach_later"] == 4 and found["later_budget_multiple_median"] == 3.5
    # step budget cells: 1 / 0.24 = 4.1667 and 0.5 / 0.08 = 6.25: median (4.1667 + 6.25) / 2 = 5.2083
    assert found["step_budget_need_over_reach_median"] == pytest.approx((1 / 0.24 + 6.25) / 2, rel=1e-12)
    assert found["saturated_fraction_median"] == pytest.approx(0.7, rel=1e-12)  # median(0.6, 0.8)
    assert found["saturated_fraction_threshold"] == 0.5
    assert found["cap_steps"] == 1920 and found["threshold"] == 1.5  # the smoke config's
    assert found["verdicts_changed_by_tuning"] == ["B"]  # supported -> mixed; A not judged tuned; C unchanged
    # the best remedy at each rate: the largest effect among the rows at that rate
    assert found["best_remedy"] == {
        "default": {"id": "B", "name": "claim B", "effect": 3.0, "effect_ci_low": 2.5, "effect_ci_high": 3.25},
        "tuned": {"id": "C", "name": "claim C", "effect": 2.5, "effect_ci_low": 2.0, "effect_ci_high": 2.75},
    }
    assert json.loads(json.dumps(found, allow_nan=False)) == found


def test_findings_write_non_finite_numbers_as_none(study):
    mechanisms = mechanisms_table().iloc[[0, 6]]  # reaches within the budget; undecided, never reached
    remedies = pd.DataFrame([{"id": "A", "name": "claim A", "rate": "default", "effect": np.nan,
                              "effect_ci_low": np.nan, "effect_ci_high": np.inf}])
    found = mechanism.findings(mechanisms, verdicts_table(), remedies, study)
    assert (found["n_cells"], found["n_failing"], found["n_reach_later"]) == (2, 1, 0)
    assert found["categories"]["undecided"] == 1 and found["categories"]["step budget"] == 0
    # no cell reaches later, none is short of steps or saturated: NaN medians, written as None
    assert found["later_budget_multiple_median"] is None
    assert found["step_budget_need_over_reach_median"] is None and found["saturated_fraction_median"] is None
    assert found["best_remedy"] == {"default": {"id": "A", "name": "claim A", "effect": None, "effect_ci_low": None,
                                                "effect_ci_high": None}}  # no tuned remedy: no entry
    json.dumps(found, allow_nan=False)  # nothing JSON cannot hold
    assert mechanism.findings(mechanisms, verdicts_table(), pd.DataFrame(), study)["best_remedy"] == {}


def test_findings_of_a_study_whose_claims_compare_no_cell(study):
    """A claims file of slope and rate claims only (the schema allows it): an empty mechanism table
    with its columns, and findings with zero counts (it raised KeyError on 'category')."""
    cells = pd.DataFrame([vars(cell) for cell in study.cells])
    claims = {"claims": [{"id": "S1", "kind": "slope", "select": {"experiment": "article"}, "metric": "initial_grad_norm"}]}
    cells_of_claims = mechanism.claim_cells(claims, cells, study, pd.DataFrame())
    assert cells_of_claims.empty
    mechanisms = mechanism.mechanism_table(cells_of_claims, trials(LONG, [seed(80, True)]), study)
    assert mechanisms.empty and list(mechanisms.columns) == mechanism.COLUMNS
    remedies = mechanism.remedy_table(claims, remedy_details(), remedy_trials(), study, tuned_rates(), 100, 0)
    found = mechanism.findings(mechanisms, verdicts_table().iloc[0:0], remedies, study)
    assert found["n_cells"] == 0 and found["n_failing"] == 0 and found["best_remedy"] == {}
