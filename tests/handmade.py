"""Hand-made results tables, in the columns of lossatlas.results and of the analysis stage, for the
figure and report tests (no workflow run)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SUMMARY = ("final_test_rmse", "final_test_nrmse", "final_test_mae", "final_train_loss")
MEANS = ("final_test_r2", "best_test_r2", "initial_grad_norm", "initial_output_grad_abs", "first_epoch_update_norm",
         "final_output_saturation", "mean_output_saturation")


def cells_table(study) -> pd.DataFrame:
    """A cells table (columns of cells.csv) for every cell of ``study``, with made-up numbers, in
    reverse grid order; reach flags as cells.csv holds them (NaN when none)."""
    rows = []
    for index, cell in enumerate(reversed(study.cells)):
        row = {**vars(cell), "n_seeds": 4, "n_diverged": index % 2, "divergence_rate": (index % 2) / 4}
        row["reach_flag"] = study.flags.get(cell, np.nan)
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


def curves_table(dataset: str = "seed_small", metrics=("train_loss", "test_rmse"), epochs=(0, 1, 2, 3)) -> pd.DataFrame:
    """A curves table: two losses x two activations at the evaluation points ``epochs`` (0 is the
    initial weights), each of ``metrics``; train_loss and update_norm have no value at epoch 0."""
    rows = []
    for loss in ("mse", "binary_crossentropy"):
        for activation in ("linear", "sigmoid"):
            for metric in metrics:
                for epoch in epochs:
                    if epoch == 0 and metric in ("train_loss", "update_norm"):
                        continue
                    mean = 1.0 / (epoch + 1) + (activation == "sigmoid")
                    rows.append(
                        dict(experiment="article", dataset=dataset, targets="raw", model="dense1", optimizer="adam",
                             loss=loss, activation=activation, metric=metric, epoch=epoch, mean=mean,
                             ci_low=mean * 0.9, ci_high=mean * 1.1)
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
            {"experiment": experiment, "dataset": "seed_small", "targets": "raw", "model": "dense1", "optimizer": optimizer,
             "activation": "sigmoid", "best": "binary_crossentropy", "best_median": 1.0, "n_losses": 2,
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
            {"experiment": "article", "dataset": "seed_small", "targets": "raw", "model": "dense1", "optimizer": optimizer,
             "activation": "sigmoid", "level_a": "binary_crossentropy", "level_b": "mse", "mean_difference": difference,
             "hodges_lehmann": difference, "significant": significant, "metric": "final_test_nrmse"}
            for optimizer, difference, significant in (("adam", -2.0, True), ("sgd", -1.0, False))
        ]
    )
    verdicts = pd.DataFrame(
        [
            {"id": f"C{index}", "name": f"Claim {verdict}", "claim": f"The claim that is {verdict}.",
             "article": '"the article\'s <words>"', "kind": "paired", "rule": "a better than b (Holm p < 0.05)",
             "verdict": verdict, "holds_in": holds, "n_contexts": 2, "n_holds": n_holds,
             "evidence": "optimizer adam: a vs b: median 1.23 vs 4.56\noptimizer sgd: a vs b: median 7.89 vs 0.12"}
            for index, (verdict, holds, n_holds) in enumerate(
                (("supported", "optimizer adam; optimizer sgd", 2), ("not supported", "nowhere", 0),
                 ("mixed", "optimizer adam", 1), ("undecided", "nowhere", 0)), 1
            )
        ]
    )
    return {"article_runs": runs, "article_summary": summary, "article_examples": example_comparison(),
            "comparisons": comparisons, "best_losses": best_losses_table(), "verdicts": verdicts}


def slopes_table() -> pd.DataFrame:
    """results/analysis/scale_slopes.csv rows of the smoke grid's scale figures."""
    return pd.DataFrame(
        [
            {"experiment": "article", "targets": "raw", "model": "dense1", "optimizer": optimizer, "loss": "mse",
             "activation": "linear", "metric": metric, "n_scales": 2, "n_seeds": 4, "slope": 1.0012,
             "slope_ci_low": 0.98, "slope_ci_high": 1.02, "scales": "0.01, 1"}
            for optimizer in ("adam", "sgd")
            for metric in ("initial_grad_norm", "first_epoch_update_norm", "final_test_nrmse")
        ]
    )
