"""Every caption and table title of the report, in one place.

The paper's figure captions (:func:`curve_captions`, :func:`study_figure_caption`), its table
titles and captions (:data:`TABLE_TITLES`, :func:`table_captions`), and the short captions of
Snakemake's own report (:data:`SNAKEMAKE_CAPTIONS`, written as ``.rst`` files by
:func:`write_snakemake_captions` so that ``snakemake --report`` reads them from here too). Every
number in a caption comes from the config, the results tables or :mod:`lossatlas.plan`, formatted
by :mod:`lossatlas.textfmt`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from lossatlas import plan
from lossatlas.atomic import write_text
from lossatlas.source import N_TEST
from lossatlas.textfmt import format_counts, format_known, format_number, join_words

# --------------------------------------------------------------------------------------------
# Curve figures of one dataset and experiment
# --------------------------------------------------------------------------------------------

# Fields from curve_captions.
CURVE_CAPTIONS = {
    "loss_curves": (
        "Training loss vs epoch on dataset {dataset}, experiment {experiment} ({n_cells} cells, {n_seeds} "
        "seeds each, {epochs} epochs), one panel per loss function{panel_note} (values of different losses "
        "are not comparable). The training loss of an epoch is the one fit reports (batch losses weighted by batch "
        "size), recorded {schedule}. Lines: mean over seeds; shaded bands: 95% percentile-bootstrap confidence "
        "interval of the mean; seeds with a non-finite value are left out.{thinning} {floors} {selection}"
    ),
    "test_rmse": (
        "Test RMSE (target units) vs epoch on dataset {dataset}, experiment {experiment}, one panel per loss "
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


def thinning_note(points: int) -> str:
    """The caption's note that curves of more than :data:`lossatlas.plan.MAX_POINTS` evaluation
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
        texts = [FLOOR_FORMULAS[loss].format(format_number(values[loss])) for loss in FLOOR_FORMULAS if loss in values]
        if texts:
            unit = "" if targets == "raw" else " (in standardized units, averaged over seeds)"
            parts.append(f"{style} lines: each loss's floor for {targets} targets{unit}, the training loss of the noise-free "
                         f"generating function: {'; '.join(texts)}.")
    if not parts:
        return "No loss of this figure has a closed-form floor."
    return " ".join(parts) + " Huber and log-cosh have no closed-form floor and get none."


def curve_captions(dataset: str, experiment: str, cells: pd.DataFrame, study, floors: pd.DataFrame,
                   summarised: Sequence[str] = ()) -> dict[str, str]:
    """The caption of each curve figure (:data:`lossatlas.plan.CURVE_FIGURES`) of ``dataset`` in
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
        "thinning": thinning_note(plan.evaluation_points(spec.epochs, spec.eval_every) if spec else 0),
        "selection": f"Curves are drawn for the experiments with at most {format_number(plan.CURVE_CELL_LIMIT)} cells on a dataset{more}",
        "floors": floors_caption(floors, noise_sd),
        "noise": noise,
    }
    return {kind: caption.format(**fields) for kind, caption in CURVE_CAPTIONS.items()}


# --------------------------------------------------------------------------------------------
# Study-wide figures
# --------------------------------------------------------------------------------------------


def study_figure_caption(spec: Mapping, study, cells: pd.DataFrame) -> str:
    """The caption of a study-wide figure: ``spec`` is its entry of :func:`lossatlas.plan.study_figures`."""
    kind = spec["kind"]
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
        part = cells[(cells["experiment"] == spec["experiment"]) & (cells["model"] == spec["model"]) & (cells["targets"] == spec["targets"])]
        return (
            f"Median final test nRMSE over the seeds ({format_counts(part['n_seeds'])} per cell) of every cell of experiment "
            f"{spec['experiment']}, model {spec['model']}, {spec['targets']} targets ({format_number(len(part))} cells). "
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
            f"article's cells on dataset {spec['dataset']} with {spec['targets']} targets and model {spec['model']}: "
            "sigmoid + MSE (example 2), sigmoid + binary cross-entropy (example 3) and linear + MSE. Panels: "
            f"experiment · optimizer (epochs: {epochs}). Lines: mean over seeds; shaded bands: 95% "
            "percentile-bootstrap confidence interval of the mean. Log y axis."
            + thinning_note(max(plan.evaluation_points(e.epochs, e.eval_every) for e in experiments))
        )
    scales = join_words([format_number(s) for s in sorted(spec["scales"].values())])
    if kind == "scale_diagnostics":
        return (
            "Gradient norm of the output layer at the initial weights (top row; the gradient of the mean loss over "
            "the full training set, before any update) and norm of the total parameter update over the first epoch "
            f"(bottom row) vs the target scale ({scales}), log–log, on the datasets of the target-scale family; "
            f"experiment {spec['experiment']}, model {spec['model']}, raw targets, linear output, one panel per "
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
            f"model {spec['model']}. Panels: target preprocessing × optimizer; colour: loss; marker and dash: output "
            "activation. Dotted line: the noise floor, nRMSE = 1. Combinations left out before training have no line."
        )
    raise ValueError(f"unknown study figure kind {kind!r}; known: {', '.join(plan.STUDY_FIGURE_KINDS)}")


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

TABLE_TITLES = {"comparison": "Best loss per context, experiment {}", "dataset": "Results on dataset {}",
                "claims": "Claims and verdicts", "article:examples": "The article's examples over seeds",
                "article:comparison": "Example 3 against example 2, paired", "appendix": "Every cell"}


def table_caption(table: Mapping, study) -> str:
    """The caption of a report table (plain text: what it shows and what to look at), by its ``key``."""
    key = table["key"]
    if key.startswith("comparison:"):
        alpha = format_number(plan.statistics(study)["alpha"])
        return (
            f"Best loss per context of experiment {table['experiment']} ({table['n_contexts']} contexts with two or "
            f"more losses; significantly best in {table['n_all_beaten']}), with its median test nRMSE; * marks a loss "
            f"significantly better than every other loss of its context (paired Wilcoxon, Holm at {alpha}). Columns: "
            f"{table['column_heading'].lower()}. Look at which loss wins most columns and where it carries a *."
        )
    if key.startswith("dataset:"):
        threshold = format_number(study.config["metrics"]["nrmse_threshold"])
        return (
            f"Results on dataset {table['dataset']}, by experiment: test nRMSE mean over the seeds that did not diverge "
            f"[95% BCa bootstrap CI] (1 is the noise floor; lower is better), median and IQM; divergence, stagnation "
            f"and reach rates; Kaplan–Meier median steps to nRMSE ≤ {threshold}. Look at the nRMSE of sigmoid and "
            "tanh outputs against linear ones, and at the stagnation rate."
        )
    if key == "claims":
        return ("The article's claims, the rule that decides each, and the verdicts computed from the results. "
                "Look at the verdict and at how many contexts the claim holds in.")
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
            "Every cell: test RMSE and MAE (target units) and final training loss (in the units trained in), mean "
            "[95% BCa CI] over the seeds that did not diverge; mean R² (mean best R²)."
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
#: the names of :data:`lossatlas.plan.SNAKEMAKE_CAPTIONS`.
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
        "Median final test nRMSE of every cell of one experiment, model and target preprocessing: panels dataset × "
        "optimizer, rows losses, columns output activations; log colour scale, 1 is the noise floor. Hatched: excluded "
        "before training; †: the output cannot reach the targets. Look at the sigmoid/tanh columns of MSE against the "
        "other losses." + FULL
    ),
    "report": (
        "The paper-style report of this run, the main result: question, method (from the config run), numbered tables "
        "and figures with captions, claims and verdicts, the article's examples over seeds, threats to validity, every "
        "cell, provenance, how to reproduce and how to cite. The HTML is self-contained; the PDF is its A4 print."
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
