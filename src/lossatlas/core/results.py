"""The tidy results tables: where each lives, every column described once, and loaders that check them.

Every stage writes long ("tidy") tables: one row per observation, one column per variable, a cell's
coordinates (:data:`CELL`) as text columns. Read them from Python with :func:`load`::

    from lossatlas.core import results
    cells = results.load("cells", "results")        # a pandas DataFrame, columns checked
    print(results.describe("cells"))                # what each column means

:data:`TABLES` maps each table's name to its path under the results directory and its columns.
Columns whose name is a pattern (``grad_norm_layer_{k}``, ``{metric}_mean``) stand for a family of
columns. No TensorFlow or Matplotlib is imported here.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Sequence

import pandas as pd

#: The coordinates of a cell, in the order every table lists them.
CELL = ["experiment", "dataset", "inputs", "targets", "model", "optimizer", "learning_rate", "loss", "activation"]
#: The coordinates of a trial: the cell and the seed (the replicate index, 0-based).
TRIAL = [*CELL, "seed"]
#: A *base cell*: a cell's coordinates without its learning rate. They are labels (text in every
#: table); the learning rate is a number.
BASE = [column for column in CELL if column != "learning_rate"]


def base_key(key: Sequence) -> tuple[str, ...]:
    """A cell's key (its coordinates in the order of :data:`CELL`) without its learning rate, as
    text: the key of its base cell (:data:`BASE`)."""
    return tuple(str(value) for name, value in zip(CELL, key) if name != "learning_rate")


#: A context in which losses are compared: a base cell without its loss.
LOSS_CONTEXT = [column for column in BASE if column != "loss"]
#: Metrics whose log-log slope against the target scale the analysis reports (the slopes table).
SLOPE_METRICS = ("initial_grad_norm", "first_epoch_update_norm", "final_test_nrmse")
#: Why a cell fails at the budget: the categories of the mechanism table, in the order it names them.
MECHANISM_CATEGORIES = ("reaches within the budget", "saturated output", "step budget", "small gradient", "undecided", "other")

_COORDINATES = {
    "experiment": "the experiment of the config that trained the cell",
    "dataset": "the dataset label of the config",
    "inputs": "input preprocessing: raw, or standardized (each feature z-scored by each seed's training split)",
    "targets": "target preprocessing: raw, or standardized (z-scored by each seed's training targets)",
    "model": "the model label of the config",
    "optimizer": "the optimizer label of the config",
    "learning_rate": "the learning rate (the optimizer's own, or a rate of a tuned experiment's sweep)",
    "loss": "the Keras loss the cell is trained with",
    "activation": "the output activation",
}
_SEED = {"seed": "the replicate index; cells that share it share data, initial weights and batch order"}


@dataclasses.dataclass(frozen=True)
class Table:
    """A results table: ``path`` under the results directory and ``columns`` (name -> meaning)."""

    name: str
    path: str
    description: str
    columns: dict[str, str]

    def required(self) -> list[str]:
        """The columns every instance has (not the patterns)."""
        return [column for column in self.columns if "{" not in column]


_MEASURED = {
    "train_loss": "the epoch's training loss as fit reports it (batch losses weighted by batch size), in the units trained in",
    "test_rmse": "test RMSE in the original target units",
    "test_mae": "test MAE in the original target units",
    "validation_rmse": "validation RMSE in the original target units (the split that tunes; never the test split)",
    "validation_mae": "validation MAE in the original target units",
    "output_grad_abs": "mean over the training samples of |d loss_i / d z_i|, each sample's own loss against its output pre-activation",
    "output_saturation": "fraction of training samples whose output activation derivative is below diagnostics.saturation_threshold",
    "hidden_saturation": "the same fraction over hidden units and samples (NaN without hidden layers)",
    "distance_l2": "Euclidean distance of all weights from their initial values",
    "distance_linf": "largest absolute change of any weight from its initial value",
    "update_norm": "norm of the parameter change over the epoch that ended here (NaN at epoch 0)",
    "grad_norm_layer_{k}": "norm of the full-training-set gradient of the mean loss, layer k's kernel and bias (k = 1..L)",
    "grad_norm_output": "grad_norm_layer_{L}: the output layer's",
}

TABLES = {
    table.name: table
    for table in (
        Table(
            "trials",
            "aggregate/trials.parquet",
            "One row per trial: what the engine measured at the end and at the start, and the per-trial metrics derived from it.",
            {
                **_COORDINATES,
                **_SEED,
                "trial_seed": "the seed of the trial's initial weights and batch order (derived from base_seed)",
                "epochs": "epochs trained",
                "steps": "optimizer steps trained",
                "final_train_loss": "the last epoch's training loss (units trained in)",
                "final_test_rmse": "test RMSE after the last epoch (target units)",
                "final_test_mae": "test MAE after the last epoch (target units)",
                "final_validation_rmse": "validation RMSE after the last epoch (target units)",
                "final_validation_mae": "validation MAE after the last epoch (target units)",
                "final_output_saturation": "output saturation after the last epoch",
                "final_distance_l2": "distance_l2 after the last epoch",
                "final_distance_linf": "distance_linf after the last epoch",
                "initial_grad_norm": "output-layer gradient norm at the initial weights (full training set)",
                "initial_output_grad_abs": "output_grad_abs at the initial weights",
                "initial_output_saturation": "output_saturation at the initial weights",
                "first_epoch_update_norm": "norm of the parameter change over the first epoch",
                "mean_output_saturation": "output_saturation averaged over the evaluation points after the start",
                "diverged": "whether a loss or weight became non-finite",
                "diverged_epoch": "first epoch with a non-finite loss or weight (0: never)",
                "stack_seconds": "wall seconds of the stack the trial was trained in",
                "end_epochs": "epochs trained in all (past the budget in a horizon experiment)",
                "end_steps": "optimizer steps trained in all",
                "end_test_rmse": "test RMSE where training ended",
                "end_distance_linf": "distance_linf where training ended",
                "end_distance_l2": "distance_l2 where training ended",
                "final_test_nrmse": "final_test_rmse / the generator's noise sd (NaN where it is unknown); 1 is the noise floor",
                "final_validation_nrmse": "final_validation_rmse / the noise sd",
                "final_test_rrmse": "final_test_rmse / the test RMSE of an ordinary least-squares fit on the same split and seed (defined on real data too)",
                "final_validation_rrmse": "final_validation_rmse / the validation RMSE of that fit",
                "final_test_r2": "1 - final_test_rmse^2 / Var(test targets)",
                "best_test_r2": "1 - noise sd^2 / Var(test targets): the best R^2 the data allow",
                "steps_to_threshold": "steps until the fit error (test nRMSE; rRMSE where the noise is unknown or the function nonlinear: lossatlas.design.study.Study.fit_target) first reached its threshold; censored (the steps observed) when it never did",
                "reached_threshold": "whether it ever did (also if the trial diverged later)",
                "stagnated": "the stagnation rule of the metrics section fired (never for diverged trials)",
            },
        ),
        Table(
            "evals",
            "train/{experiment}/{group}/{job}/evals.parquet",
            "One row per trial and evaluation point (epoch 0 is the initial weights, then epoch 1, every eval_every-th epoch and the last).",
            {**_COORDINATES, **_SEED, "epoch": "epochs trained so far", "step": "optimizer steps so far", **_MEASURED},
        ),
        Table(
            "cells",
            "aggregate/cells.csv",
            "One row per cell: statistics over its seeds.",
            {
                **_COORDINATES,
                "n_seeds": "seeds trained",
                "n_diverged": "seeds that diverged",
                "divergence_rate": "n_diverged / n_seeds",
                "stagnation_rate": "fraction of the seeds that did not diverge that stagnated",
                "reach_rate": "fraction of all seeds that reached the fit threshold (as steps_to_threshold) at an evaluation point",
                "steps_to_threshold_median": "Kaplan-Meier median of steps_to_threshold over all seeds (inf: fewer than half reach it)",
                "reach_flag": "why the output activation cannot reach the targets (empty: it can)",
                "horizon_status": "horizon experiments, cells trained past the budget: reached, stalled, diverged, undecided (still running at "
                                  "the cap) or dropped (left the successive halving for the time-tuned rate still running) (lossatlas.stats.convergence)",
                "horizon_steps": "the steps such a cell was trained",
                "diagnosis": "why such a cell has not reached the threshold: diverged, still descending, saturated output, vanishing step or "
                             "step-size floor (lossatlas.stats.convergence.diagnose; empty where it reached it)",
                "improvement_per_doubling": "relative improvement of the median test error per doubling of the steps, over the last two doublings",
                "end_output_saturation": "median over seeds of output_saturation where training ended",
                "update_ratio": "median update_norm of the last epoch trained over the median first epoch's",
                "extrapolated_steps": "steps the cell would need at its log-log rate of the last two doublings (an extrapolation, never a verdict)",
                "time_tuned": "tuned horizon experiments: whether this rate is its base cell's time-tuned rate (fewest validation steps to the threshold)",
                "validation_steps_to_threshold_median": "Kaplan-Meier median steps to the threshold on the validation split (the halving's ranking)",
                "contention_steps": "the last checkpoint (steps) at which the rate was in the successive halving for the time-tuned rate",
                "{metric}_mean": "mean over the seeds that did not diverge and have a finite value",
                "{metric}_ci_low": "lower end of the 95% BCa bootstrap CI of that mean",
                "{metric}_ci_high": "upper end of that CI",
                "{metric}_median": "median over the same values",
                "{metric}_iqm": "interquartile mean over the same values",
                "{metric}_n_finite": "how many values those statistics are over",
            },
        ),
        Table(
            "curves",
            "aggregate/curves.parquet",
            "One row per cell, metric and evaluation point: the mean over seeds and its 95% percentile-bootstrap band.",
            {
                **_COORDINATES,
                "metric": "a column of the evals table",
                "epoch": "the evaluation point",
                "mean": "mean over the seeds with a finite value at every evaluation point",
                "ci_low": "lower end of the 95% band of that mean",
                "ci_high": "upper end",
            },
        ),
        Table(
            "floors",
            "aggregate/floors.csv",
            "The training loss the noise-free generating function reaches, per dataset, targets and loss where it is exactly derivable.",
            {
                "experiment": _COORDINATES["experiment"],
                "dataset": _COORDINATES["dataset"],
                "targets": _COORDINATES["targets"],
                "loss": _COORDINATES["loss"],
                "floor": "the loss floor, in the units trained in (mean over the seeds trained)",
            },
        ),
        Table(
            "comparisons",
            "analysis/loss_comparisons.csv",
            "One row per pair of losses within a context (every coordinate but the loss), at each optimizer's default "
            "rate, compared on final_test_nrmse paired by seed.",
            {
                **{column: _COORDINATES[column] for column in ("experiment", "dataset", "inputs", "targets", "model", "optimizer", "activation")},
                "level_a": "the first loss of the pair",
                "level_b": "the second loss",
                "metric": "the column of the trials table compared",
                "n_pairs": "seeds where both are finite",
                "n_dropped": "seeds left out because either value is not finite",
                "median_a": "median of a's values over the pairs",
                "median_b": "median of b's",
                "mean_difference": "mean of a - b over the pairs (negative: a lower)",
                "mean_difference_ci_low": "lower end of its 95% BCa bootstrap interval",
                "mean_difference_ci_high": "upper end",
                "median_difference": "median of a - b",
                "hodges_lehmann": "median of the Walsh averages of a - b: the direction the signed-rank test sees",
                "wilcoxon_statistic": "the smaller signed rank sum (zero differences by Pratt's method)",
                "p_value": "two-sided Wilcoxon signed-rank p",
                "min_attainable_p": "the smallest p the test can give with n_pairs",
                "cliffs_delta": "P(a < b) - P(a > b) over all pairs of values",
                "paired_cohens_d": "mean of a - b over its standard deviation (ddof 1)",
                "probability_of_improvement": "share of seeds where a is lower than b (ties count half)",
                "p_holm": "p_value adjusted by Holm over every row of the table as one family",
                "significant": "p_holm <= statistics.alpha",
            },
        ),
        Table(
            "claims",
            "analysis/claims.csv",
            "One row per claim of the claims file: its rule and a verdict per judgment (fixed budget, time to target) and "
            "rate (Keras's default, tuned on the validation split).",
            {
                "id": "the claim's id in the claims file",
                "name": "its short name",
                "claim": "what it says, as tested",
                "article": "the article's words it tests",
                "kind": "paired, slope or rate",
                "judged_by": "budget and/or time",
                "rates": "default and/or tuned",
                "rule": "how a context holds at the budget",
                "time_rule": "how a context holds by time to target",
                "verdict_budget_default": "supported, not supported, mixed or undecided (empty where not judged so)",
                "verdict_budget_tuned": "the same at the tuned rates",
                "verdict_time_default": "by time to target at the default rate",
                "verdict_time_tuned": "by time to target at the tuned rates (time-tuned: fewest validation steps to the threshold)",
                "by_optimizer_budget_default": "claims whose contexts include the optimizer: one verdict per optimizer with what decides it "
                                               "(\"adam: not supported (slow: ...); sgd: undecided (...)\"); empty otherwise",
                "by_optimizer_budget_tuned": "the same at the tuned rates",
                "by_optimizer_time_default": "the same by time to target at the default rate, with the diagnosis of every stuck or undecided context",
                "by_optimizer_time_tuned": "the same by time to target at the time-tuned rates",
                "verdict": "the headline: the first judgment at the first rate",
                "verdict_by_optimizer": "the headline's verdicts per optimizer (as by_optimizer_*)",
                "holds_in": "the contexts where the headline judgment holds",
                "n_contexts": "contexts judged for the headline",
                "n_holds": "of them, where it holds",
                "evidence": "the numbers behind every judgment, a line per context",
            },
        ),
    )
}


def describe(name: str) -> str:
    """The table ``name``'s description and its columns, one per line."""
    table = TABLES[name]
    lines = [f"{table.name} ({table.path}): {table.description}"]
    lines += [f"  {column}: {meaning}" for column, meaning in table.columns.items()]
    return "\n".join(lines)


def check(frame: pd.DataFrame, name: str, source: str | os.PathLike = "") -> pd.DataFrame:
    """``frame`` if it has every required column of table ``name``; ValueError naming the missing ones."""
    missing = [column for column in TABLES[name].required() if column not in frame.columns]
    if missing:
        where = f" ({source})" if source else ""
        raise ValueError(f"{name} table{where} lacks column(s) {', '.join(missing)}")
    return frame


def read(path: str | os.PathLike, name: str | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Reads a results table (CSV or Parquet, by suffix), its label columns as text even where a
    label looks like a number and the learning rate as a number; checks the columns of table
    ``name`` when given. ``columns``: of a Parquet table, read only these."""
    path = Path(path)
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path, columns=None if columns is None else list(columns))
        for column in (c for c in BASE if c in frame.columns):
            frame[column] = frame[column].astype(str)
    else:
        frame = pd.read_csv(path, dtype={column: str for column in [*BASE, "level_a", "level_b", "id", "example"]})
    if "learning_rate" in frame.columns:
        frame["learning_rate"] = frame["learning_rate"].astype(float)
    return check(frame, name, path) if name else frame


def load(name: str, results: str | os.PathLike = "results") -> pd.DataFrame:
    """Table ``name`` of :data:`TABLES` from the results directory ``results``, checked."""
    table = TABLES[name]
    if re.search(r"\{", table.path):
        raise ValueError(f"table {name} is written per job ({table.path}); read those files with read()")
    return read(Path(results) / table.path, name)
