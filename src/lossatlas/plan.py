"""Which figures and tables a study gets, decided from the config alone.

The workflow must know every output before anything runs, and a table's id (``T1``, ``T2``, ...)
must be the same for every run of one config; so what is drawn and tabulated is decided here, from
the :class:`lossatlas.config.Study`, and both :mod:`lossatlas.figures` and :mod:`lossatlas.report`
(and ``workflow/rules/report.smk``) read it from here. The drawing limits that captions quote live
here too, so that a caption and its figure cannot disagree.

Imports the standard library and pandas only: no Matplotlib, no TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from lossatlas.results import CELL

#: Curve figures of a dataset are drawn for the experiments with at most this many cells on it; the
#: larger ones (the full grid) are summarised by the heatmaps instead. The dataset's results table
#: lists the same experiments.
CURVE_CELL_LIMIT = 40
#: A curve is drawn at this many evenly spaced evaluation points at most.
MAX_POINTS = 400
#: A curve panel shows at most this many lines; with more, each loss gets a panel per activation.
MAX_LINES_PER_PANEL = 12
#: The article's cells (loss, output activation), on its small-target data and its Dense(1) model.
ARTICLE_CELLS = (("mse", "sigmoid"), ("binary_crossentropy", "sigmoid"), ("mse", "linear"))
ARTICLE_FAMILY = "seed_small"
SCALE_FAMILY = "target_scale"
#: The curve figures of one dataset and experiment.
CURVE_FIGURES = ("loss_curves", "test_rmse")
#: The kinds of study-wide figure, in report order (see :func:`study_figures`).
STUDY_FIGURE_KINDS = ("article_seeds", "gradient_curves", "scale_diagnostics", "nrmse_vs_scale", "nrmse_heatmap")
#: The short captions of Snakemake's own report (``snakemake --report``), one file each, written by
#: the report rule from :mod:`lossatlas.report.captions`.
SNAKEMAKE_CAPTIONS = (*CURVE_FIGURES, *STUDY_FIGURE_KINDS, "report", "table")
#: Formats every report table is written in, next to the report.
TABLE_FORMATS = ("csv", "tex", "md")
#: The coordinates of a context in which losses are compared: a cell's, but the loss.
LOSS_CONTEXT = [c for c in CELL if c != "loss"]


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


def statistics(study) -> dict:
    """The statistics settings every stage shares: ``alpha`` (family-wise level of the Holm
    corrections) and ``bootstrap_resamples``."""
    section = study.config["statistics"]
    return {"alpha": section["alpha"], "bootstrap_resamples": section["bootstrap_resamples"]}


def evaluation_points(epochs: int, eval_every: int) -> int:
    """How many evaluation points a trial of ``epochs`` records: the initial weights (epoch 0),
    epoch 1, every ``eval_every``-th epoch and the last (as :func:`lossatlas.engine.eval_schedule`)."""
    return len({0, min(1, epochs), epochs, *range(eval_every, epochs + 1, eval_every)})


def panel_by_activation(lines_per_loss: float, n_activations: int) -> bool:
    """Whether a curve figure gives each loss a panel per output activation: when a loss would
    otherwise have more than :data:`MAX_LINES_PER_PANEL` lines and the activation varies."""
    return lines_per_loss > MAX_LINES_PER_PANEL and n_activations > 1


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def report_datasets(study) -> list[str]:
    """The datasets some cell trains on, in config order: each gets a results section."""
    used = {cell.dataset for cell in study.cells}
    return [label for label in study.datasets if label in used]


def curve_experiments(study, dataset: str) -> list[str]:
    """The experiments whose curves of ``dataset`` get figures, in config order: those with at most
    :data:`CURVE_CELL_LIMIT` cells on it."""
    counts: dict[str, int] = {}
    for cell in study.cells:
        if cell.dataset == dataset:
            counts[cell.experiment] = counts.get(cell.experiment, 0) + 1
    return [e for e in study.experiments if 0 < counts.get(e, 0) <= CURVE_CELL_LIMIT]


def overview_experiment(study) -> str:
    """The experiment with the most datasets (the first in config order on a tie): the heatmaps' one."""
    order = list(study.experiments)
    return max(order, key=lambda label: (len(study.experiments[label].datasets), -order.index(label)))


def article_model(study) -> str | None:
    """The first model that is the article's single Dense(1) layer, or None."""
    return next((label for label, model in study.models.items() if not model.hidden_units), None)


def _has(study, **coordinates) -> bool:
    return any(all(getattr(cell, k) == v for k, v in coordinates.items()) for cell in study.cells)


def gradient_plan(study) -> dict | None:
    """The panels of the gradient-norm-vs-epoch figure: the article's cells on the first dataset of
    the article's small-target family, raw targets, the article's model; per optimizer of the
    overview experiment and of the experiment with the most epochs that has one of those cells.
    None when no experiment has them."""
    model = article_model(study)
    dataset = next((label for label, spec in study.datasets.items() if spec.family == ARTICLE_FAMILY), None)
    if model is None or dataset is None:
        return None

    def panels(experiment):
        return [
            (experiment, optimizer)
            for optimizer in study.experiments[experiment].optimizers
            if any(_has(study, experiment=experiment, dataset=dataset, targets="raw", model=model, optimizer=optimizer,
                        loss=loss, activation=activation) for loss, activation in ARTICLE_CELLS)
        ]

    order = list(study.experiments)
    main = overview_experiment(study)
    longest = max(order, key=lambda label: (study.experiments[label].epochs, -order.index(label)))
    chosen = [main] if longest == main else [main, longest]
    result = [panel for experiment in chosen for panel in panels(experiment)]
    if not result:
        return None
    return {"dataset": dataset, "model": model, "targets": "raw", "panels": result}


def scale_plan(study) -> dict | None:
    """The datasets, experiment and model of the figures against the target scale: the experiment
    with the most datasets of the target-scale family (at least two), the article's model. None
    when no experiment has two target scales."""
    model = article_model(study)
    scaled = {label: spec.scale for label, spec in study.datasets.items() if spec.family == SCALE_FAMILY}
    best = None
    for label, experiment in study.experiments.items():
        datasets = [d for d in experiment.datasets if d in scaled and _has(study, experiment=label, dataset=d, model=model)]
        if len(datasets) >= 2 and (best is None or len(datasets) > len(best[1])):
            best = (label, datasets)
    if model is None or best is None:
        return None
    label, datasets = best
    experiment = study.experiments[label]
    return {
        "experiment": label,
        "model": model,
        "scales": {d: scaled[d] for d in datasets},
        "targets": list(experiment.targets),
        "optimizers": list(experiment.optimizers),
        "losses": list(experiment.losses),
        "activations": list(experiment.activations),
    }


def study_figures(study) -> dict[str, dict]:
    """The study-wide figures, in report order: name -> ``{"kind", ...}`` with what each shows.

    Kinds (:data:`STUDY_FIGURE_KINDS`): ``article_seeds`` (always), ``gradient_curves``
    (:func:`gradient_plan`), ``scale_diagnostics`` (raw targets, linear output) and
    ``nrmse_vs_scale`` (:func:`scale_plan`), ``nrmse_heatmap`` (one per model and target
    preprocessing of :func:`overview_experiment`).
    """
    figures = {"article_seeds": {"kind": "article_seeds"}}
    gradients = gradient_plan(study)
    if gradients:
        figures["gradient_curves"] = {"kind": "gradient_curves", **gradients}
    scales = scale_plan(study)
    if scales:
        if "raw" in scales["targets"] and "linear" in scales["activations"]:
            figures["scale_diagnostics"] = {"kind": "scale_diagnostics", **scales, "targets": "raw", "activation": "linear"}
        figures["nrmse_vs_scale"] = {"kind": "nrmse_vs_scale", **scales}
    experiment = overview_experiment(study)
    spec = study.experiments[experiment]
    for model in spec.models:
        for targets in spec.targets:
            if _has(study, experiment=experiment, model=model, targets=targets):
                figures[f"nrmse_heatmap_{experiment}_{model}_{targets}"] = {
                    "kind": "nrmse_heatmap", "experiment": experiment, "model": model, "targets": targets,
                }
    return figures


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def cell_key(cell) -> tuple:
    """A cell's coordinates in :data:`lossatlas.results.CELL` order (``cell``: a Cell or a cells-table row)."""
    return tuple(str(getattr(cell, column)) for column in CELL)


def config_cells(study) -> pd.DataFrame:
    """The cells the config defines, as a frame with the coordinate columns of the cells table."""
    return pd.DataFrame([cell_key(cell) for cell in study.cells], columns=list(CELL))


def listed_experiments(cells: pd.DataFrame, dataset: str, order: Sequence[str] = ()) -> list[str]:
    """The experiments whose cells on ``dataset`` the dataset's results table lists: those with at
    most :data:`CURVE_CELL_LIMIT` cells there (the same that get curve figures), in ``order``
    (then sorted)."""
    counts = cells.loc[cells["dataset"] == dataset, "experiment"].value_counts()
    chosen = {e for e, n in counts.items() if n <= CURVE_CELL_LIMIT}
    return [e for e in order if e in chosen] + sorted(chosen - set(order))


def table_plan(study, with_analysis: bool = True) -> list[str]:
    """The keys of the report's tables in the order it shows them, from the config alone (so that
    their ids ``T1, T2, ...`` are the same for every run of one config): one best-loss table per
    experiment with a context of two or more losses (``"comparison:<experiment>"``), one results
    table per dataset with a listed experiment (``"dataset:<dataset>"``), the claims
    (``"claims"``), the article's two tables (``"article:examples"``, ``"article:comparison"``)
    and every cell (``"appendix"``)."""
    cells = config_cells(study)
    keys = []
    if with_analysis:
        for experiment in study.experiments:
            part = cells[cells["experiment"] == experiment]
            if not part.empty and (part.groupby(LOSS_CONTEXT)["loss"].nunique() >= 2).any():
                keys.append(f"comparison:{experiment}")
    for dataset in study.datasets:
        if not cells[cells["dataset"] == dataset].empty and listed_experiments(cells, dataset, list(study.experiments)):
            keys.append(f"dataset:{dataset}")
    if with_analysis:
        keys += ["claims", "article:examples", "article:comparison"]
    return [*keys, "appendix"]


def table_ids(study, with_analysis: bool = True) -> dict[str, str]:
    """Table key (:func:`table_plan`) -> its id, ``"T1"``, ``"T2"``, ... in plan order."""
    return {key: f"T{number}" for number, key in enumerate(table_plan(study, with_analysis), 1)}


def table_paths(directory: str | os.PathLike, table_id: str) -> dict[str, Path]:
    """``{format: directory/<id>.<format>}`` for each of :data:`TABLE_FORMATS`."""
    return {fmt: Path(directory) / f"{table_id}.{fmt}" for fmt in TABLE_FORMATS}
