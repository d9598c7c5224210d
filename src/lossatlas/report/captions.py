"""Every caption and table title of the report, in one place.

The paper's figure captions (:func:`curve_captions`, :func:`study_figure_caption`), its table
titles and captions (:data:`TABLE_TITLES`, :func:`table_captions`), and the short captions of
Snakemake's own report (:data:`SNAKEMAKE_CAPTIONS`, written as ``.rst`` files by
:func:`write_snakemake_captions` so that ``snakemake --report`` reads them from here too). Every
number in a caption comes from the config, the results tables or :mod:`lossatlas.design.plan`, formatted
by :mod:`lossatlas.core.textfmt`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from lossatlas.core.atomic import write_text
from lossatlas.core.source import N_TEST
from lossatlas.core.textfmt import (
    format_counts,
    format_error,
    format_known,
    format_number,
    format_rate,
    format_steps,
    join_words,
)
from lossatlas.design import plan
from lossatlas.design.selection import RATE_FACTOR

# --------------------------------------------------------------------------------------------
# Curve figures of one dataset and experiment
# --------------------------------------------------------------------------------------------

# Fields from curve_captions.
CURVE_CAPTIONS = {
    "loss_curves": (
        "Training loss vs epoch on dataset {dataset}, experiment {experiment} ({n_cells} cells at each optimizer's "
        "default learning rate, {n_seeds} seeds each, {epochs} epochs{horizon}), one panel per loss function{panel_note} (values of different losses "
        "are not comparable). The training loss of an epoch is the one fit reports (batch losses weighted by batch "
        "size), recorded {schedule}. Lines: mean over seeds; shaded bands: 95% percentile-bootstrap confidence "
        "interval of the mean; seeds with a non-finite value are left out.{thinning} {floors} {selection}"
    ),
    "test_rmse": (
        "Test RMSE (target units) vs epoch on dataset {dataset}, experiment {experiment}, at each optimizer's default "
        "learning rate{horizon}, one panel per loss "
        "function{panel_note} on one shared y axis (test RMSE is comparable across losses), evaluated at the initial "
        "weights (epoch 0) and {schedule}. Lines: mean over seeds; shaded bands: 95% percentile-bootstrap confidence "
        "interval of the mean.{thinning} {noise}"
    ),
}
FLOOR_FORMULAS = {
    "mse": "MSE σ² = {}",
    "mae": "MAE σ·√(2/π) = {}",
    "binary_crossentropy": "binary cross-entropy: the mean binary entropy of the training targets, {} (no prediction can go below it)",
}


def schedule_text(eval_every: int) -> str:
    """When a curve is recorded after the start: ``"after every epoch"``, or ``"after epoch 1, every
    10 epochs and the last"``."""
    if eval_every <= 1:
        return "after every epoch"
    return f"after epoch 1, every {format_number(eval_every)} epochs and the last"


def horizon_note(study, experiment: str, dataset: str) -> str:
    """For a horizon experiment, the caption's note that its curves run past the budget (``""`` otherwise)."""
    spec = study.experiments[experiment]
    if not spec.horizon:
        return ""
    cap = study.horizon(experiment, dataset).cap
    return (f"; trained past the budget (dashed vertical line) until each cell reached the threshold, stalled or "
            f"diverged, up to {format_number(cap)} epochs")


def thinning_note(points: int) -> str:
    """The caption's note that curves of more than :data:`lossatlas.design.plan.MAX_POINTS` evaluation
    points are drawn at that many (``""`` for shorter ones)."""
    if points <= plan.MAX_POINTS:
        return ""
    return (f" Curves of {format_number(points)} evaluation points are drawn at {format_number(plan.MAX_POINTS)} of them, "
            "evenly spaced.")


def floors_caption(floors: pd.DataFrame, noise_sd: float | None) -> str:
    """The caption's sentence on the loss floors drawn: ``floors`` holds the rows of the floors table
    (``results/aggregate/floors.csv``: ``targets, loss, floor``) of the figure's dataset and experiment."""
    if noise_sd is None:
        return "The noise level of this dataset is unknown (real data), so no loss has a floor drawn."
    parts = []
    for targets, style in (("raw", "Dotted"), ("standardized", "Dash-dotted")):
        rows = floors[floors["targets"] == targets]
        values = dict(zip(rows["loss"], rows["floor"]))
        texts = [FLOOR_FORMULAS[loss].format(format_error(values[loss])) for loss in FLOOR_FORMULAS if loss in values]
        if texts:
            unit = "" if targets == "raw" else " (in standardized units, averaged over seeds)"
            parts.append(f"{style} lines: each loss's floor for {targets} targets{unit}, the training loss of the noise-free "
                         f"generating function: {'; '.join(texts)}.")
    if not parts:
        return "No loss of this figure has a closed-form floor."
    return " ".join(parts) + " Huber and log-cosh have no closed-form floor and get none."


def curve_captions(dataset: str, experiment: str, cells: pd.DataFrame, study, floors: pd.DataFrame,
                   summarised: Sequence[str] = ()) -> dict[str, str]:
    """The caption of each curve figure (:data:`lossatlas.design.plan.CURVE_FIGURES`) of ``dataset`` in
    ``experiment``.

    Args:
        cells: the cells-table rows of the dataset in the experiment.
        floors: the floors-table rows of the dataset in the experiment.
        summarised: the experiments on the dataset too large for curves (named in the caption).
    """
    spec = study.experiments.get(experiment)
    noise_sd = study.datasets[dataset].noise_sd if dataset in study.datasets else None
    lines = len(cells) / max(cells["loss"].nunique(), 1)
    more = f"; {join_words(list(summarised))} (more cells) is summarised in the heatmaps instead." if summarised else "."
    if noise_sd is None:
        noise = (f"The noise standard deviation of dataset {dataset} is {format_known(noise_sd)} (real data), so no noise "
                 "level is drawn.")
    else:
        noise = (f"Dotted line: the generator's noise standard deviation, {format_number(noise_sd)}, the RMSE of the "
                 "noise-free generating function (nRMSE 1).")
    fields = {
        "dataset": dataset,
        "experiment": experiment,
        "n_cells": format_number(len(cells)),
        "n_seeds": format_counts(cells["n_seeds"]),
        "epochs": format_number(spec.epochs) if spec else "n/a",
        "schedule": schedule_text(spec.eval_every if spec else 1),
        "panel_note": " and output activation" if plan.panel_by_activation(lines, cells["activation"].nunique()) else "",
        "thinning": thinning_note(plan.experiment_points(study, experiment, dataset) if spec and dataset in study.datasets else 0),
        "horizon": horizon_note(study, experiment, dataset) if spec and dataset in study.datasets else "",
        "selection": f"Curves are drawn for the experiments with at most {format_number(plan.CURVE_CELL_LIMIT)} cells on a dataset{more}",
        "floors": floors_caption(floors, noise_sd),
        "noise": noise,
    }
    return {kind: caption.format(**fields) for kind, caption in CURVE_CAPTIONS.items()}


# --------------------------------------------------------------------------------------------
# Study-wide figures
# --------------------------------------------------------------------------------------------


def study_figure_caption(spec: Mapping, study, cells: pd.DataFrame, ids: Mapping[str, str] | None = None) -> str:
    """The caption of a study-wide figure: ``spec`` is its entry of :func:`lossatlas.design.plan.study_figures`;
    ``cells`` the cells table; ``ids`` the table ids (:func:`lossatlas.design.plan.table_ids`) it refers to."""
    kind = spec["kind"]
    ids = ids or {}
    if kind in FIGURE_CAPTIONS:
        return FIGURE_CAPTIONS[kind](spec, study, ids)
    if kind == "article_seeds":
        return (
            "The article's three examples, run verbatim with model.fit once per seed. Points: each seed's final "
            "training loss (the last epoch's loss as Keras reports it); the bar below them spans the 2.5–97.5% "
            "quantiles over seeds, the tick marks the median; red line: the value the article printed for its one "
            "unseeded run. Last panel: the test MSE (target units) of examples 2 and 3 on "
            f"{format_number(N_TEST)} fresh samples each, the one metric on which the two compare (their training "
            "losses are different functions); grey lines join the two values of a seed, which share their data."
        )
    if kind == "nrmse_heatmap":
        part = cells[(cells["experiment"] == spec["experiment"]) & (cells["model"] == spec["model"])
                     & (cells["inputs"] == spec["inputs"]) & (cells["targets"] == spec["targets"])]
        return (
            f"Median final test nRMSE over the seeds ({format_counts(part['n_seeds'])} per cell) of every cell of experiment "
            f"{spec['experiment']}, model {spec['model']}, {spec['inputs']} inputs, {spec['targets']} targets, at each "
            f"optimizer's default learning rate ({format_number(len(part))} cells). "
            "Panels: dataset (rows) × optimizer (columns); in a panel, rows are losses and columns output "
            "activations. Log colour scale shared by the panels; 1 is the noise floor, lower is better. Hatched: "
            "combinations left out before training (see Excluded cells); †: the output activation cannot reach the "
            "targets (see Flagged cells); n/a on grey: every seed diverged. Per-cell means with CIs are in Appendix A."
        )
    if kind == "gradient_curves":
        experiments = [study.experiments[e] for e in dict.fromkeys(e for e, _ in spec["panels"])]
        epochs = join_words([f"{e.label} {format_number(e.epochs)}" for e in experiments])
        return (
            "Norm of the gradient of the mean training loss over the full training set with respect to the output "
            "layer (kernel and bias) vs epoch, at each evaluation point (epoch 0: the initial weights), for the "
            f"article's cells on dataset {spec['dataset']} with {spec['inputs']} inputs, {spec['targets']} targets, model "
            f"{spec['model']} and each optimizer's default learning rate: "
            "sigmoid + MSE (example 2), sigmoid + binary cross-entropy (example 3) and linear + MSE. Panels: "
            f"experiment · optimizer (epochs: {epochs}). Lines: mean over seeds; shaded bands: 95% "
            "percentile-bootstrap confidence interval of the mean. Log y axis."
            + thinning_note(max(plan.experiment_points(study, e.label, spec["dataset"]) for e in experiments))
            + (" Experiments trained past the budget (horizon) are drawn to where training ended."
               if any(e.horizon for e in experiments) else "")
        )
    scales = join_words([format_number(s) for s in sorted(spec["scales"].values())])
    if kind == "scale_diagnostics":
        return (
            "Gradient norm of the output layer at the initial weights (top row; the gradient of the mean loss over "
            "the full training set, before any update) and norm of the total parameter update over the first epoch "
            f"(bottom row) vs the target scale ({scales}), log–log, on the datasets of the target-scale family; "
            f"experiment {spec['experiment']}, model {spec['model']}, {spec['inputs']} inputs, raw targets, linear output, "
            "each optimizer's default learning rate, one panel per "
            "optimizer, one line per loss (means over seeds). Legend: each line's log–log slope with its 95% "
            "bootstrap CI over seeds (results/analysis/scale_slopes.csv). Dashed grey: slope 1, what a quantity "
            "proportional to the scale gives, as the article's argument has it for the gradient. SGD's update is "
            "the learning rate times the gradient, so it scales as the gradient does; Adam divides the gradient "
            "by a running estimate of its size, so its update is expected to change little with the scale: the "
            "update slopes test whether the scale matters for one optimizer and not the other."
        )
    if kind == "nrmse_vs_scale":
        return (
            f"Median final test nRMSE vs the target scale ({scales}), log–log, experiment {spec['experiment']}, "
            f"model {spec['model']}, {spec['inputs']} inputs, each optimizer's default learning rate. Panels: target preprocessing × optimizer; colour: loss; marker and dash: output "
            "activation. Dotted line: the noise floor, nRMSE = 1. Combinations left out before training have no line."
        )
    raise ValueError(f"unknown study figure kind {kind!r}; known: {', '.join(plan.STUDY_FIGURE_KINDS)}")


def table_reference(ids: Mapping[str, str], key: str, words: str) -> str:
    """``" Table T8 gives the numbers."``-like sentence when the table ``key`` has an id, else ``""``."""
    return f" Table {ids[key]} {words}." if key in ids else ""


def time_caption(spec: Mapping, study, ids: Mapping[str, str]) -> str:
    horizon = study.config["horizon"]
    contrast = "multiple of the default rate" if spec["contrast"] == RATE_FACTOR else spec["contrast"]
    pairs = "; ".join(f"{better} against {baseline}" for better, baseline in spec["pairs"])
    columns = join_words(list(spec["contexts"][0])) if spec["contexts"] and spec["contexts"][0] else ""
    rates = join_words([{"default": "each optimizer's default rate (solid)", "tuned": "each cell's tuned rate (dashed)"}[r]
                        for r in spec["rates"]])
    return (
        f"Time to target for the cells claim{'s' if len(spec['claims']) > 1 else ''} {join_words(spec['claims'])} "
        f"compare{'' if len(spec['claims']) > 1 else 's'} ({contrast}: {pairs}), experiment "
        f"{join_words(spec['experiments'])}: the median over seeds of the test nRMSE (test RMSE over the generator's noise "
        "sd) at each evaluation point against optimizer steps, log–log, over the whole horizon: past the fixed budget "
        "(vertical dashed line) until a cell reached the threshold, stalled or diverged, or the cap of "
        f"{format_steps(horizon['cap_steps'])} steps, with evaluation points denser at the start "
        f"({format_number(horizon['points_per_doubling'])} per doubling of the horizon). One panel per "
        f"{columns or 'context'}; colour: the {contrast}; at {rates}. The marker at the end of a line gives the cell's "
        "status past the budget: reached the threshold, stalled (the stall rule fired: stuck), diverged, or undecided at "
        "the cap; a line without one was not trained past the budget. Red dashed line: the threshold, nRMSE "
        f"{format_number(spec['threshold'])}; dotted: the noise floor, nRMSE 1."
        + table_reference(ids, "time", "gives the Kaplan–Meier median steps, their ratio and the outcome of each comparison")
    )


def sensitivity_caption(spec: Mapping, study, ids: Mapping[str, str]) -> str:
    tuning = study.config["tuning"]
    experiment = spec["experiment"]
    return (
        f"Learning-rate sensitivity of the tuned experiment {experiment}: median final test nRMSE at the fixed budget "
        f"({format_number(study.experiments[experiment].epochs)} epochs) against the learning rate, log x, at every rate "
        f"trained: the sweep from {format_rate(tuning['min'])} to {format_rate(tuning['max'])}, "
        f"{format_number(tuning['per_decade'])} per decade, each optimizer's default included, extended one rate at a "
        "time beyond an end where a cell's best rate lay there (at most tuning.extend_steps = "
        f"{format_number(tuning['extend_steps'])} rates). One panel per context (dataset, input and target "
        "preprocessing, model, optimizer: the values that vary), one line per loss and output activation. Stars: each cell's tuned rate, the one with the lowest median validation RMSE at the budget (the "
        "test split is never used to choose); a hollow star marks a tuned rate still at an edge of the rates trained, so "
        "a better one may lie beyond. Dotted vertical line: the optimizer's default rate; red dashed: "
        "the nRMSE threshold." + table_reference(ids, "tuned_rates", "lists every tuned rate")
    )


def mechanism_caption(spec: Mapping, study, ids: Mapping[str, str]) -> str:
    share = format_number(100 * study.config["mechanism"]["saturated_fraction"])
    return (
        "Why the cells the paired claims compare fail at the article's budget (each at its optimizer's default rate). "
        "x: the distance the weights need to travel, the largest change of any weight from its initial value to where "
        "training ended, median over the seeds that reached the threshold (training past the budget ends soon after a "
        "cell reaches it); y: how far they travelled in the budget (the same distance after the budget's last epoch, "
        "median over seeds); hollow squares: the optimizer's reach in the budget, the learning rate times the budget's "
        "steps, for Adam and RMSprop, which move each weight by about one learning rate a step whatever the gradient's "
        "size (SGD has no such bound); grey line: travelled = needed. Right: the cells that never reached the "
        "threshold, whose needed distance is unknown. Colour: the first category that applies to a cell that does "
        f"not reach the threshold within the budget: saturated output (saturated for at least {share}% of the budget), "
        "step budget (needs further than its optimizer can reach), small gradient (SGD that travelled less than it "
        "needs), undecided (needed distance unknown), other." + table_reference(ids, "mechanism", "lists every cell")
    )


FIGURE_CAPTIONS = {"time_to_target": time_caption, "lr_sensitivity": sensitivity_caption, "mechanism": mechanism_caption}


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

TABLE_TITLES = {"comparison": "Best loss per context, experiment {}", "dataset": "Results on dataset {}",
                "claims": "Claims and verdicts", "time": "Time to target", "tuned_rates": "Tuned learning rates",
                "mechanism": "Why cells fail at the budget", "remedies": "What to do: the remedies ranked",
                "article:examples": "The article's examples over seeds",
                "article:comparison": "Example 3 against example 2, paired", "appendix": "Every cell"}


def table_caption(table: Mapping, study) -> str:
    """The caption of a report table (plain text: what it shows and what to look at), by its ``key``."""
    key = table["key"]
    if key.startswith("comparison:"):
        alpha = format_number(plan.statistics(study)["alpha"])
        return (
            f"Best loss per context of experiment {table['experiment']} ({table['n_contexts']} contexts with two or "
            f"more losses; significantly best in {table['n_all_beaten']}), with its median test nRMSE; * marks a loss "
            f"significantly better than every other loss of its context (paired Wilcoxon, Holm at {alpha}), at each "
            f"optimizer's default learning rate. Columns: "
            f"{table['column_heading'].lower()}. Look at which loss wins most columns and where it carries a *."
        )
    if key.startswith("dataset:"):
        threshold = format_number(study.config["metrics"]["nrmse_threshold"])
        return (
            f"Results on dataset {table['dataset']}, by experiment, each cell at its optimizer's default learning rate: "
            f"test nRMSE mean over the seeds that did not diverge "
            f"[95% BCa bootstrap CI] (1 is the noise floor; lower is better), median and IQM; divergence, stagnation "
            f"and reach rates; Kaplan–Meier median steps to nRMSE ≤ {threshold}. Look at the nRMSE of sigmoid and "
            "tanh outputs against linear ones, and at the stagnation rate."
        )
    if key == "claims":
        return ("The article's claims, the rules that decide each (at a fixed budget, the article's protocol, and by time "
                "to target, trained past the budget), and the verdicts computed from the results, per judgment and rate: "
                "at each optimizer's default learning rate and at each cell's tuned rate (— where a claim is not judged "
                "so); then the headline verdict (the first judgment at the first rate) and where it holds. Look at "
                "whether a verdict changes from the default to the tuned rate, or from the budget to time to target.")
    if key == "time":
        threshold = format_number(study.config["metrics"]["nrmse_threshold"])
        return (
            f"Time to target, per time-judged claim, rate view, context and pair: the Kaplan–Meier median optimizer steps "
            f"to test nRMSE ≤ {threshold} of each cell (not reached where fewer than half its seeds are estimated to "
            "reach it), the "
            "ratio baseline / better (how many times sooner the better level reaches it) with its paired bootstrap 95% CI "
            "over seeds, each cell's status past the budget and the outcome the claim's rule gives. Look at whether any "
            "comparison is stuck, or only slow or undecided at the cap."
        )
    if key == "tuned_rates":
        tuning = study.config["tuning"]
        return (
            "Tuned learning rates: per cell of a tuned experiment, its optimizer's default rate and its tuned rate, the "
            f"one with the lowest median validation RMSE at the budget among the rates trained (the sweep "
            f"{format_rate(tuning['min'])} to {format_rate(tuning['max'])}, {format_number(tuning['per_decade'])} per "
            "decade, extended one rate at a time at an end, at most tuning.extend_steps = "
            f"{format_number(tuning['extend_steps'])} rates): how many rates were "
            "trained and their range, the edge where the tuned rate stayed at an end of them (a better rate may lie "
            "beyond), and the median final test nRMSE at the default and at the tuned rate. Look at how far the tuned "
            "rate lies from the default and what it gains."
        )
    if key == "mechanism":
        return (
            "Why each cell the paired claims compare (at its optimizer's default rate) fails at the budget: its "
            "category; the budget and the Kaplan–Meier median steps to the threshold (not reached where fewer than half "
            "its seeds reach it, even past the budget); the largest weight change it needs (to where the seeds that reached the threshold ended), "
            "travelled in the budget, and the optimizer's reach in the budget (learning rate × steps; n/a for SGD); the "
            "mean fraction of the budget its output spent saturated; the output-layer gradient norm at the initial "
            "weights (medians over seeds). Look at the category and at needed against reach."
        )
    if key == "remedies":
        return (
            "What to do: every remedy claim, ranked by its effect at the default rate (the article's setting), then at "
            "the tuned rate. Effect: how many times lower the remedy's final test error (the claim's metric) at the "
            "budget is than the baseline's, the median over seeds and contexts of the paired ratio [95% bootstrap CI] "
            "(above 1: the remedy helps); time: the median, over the contexts where either reaches the threshold, of how "
            "many times sooner the remedy reaches it (where only the remedy reaches it, that is said instead of a "
            "number), and in how many contexts it does so robustly; then its verdicts at the budget and by time. Look "
            "at the rank and at whether the CI lies above 1."
        )
    if key == "article:examples":
        return (
            "The article's printed final training loss against its distribution over seeds: median and 2.5–97.5% "
            "quantile range; whether the printed value lies in that range; its quantile (the fraction of seeds with "
            "a lower loss); and the test MSE (target units), median [2.5–97.5%]. Look at whether the printed value "
            "is a typical seed."
        )
    if key == "article:comparison":
        return ("Example 3 (sigmoid + binary cross-entropy) against example 2 (sigmoid + MSE) on test MSE, "
                "paired by seed; lower is better. Look at the CI of the mean difference and at p.")
    if key == "appendix":
        return (
            "Every cell, every learning rate of a tuned experiment included: test RMSE and MAE (target units) and final "
            "training loss (in the units trained in) at the budget, mean [95% BCa CI] over the seeds that did not "
            "diverge; mean R² (mean best R²)"
            + ("; for cells trained past the budget, how training ended (status at the steps trained)."
               if table.get("horizon") else ".")
        )
    raise ValueError(f"unknown table key {key!r}")


def table_title(key: str) -> str:
    """The short title of a report table (for the contents), by its ``key``."""
    kind, _, name = key.partition(":")
    return TABLE_TITLES[kind].format(name) if kind in TABLE_TITLES else TABLE_TITLES.get(key, key)


def table_captions(tables: Sequence[dict], study) -> None:
    """Sets each table's ``title`` (:func:`table_title`) and ``caption`` (:func:`table_caption`), in place."""
    for table in tables:
        table["title"] = table_title(table["key"])
        table["caption"] = table_caption(table, study)


# --------------------------------------------------------------------------------------------
# Snakemake's own report
# --------------------------------------------------------------------------------------------

FULL = " Full caption in results/report/report.html."
#: Short captions of ``snakemake --report`` (reStructuredText, rendered by Snakemake with Jinja), by
#: the names of :data:`lossatlas.design.plan.SNAKEMAKE_CAPTIONS`.
SNAKEMAKE_CAPTIONS = {
    "loss_curves": (
        "Training loss against epoch on dataset ``{{ snakemake.wildcards.dataset }}``, experiment "
        "``{{ snakemake.wildcards.experiment }}``: one panel per loss (values of different losses are not comparable), "
        "mean over seeds with a 95% bootstrap band, each loss's floor where it has a closed form. Look at which curves "
        "flatten far above their floor. Numbered and captioned in full in the paper-style report, results/report/report.html."
    ),
    "test_rmse": (
        "Test RMSE (target units) against epoch on dataset ``{{ snakemake.wildcards.dataset }}``, experiment "
        "``{{ snakemake.wildcards.experiment }}``: one panel per loss on a shared y axis, mean over seeds with a 95% "
        "bootstrap band; dotted: the noise level (nRMSE 1), where it is known. Look at which cells reach the noise level "
        "and how fast." + FULL
    ),
    "article_seeds": (
        "The article's three examples run verbatim with ``model.fit`` once per seed: each seed's final training loss, its "
        "2.5–97.5% range and median, and the value the article printed (red). Look at whether the printed value is a "
        "typical seed." + FULL
    ),
    "gradient_curves": (
        "Gradient norm of the output layer (full training set) against epoch, from the initial weights on, for the "
        "article's cells (sigmoid + MSE, sigmoid + binary cross-entropy, linear + MSE), per experiment and optimizer, "
        "mean over seeds with a 95% bootstrap band, log y axis. Look at how far the sigmoid + MSE gradient falls below "
        "the others." + FULL
    ),
    "scale_diagnostics": (
        "Gradient norm at the initial weights (top) and total update norm over the first epoch (bottom) against the target "
        "scale, log–log, per optimizer and loss, with each line's slope and 95% CI in the legend; dashed: slope 1. Look at "
        "whether SGD's update follows the gradient's slope while Adam's stays flat." + FULL
    ),
    "nrmse_vs_scale": (
        "Median final test nRMSE against the target scale, log–log, per target preprocessing and optimizer; colour: loss, "
        "marker: output activation; dotted: the noise floor. Look at where raw small targets leave a cell far above the "
        "floor and whether standardizing removes it." + FULL
    ),
    "nrmse_heatmap": (
        "Median final test nRMSE of every cell of one experiment, model, input and target preprocessing, at each "
        "optimizer's default learning rate: panels dataset × "
        "optimizer, rows losses, columns output activations; log colour scale, 1 is the noise floor. Hatched: excluded "
        "before training; †: the output cannot reach the targets. Look at the sigmoid/tanh columns of MSE against the "
        "other losses." + FULL
    ),
    "time_to_target": (
        "Median test nRMSE against optimizer steps, log–log, over the whole horizon (past the fixed budget until each "
        "cell reached the threshold, stalled or diverged, or the cap), for the cells the time-judged claims compare, at "
        "the default and the tuned rate; dashed red: the threshold; triangles: Kaplan–Meier median steps. Look at "
        "whether the baseline is slow or stuck." + FULL
    ),
    "lr_sensitivity": (
        "Median final test nRMSE at the budget against the learning rate, log x, for every cell of a tuned experiment, "
        "one line per loss and output activation; stars: tuned rates (hollow: at an edge of the sweep); dotted: the "
        "default rate. Look at how far the best rate lies from the default." + FULL
    ),
    "mechanism": (
        "Distance the weights need to travel against the distance they travelled in the budget, log–log, per cell the "
        "paired claims compare, coloured by why it fails at the budget; squares: the optimizer's reach in the budget. "
        "Look at which cells could not reach far enough." + FULL
    ),
    "report": (
        "The paper-style report of this run, the main result: the answer (why gradients go missing, what to do), "
        "question, method (from the config run), numbered tables and figures with captions, claims and verdicts at the "
        "default and tuned rates, time to target, learning rates, the mechanism, the article's examples over seeds, "
        "threats to validity, every cell, provenance, how to reproduce and how to cite. The HTML is self-contained; the PDF is its A4 print."
    ),
    "table": (
        "One of the paper-style report's tables, by its id (T1, T2, …: fixed by the config, the same for every run of it), "
        "as CSV (the data), LaTeX (booktabs) or Markdown. Every mean carries its 95% CI as \"mean [low, high]\"; each "
        "caption ends with the table id, the config hash and the commit. The numbered table with its full caption is in "
        "results/report/report.html."
    ),
}


def write_snakemake_captions(directory: str | os.PathLike) -> dict[str, Path]:
    """Writes each caption of :data:`SNAKEMAKE_CAPTIONS` as ``directory/<name>.rst``; returns the paths."""
    paths = {name: Path(directory) / f"{name}.rst" for name in plan.SNAKEMAKE_CAPTIONS}
    for name, path in paths.items():
        write_text(path, SNAKEMAKE_CAPTIONS[name] + "\n")
    return paths
