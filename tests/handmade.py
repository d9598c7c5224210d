"""Hand-made results tables, in the columns of lossatlas.core.results and of the analysis stage, for the
figure and report tests (no workflow run)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SUMMARY = ("final_test_rmse", "final_test_nrmse", "final_test_mae", "final_train_loss")
MEANS = ("final_test_r2", "best_test_r2", "initial_grad_norm", "initial_output_grad_abs", "first_epoch_update_norm",
         "final_output_saturation", "mean_output_saturation")


#: The rate a tuned sweep of the smoke study was extended to (a cell past the sweep: in the results only).
EXTENDED_RATE = 1.0
HORIZON_STATUS = ("undecided", "reached", "stalled")


def cells_table(study) -> pd.DataFrame:
    """A cells table (columns of cells.csv) for every cell of ``study``, with made-up numbers, in
    reverse grid order, and one cell past a tuned sweep (the first binary cross-entropy cell of a
    tuned experiment at :data:`EXTENDED_RATE`) last; reach flags as cells.csv holds them (NaN when none); horizon
    status and steps for the cells of horizon experiments (empty for the others, and for the
    extended cell)."""
    import dataclasses

    rows = []
    tuned = [c for c in study.cells if study.experiments[c.experiment].tune]
    extended = next((c for c in tuned if c.loss == "binary_crossentropy"), tuned[0] if tuned else None)
    cells = list(reversed(study.cells)) + ([dataclasses.replace(extended, learning_rate=EXTENDED_RATE)] if extended else [])
    for index, cell in enumerate(cells):
        row = {**vars(cell), "n_seeds": 4, "n_diverged": index % 2, "divergence_rate": (index % 2) / 4}
        row["reach_flag"] = study.flags.get(cell, np.nan)
        horizon = study.experiments[cell.experiment].horizon and cell.learning_rate != EXTENDED_RATE
        row["horizon_status"] = HORIZON_STATUS[index % 3] if horizon else np.nan
        row["horizon_steps"] = 960.0 * (1 + index % 2) if horizon else np.nan
        status = row["horizon_status"]
        row["diagnosis"] = {"undecided": "still descending", "stalled": "saturated output"}.get(status, "") if horizon else np.nan
        row.update(improvement_per_doubling=0.05 if horizon else np.nan, end_output_saturation=0.9 if horizon else np.nan,
                   update_ratio=0.5 if horizon else np.nan, extrapolated_steps=5000.0 if status == "undecided" else np.nan,
                   time_tuned=False, validation_steps_to_threshold_median=np.nan, contention_steps=np.nan)
        row.update(stagnation_rate=0.25 * (index % 3), reach_rate=1 - 0.25 * (index % 3),
                   steps_to_threshold_median=math.inf if index % 3 == 2 else 8.0 * (index + 1))
        for offset, metric in enumerate(("final_test_rmse", "final_test_nrmse", "final_test_mae", "final_train_loss")):
            mean = 1.23456789 * (index + 1) + 100 * offset
            row.update({f"{metric}_mean": mean, f"{metric}_ci_low": mean - 0.5, f"{metric}_ci_high": mean + 0.25})
            row[f"{metric}_median"] = mean * 0.9
            row[f"{metric}_iqm"] = mean * 0.95
            row[f"{metric}_n_finite"] = 4 - index % 2
        scale = study.datasets[cell.dataset].scale
        row.update(final_test_r2_mean=0.5 - 0.01 * index, best_test_r2_mean=0.9, initial_grad_norm_mean=scale,
                   initial_output_grad_abs_mean=scale / 2, first_epoch_update_norm_mean=1e-3 if cell.optimizer == "adam" else scale,
                   final_output_saturation_mean=0.0, mean_output_saturation_mean=0.1)
        rows.append(row)
    return pd.DataFrame(rows)


def curves_table(dataset: str = "seed_small", metrics=("train_loss", "test_rmse"), epochs=(0, 1, 2, 3),
                 learning_rate: float = 0.001) -> pd.DataFrame:
    """A curves table: two losses x two activations at the evaluation points ``epochs`` (0 is the
    initial weights), each of ``metrics``, raw inputs, Adam at ``learning_rate``; train_loss and
    update_norm have no value at epoch 0."""
    rows = []
    for loss in ("mse", "binary_crossentropy"):
        for activation in ("linear", "sigmoid"):
            for metric in metrics:
                for epoch in epochs:
                    if epoch == 0 and metric in ("train_loss", "update_norm"):
                        continue
                    mean = 1.0 / (epoch + 1) + (activation == "sigmoid")
                    rows.append(
                        dict(experiment="article", dataset=dataset, inputs="raw", targets="raw", model="dense1",
                             optimizer="adam", learning_rate=learning_rate, loss=loss, activation=activation,
                             metric=metric, epoch=epoch, mean=mean, ci_low=mean * 0.9, ci_high=mean * 1.1)
                    )
    return pd.DataFrame(rows)


def floors_table() -> pd.DataFrame:
    """A floors table (results/aggregate/floors.csv) for seed_small in experiment article."""
    return pd.DataFrame(
        [
            {"experiment": "article", "dataset": "seed_small", "targets": "raw", "loss": "mse", "floor": 0.0001},
            {"experiment": "article", "dataset": "seed_small", "targets": "raw", "loss": "binary_crossentropy", "floor": 0.2345678},
            {"experiment": "article", "dataset": "seed_small", "targets": "standardized", "loss": "mse", "floor": 0.25},
            {"experiment": "long", "dataset": "seed_small", "targets": "raw", "loss": "mse", "floor": 0.5},
        ]
    )


def example_comparison() -> pd.DataFrame:
    """results/analysis/article_examples_2_vs_3.csv: one row, examples 3 against 2."""
    return pd.DataFrame([{
        "n_pairs": 5, "n_dropped": 0, "median_a": 0.012, "median_b": 0.036, "mean_difference": -0.024,
        "mean_difference_ci_low": -0.03, "mean_difference_ci_high": -0.018, "median_difference": -0.023,
        "hodges_lehmann": -0.0235, "wilcoxon_statistic": 0.0, "p_value": 0.0625, "min_attainable_p": 0.0625,
        "cliffs_delta": 1.0, "paired_cohens_d": 3.21, "probability_of_improvement": 1.0,
    }])


def best_losses_table() -> pd.DataFrame:
    """results/analysis/best_losses.csv for three contexts of the smoke grid, not in grid order."""
    return pd.DataFrame(
        [
            {"experiment": experiment, "dataset": "seed_small", "inputs": "raw", "targets": "raw", "model": "dense1",
             "optimizer": optimizer, "activation": "sigmoid", "best": "binary_crossentropy", "best_median": 1.0, "n_losses": 2,
             "n_beaten": beaten, "all_beaten": beaten == 1}
            for experiment, optimizer, beaten in (("long", "adam", 0), ("article", "sgd", 0), ("article", "adam", 1))
        ]
    )


def analysis_tables() -> dict[str, pd.DataFrame]:
    """Hand-made analysis tables: the article's runs and summary, the example comparison, loss
    comparisons and best losses of the smoke grid's seed_small contexts, and one claim of each verdict."""
    runs = pd.DataFrame(
        [
            {"example": example, "seed": seed, "final_loss": loss * (1 + 0.1 * seed), "train_mse": 0.0,
             "test_mse": mse * (1 + 0.1 * seed), "test_rmse": 0.0}
            for example, loss, mse in (("example 1", 1.0, 1.1), ("example 2", 0.02, 0.03), ("example 3", 0.3, 0.01))
            for seed in range(5)
        ]
    )
    summary = pd.DataFrame(
        [
            {"example": "example 1", "n_seeds": 5, "printed_loss": 0.8178590472494597, "final_loss_median": 1.2,
             "final_loss_low": 1.01, "final_loss_high": 1.39, "printed_inside": False, "printed_quantile": 0.0,
             "test_mse_median": 1.32, "test_mse_low": 1.1, "test_mse_high": 1.52},
            {"example": "example 2", "n_seeds": 5, "printed_loss": 0.01331729521339747, "final_loss_median": 0.024,
             "final_loss_low": 0.0201, "final_loss_high": 0.0279, "printed_inside": False, "printed_quantile": 0.0,
             "test_mse_median": 0.036, "test_mse_low": 0.03, "test_mse_high": 0.0419},
            {"example": "example 3", "n_seeds": 5, "printed_loss": 0.08371002228322282, "final_loss_median": 0.36,
             "final_loss_low": 0.301, "final_loss_high": 0.419, "printed_inside": True, "printed_quantile": 0.2,
             "test_mse_median": 0.012, "test_mse_low": 0.01, "test_mse_high": 0.0139},
        ]
    )
    comparisons = pd.DataFrame(
        [
            {"experiment": "article", "dataset": "seed_small", "inputs": "raw", "targets": "raw", "model": "dense1",
             "optimizer": optimizer, "activation": "sigmoid", "level_a": "binary_crossentropy", "level_b": "mse", "mean_difference": difference,
             "hodges_lehmann": difference, "significant": significant, "metric": "final_test_nrmse"}
            for optimizer, difference, significant in (("adam", -2.0, True), ("sgd", -1.0, False))
        ]
    )
    verdicts = claims_table()
    return {"article_runs": runs, "article_summary": summary, "article_examples": example_comparison(),
            "comparisons": comparisons, "best_losses": best_losses_table(), "verdicts": verdicts,
            "claim_details": claim_details_table(), "tuned_rates": tuned_rates_table(), "mechanism": mechanism_table(),
            "remedies": remedies_table(), "findings": findings()}


VERDICT_COLUMNS = ("verdict_budget_default", "verdict_budget_tuned", "verdict_time_default", "verdict_time_tuned")


def claims_table() -> pd.DataFrame:
    """results/analysis/claims.csv: one claim of each verdict (C1-C4, judged at the budget and default
    rate; C2 also at the tuned rate and by time), as read from the CSV (NaN where not judged so)."""
    rows = []
    for index, (verdict, holds, n_holds) in enumerate(
        (("supported", "optimizer adam; optimizer sgd", 2), ("not supported", "nowhere", 0),
         ("mixed", "optimizer adam", 1), ("undecided", "nowhere", 0)), 1
    ):
        row = {"id": f"C{index}", "name": f"Claim {verdict}", "claim": f"The claim that is {verdict}.",
               "article": '"the article\'s <words>"', "kind": "paired", "judged_by": "budget", "rates": "default",
               "rule": "a better than b (Holm p < 0.05)", "time_rule": np.nan,
               **{column: np.nan for column in VERDICT_COLUMNS}, "verdict_budget_default": verdict,
               "verdict": verdict, "holds_in": holds, "n_contexts": 2, "n_holds": n_holds,
               "evidence": "[budget, default rate] optimizer adam: a vs b: median 1.23 vs 4.56\n"
                           "[budget, default rate] optimizer sgd: a vs b: median 7.89 vs 0.12"}
        rows.append(row)
    rows[1].update(judged_by="budget, time", rates="default, tuned", verdict_budget_tuned="supported",
                   verdict_time_default="undecided", verdict_time_tuned="supported",
                   time_rule="a against b: the first reaches the threshold <sooner>",
                   evidence=rows[1]["evidence"] + "\n[time, tuned rate] optimizer adam: a vs b: 40 vs 680 steps: sooner")
    return pd.DataFrame(rows)


def claim_details_table() -> pd.DataFrame:
    """results/analysis/claim_details.csv: a budget row and two time rows of claim C2."""
    base = {"id": "C2", "context": "optimizer adam", "better": "binary_crossentropy", "baseline": "mse", "n_pairs": 6.0}
    time = {"p_value": np.nan, "hodges_lehmann": np.nan}
    return pd.DataFrame([
        {**base, "judged": "budget", "rate": "default", "median_a": 26.6, "median_b": 26.7, "ratio": np.nan,
         "ratio_ci_low": np.nan, "ratio_ci_high": np.nan, "better_status": np.nan, "baseline_status": np.nan,
         "outcome": np.nan, "p_value": 0.03125, "hodges_lehmann": -0.097, "holds": True, "fails": False},
        {**base, **time, "judged": "time", "rate": "default", "median_a": math.inf, "median_b": math.inf, "ratio": np.nan,
         "ratio_ci_low": np.nan, "ratio_ci_high": np.nan, "better_status": "undecided", "baseline_status": "undecided",
         "outcome": "undecided at the cap", "holds": False, "fails": False},
        {**base, **time, "judged": "time", "rate": "tuned", "median_a": 40.0, "median_b": 680.0, "ratio": 17.0,
         "ratio_ci_low": 8.5, "ratio_ci_high": 17.25, "better_status": "reached", "baseline_status": "stalled",
         "outcome": "sooner", "holds": True, "fails": False},
    ])


def tuned_rates_table() -> pd.DataFrame:
    """results/analysis/tuned_rates.csv of the smoke grid's tuned experiment (long): one cell at the high edge."""
    rows = []
    for loss, activation, rate, edge in (("mse", "sigmoid", 0.1, np.nan), ("mse", "linear", 0.01, np.nan),
                                         ("binary_crossentropy", "sigmoid", 1.0, "high")):
        rows.append({"experiment": "long", "dataset": "seed_small", "inputs": "raw", "targets": "raw", "model": "dense1",
                     "optimizer": "adam", "loss": loss, "activation": activation, "tuned_learning_rate": rate,
                     "edge": edge, "n_rates": 4, "default_learning_rate": 0.001, "lowest_rate": 0.001,
                     "highest_rate": 1.0})
    return pd.DataFrame(rows)


def mechanism_table() -> pd.DataFrame:
    """results/analysis/mechanism.csv: one cell of each kind (Adam step budget, SGD small gradient, never reached)."""
    common = {"experiment": "long", "dataset": "seed_small", "inputs": "raw", "targets": "raw", "model": "dense1",
              "activation": "sigmoid", "claims": "C2"}
    return pd.DataFrame([
        {**common, "optimizer": "adam", "loss": "mse", "learning_rate": 0.001, "optimizer_name": "adam",
         "budget_steps": 240, "reach_steps": 680.0, "required_linf": 0.9, "moved_linf": 0.2, "capacity_linf": 0.24,
         "mean_saturation": 0.1, "initial_grad_norm": 0.158, "category": "step budget"},
        {**common, "optimizer": "sgd", "loss": "mse", "learning_rate": 0.01, "optimizer_name": "sgd",
         "budget_steps": 240, "reach_steps": 1920.0, "required_linf": 0.5, "moved_linf": 0.05, "capacity_linf": np.nan,
         "mean_saturation": 0.2, "initial_grad_norm": 0.16, "category": "small gradient"},
        {**common, "optimizer": "adam", "loss": "binary_crossentropy", "learning_rate": 0.001, "optimizer_name": "adam",
         "budget_steps": 240, "reach_steps": math.inf, "required_linf": np.nan, "moved_linf": 0.227,
         "capacity_linf": 0.24, "mean_saturation": 0.0, "initial_grad_norm": 0.341, "category": "undecided"},
    ])


def remedies_table() -> pd.DataFrame:
    """results/analysis/remedies.csv: C2 at both rates (rank 1), C1 at the default rate only (rank 2)."""
    return pd.DataFrame([
        {"id": "C2", "name": "Claim <not> supported", "rate": "default", "effect": 1.0037, "effect_ci_low": 1.0027,
         "effect_ci_high": 1.0042, "n_pairs": 6, "time_ratio_median": np.nan, "time_sooner": 0, "time_contexts": 1,
         "verdict_budget": "supported", "verdict_time": "undecided", "rank": 1},
        {"id": "C2", "name": "Claim <not> supported", "rate": "tuned", "effect": 3.5213, "effect_ci_low": 3.3924,
         "effect_ci_high": 4.1058, "n_pairs": 6, "time_ratio_median": 17.0, "time_sooner": 1, "time_contexts": 1,
         "verdict_budget": "supported", "verdict_time": "supported", "rank": 1},
        {"id": "C1", "name": "Claim supported", "rate": "default", "effect": 2.8909, "effect_ci_low": 2.7492,
         "effect_ci_high": 3.3201, "n_pairs": 6, "time_ratio_median": np.nan, "time_sooner": 0, "time_contexts": 0,
         "verdict_budget": "supported", "verdict_time": np.nan, "rank": 2},
    ])


def findings() -> dict:
    """results/analysis/findings.json for the hand-made mechanism and remedies tables."""
    return {
        "best_remedy": {
            "default": {"effect": 2.8909, "effect_ci_high": 3.3201, "effect_ci_low": 2.7492, "id": "C1", "name": "Claim supported"},
            "tuned": {"effect": 3.5213, "effect_ci_high": 4.1058, "effect_ci_low": 3.3924, "id": "C2", "name": "Claim <not> supported"},
        },
        "budget_steps": [240],
        "cap_steps": 1920,
        "categories": {"other": 0, "reaches within the budget": 0, "saturated output": 0, "small gradient": 1,
                       "step budget": 1, "undecided": 1},
        "later_budget_multiple_median": 5.4167,
        "n_cells": 3,
        "n_failing": 3,
        "n_reach_later": 2,
        "saturated_fraction_median": None,
        "saturated_fraction_threshold": 0.5,
        "step_budget_need_over_reach_median": 3.75,
        "threshold": 1.5,
        "verdicts_changed_by_tuning": ["C2"],
    }


def evals_table(study) -> pd.DataFrame:
    """Evaluations (evals.parquet columns the time figure reads) of every cell of the smoke study's
    horizon experiment (long) and the cell past its sweep (:func:`cells_table`), its seeds at epochs
    0, 1, 10, ..., with a test RMSE falling faster at higher rates; the cells at rate 0.1 stop at
    epoch 120, the others run to 480."""
    import dataclasses

    rows = []
    horizon = [cell for cell in study.cells if study.experiments[cell.experiment].horizon]
    extended = [dataclasses.replace(c, learning_rate=EXTENDED_RATE) for c in horizon if c.loss == "binary_crossentropy"][:1]
    for cell in horizon + extended:
        end = 120 if cell.learning_rate == 0.1 else 480
        for seed in range(3):
            for epoch in (0, 1, 10, 20, 40, 60, 120, 240, 480):
                if epoch > end:
                    continue
                rmse = 0.3 / (1 + epoch * cell.learning_rate * (2 if cell.loss == "binary_crossentropy" else 1)) + 0.001 * seed
                rows.append({**vars(cell), "seed": seed, "epoch": epoch, "step": 4 * epoch, "test_rmse": rmse})
    return pd.DataFrame(rows)


def slopes_table() -> pd.DataFrame:
    """results/analysis/scale_slopes.csv rows of the smoke grid's scale figures."""
    return pd.DataFrame(
        [
            {"experiment": "article", "inputs": "raw", "targets": "raw", "model": "dense1", "optimizer": optimizer, "loss": "mse",
             "activation": "linear", "metric": metric, "n_scales": 2, "n_seeds": 4, "slope": 1.0012,
             "slope_ci_low": 0.98, "slope_ci_high": 1.02, "scales": "0.01, 1"}
            for optimizer in ("adam", "sgd")
            for metric in ("initial_grad_norm", "first_epoch_update_norm", "final_test_nrmse")
        ]
    )
