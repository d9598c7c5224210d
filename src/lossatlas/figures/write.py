"""The entry points of the figure rules: read the results tables, draw, save as SVG with the numbers
each figure plots as CSV next to it (``<figure>.csv``, :func:`lossatlas.figures.style.save_figure`).

:func:`write_curve_figures` makes the curve figures of every dataset and experiment (rule ``figures``;
:func:`write_figures` those of one),
:func:`write_study_figures` those of the study-wide ones of :func:`lossatlas.design.plan.study_figures`
it is given (rules ``study_figures_<group>``, one per group of
:func:`lossatlas.design.plan.study_figure_groups`). Every table is read with
:func:`lossatlas.core.results.read`, cell labels as text and the learning rate as a number; every
figure that shows one rate per cell shows the default view (:func:`lossatlas.design.views.at_default`).
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import pandas as pd

from lossatlas.core import results
from lossatlas.data.datasets import load_dataset
from lossatlas.design.plan import CURVE_FIGURES, STUDY_FIGURE_TABLES, config_cells, study_figures
from lossatlas.design.selection import select_rows
from lossatlas.design.views import at_default, default_rates
from lossatlas.figures.article import plot_article_seeds
from lossatlas.figures.curves import plot_loss_curves, plot_test_rmse
from lossatlas.figures.grid import plot_nrmse_heatmap
from lossatlas.figures.mechanism import plot_mechanism
from lossatlas.figures.scale import plot_gradient_curves, plot_nrmse_vs_scale, plot_scale_diagnostics
from lossatlas.figures.style import check_columns, save_figure
from lossatlas.figures.time import panel_targets, plot_lr_sensitivity, plot_time_to_target, rows_by_cell, time_lines

FLOOR_COLUMNS = ["experiment", "dataset", "targets", "loss", "floor"]


def floor_values(floors: pd.DataFrame, dataset: str, experiment: str) -> dict[tuple[str, str], float]:
    """``(loss, targets) -> floor`` of ``dataset`` in ``experiment``, from the floors table
    (``results/aggregate/floors.csv``)."""
    check_columns(floors, FLOOR_COLUMNS, "floors")
    rows = floors[(floors["dataset"] == dataset) & (floors["experiment"] == experiment)]
    return {(str(row.loss), str(row.targets)): float(row.floor) for row in rows.itertuples(index=False)}


def write_figures(
    curves_path: str | os.PathLike,
    floors_path: str | os.PathLike,
    dataset: str,
    experiment: str,
    outputs: Mapping[str, str | os.PathLike],
    noise_sd: float | None = None,
    study=None,
) -> None:
    """Writes the curve figures of ``dataset`` in ``experiment`` as SVG: ``outputs["loss_curves"]``
    (each loss's floor from the floors table drawn where it has one) and ``outputs["test_rmse"]``
    (the noise sd drawn when it is known), each with its data as CSV next to it.

    Args:
        curves_path: ``results/aggregate/curves.parquet``.
        floors_path: ``results/aggregate/floors.csv``.
        outputs: figure kind (:data:`lossatlas.design.plan.CURVE_FIGURES`) -> SVG path; other keys are ignored.
        noise_sd: the dataset's noise sd in target units; None when unknown (real data).
        study: the study: the curves drawn are its default view, and those of a horizon experiment
            get its budget marked; None: every curve of the table, no budget.
    """
    write_curve_figures(curves_path, floors_path, {dataset: {experiment: outputs}}, {dataset: noise_sd}, study)


def write_curve_figures(
    curves_path: str | os.PathLike,
    floors_path: str | os.PathLike,
    figures: Mapping[str, Mapping[str, Mapping[str, str | os.PathLike]]],
    noise_sd: Mapping[str, float | None],
    study=None,
) -> None:
    """:func:`write_figures` for every dataset and experiment of ``figures`` (dataset -> experiment
    -> its ``outputs``; ``noise_sd``: dataset -> its noise sd or None), the two tables read once
    (rule ``figures``: one process draws every curve figure)."""
    all_curves = results.read(curves_path, "curves")
    all_floors = results.read(floors_path, "floors")
    rows_of = all_curves.groupby(["dataset", "experiment"], sort=False).indices  # the rows of each pair, in order
    for dataset, experiments in figures.items():
        for experiment, outputs in experiments.items():
            curves = all_curves.iloc[rows_of.get((dataset, experiment), [])]
            budget = None
            if study is not None:
                curves = at_default(curves, study)
                spec = study.experiments.get(experiment)
                budget = spec.epochs if spec is not None and spec.horizon else None
            if curves.empty:
                raise ValueError(f"{curves_path} has no curves for dataset {dataset!r} in experiment {experiment!r}")
            missing = [kind for kind in CURVE_FIGURES if kind not in outputs]
            if missing:
                raise ValueError(f"no output path for figure(s) {', '.join(missing)}")
            floors = floor_values(all_floors, dataset, experiment)
            fig, _, data = plot_loss_curves(curves, floors, budget=budget)
            save_figure(fig, data, outputs["loss_curves"])
            fig, _, data = plot_test_rmse(curves, noise_sd.get(dataset), budget=budget)
            save_figure(fig, data, outputs["test_rmse"])


def matches(frame: pd.DataFrame, spec: Mapping, columns: Sequence[str]) -> pd.Series:
    """The rows of ``frame`` whose ``columns`` equal the values ``spec`` gives them."""
    mask = pd.Series(True, index=frame.index)
    for column in columns:
        mask &= frame[column] == spec[column]
    return mask


def with_context(data: pd.DataFrame, spec: Mapping, columns: Sequence[str]) -> pd.DataFrame:
    """``data`` with the coordinates ``columns`` a figure holds fixed (their values in ``spec``) as its first columns."""
    fixed = [column for column in columns if column not in data.columns]
    return pd.concat([pd.DataFrame({column: [spec[column]] * len(data) for column in fixed}, index=data.index), data], axis=1)


def read_evals(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """The evaluations of the training jobs ``paths`` (``evals.parquet``), the columns the
    time-to-target figure reads, labels as text and the rate as a number."""
    columns = [*results.CELL, "seed", "epoch", "step", "test_rmse"]
    frames = []
    for path in paths:
        frame = results.read(path)
        check_columns(frame, columns, f"evals ({path})")
        frames.append(frame[columns])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def rrmse_datasets(study, figure_plan: Mapping[str, Mapping]) -> list[str]:
    """The datasets, in config order, whose cells a time-to-target figure of ``figure_plan``
    (:func:`lossatlas.design.plan.study_figures`) draws in rRMSE (:meth:`lossatlas.design.study.Study.fit_target`):
    those whose arrays (``ols_rmse_test``) :func:`write_study_figures` needs."""
    specs = [spec for spec in figure_plan.values() if spec["kind"] == "time_to_target"]
    cells = config_cells(study) if specs else None
    wanted: set[str] = set()
    for spec in specs:
        selected = select_rows(cells, spec["select"])
        wanted |= {label for label in selected["dataset"].astype(str) if study.fit_target(label)[0] == "rrmse"}
    return [label for label in study.datasets if label in wanted]


def read_datasets(paths: Mapping[str, str | os.PathLike | Sequence[str | os.PathLike]], labels: Sequence[str]) -> dict:
    """The arrays of the datasets ``labels`` (label -> arrays, :func:`lossatlas.data.datasets.load_dataset`)
    from ``paths``: label -> its ``.npz``, or ``(npz, manifest)`` to check its SHA-256 as well.
    ValueError naming the labels ``paths`` lacks."""
    missing = [label for label in labels if label not in paths]
    if missing:
        raise ValueError(f"the time-to-target figures draw rRMSE on dataset(s) {', '.join(missing)}: pass their arrays "
                         "(results/datasets/<label>.npz and its manifest) as datasets")
    arrays = {}
    for label in labels:
        path = paths[label]
        data, manifest = (path, None) if isinstance(path, (str, os.PathLike)) else tuple(path)
        arrays[label] = load_dataset(data, manifest)
    return arrays


def write_study_figures(
    study,
    outputs: Mapping[str, str | os.PathLike],
    cells_path: str | os.PathLike | None = None,
    curves_path: str | os.PathLike | None = None,
    slopes_path: str | os.PathLike | None = None,
    runs_path: str | os.PathLike | None = None,
    summary_path: str | os.PathLike | None = None,
    tuned_path: str | os.PathLike | None = None,
    mechanism_path: str | os.PathLike | None = None,
    evals_paths: Sequence[str | os.PathLike] = (),
    claims: Sequence[dict] | None = None,
    datasets: Mapping[str, str | os.PathLike | Sequence[str | os.PathLike]] | None = None,
) -> None:
    """Makes the figures of :func:`lossatlas.design.plan.study_figures` named in ``outputs`` and writes
    each to ``outputs[name]`` (SVG), with its data as CSV next to it; each table is read once, and
    only when a figure drawn needs it: a figure reads only the tables
    :data:`lossatlas.design.plan.STUDY_FIGURE_TABLES` lists for its kind (rules ``study_figures_<group>``:
    one job per group of :func:`lossatlas.design.plan.study_figure_groups`, given those tables).

    Args:
        cells_path: ``results/aggregate/cells.csv``; curves_path: ``results/aggregate/curves.parquet``.
        slopes_path, runs_path, summary_path: ``scale_slopes.csv``, ``article_runs.csv`` and
            ``article_summary.csv`` of ``results/analysis/``.
        tuned_path, mechanism_path: ``tuned_rates.csv`` and ``mechanism.csv`` of ``results/analysis/``.
        evals_paths: the ``evals.parquet`` of the jobs of :func:`lossatlas.design.plan.time_jobs`.
        claims: the claims of the config's claims file (read from the config when None).
        datasets: dataset label -> its arrays' file (``results/datasets/<label>.npz``), or the pair
            ``(npz, manifest)``: needed for every dataset of :func:`rrmse_datasets` (the time
            figures draw the test rRMSE there, over each seed's ``ols_rmse_test``); others are not read.
    Raises:
        ValueError: no figure, a name the study does not plan, a figure drawn whose table's path is
            None, or one that reads a table its kind does not list.
    """
    figure_plan = study_figures(study, claims)
    unknown = sorted(set(outputs) - set(figure_plan))
    if unknown or not outputs:
        raise ValueError(f"outputs {sorted(outputs)} are not among the study's figures {sorted(figure_plan)}")
    paths = {"cells": cells_path, "curves": curves_path, "slopes": slopes_path, "article_runs": runs_path,
             "article_summary": summary_path, "tuned_rates": tuned_path, "mechanism": mechanism_path}
    read: dict[str, pd.DataFrame] = {}
    defaults: dict[str, pd.DataFrame] = {}

    def listed(key: str, name: str) -> None:
        kind = figure_plan[name]["kind"]
        if key not in STUDY_FIGURE_TABLES[kind]:
            raise ValueError(f"study figure {name!r} reads the {key} table, which STUDY_FIGURE_TABLES does not list for {kind}")

    def table(key: str, name: str) -> pd.DataFrame:
        """The table ``key`` of ``paths``, read at its first use (figure ``name``)."""
        listed(key, name)
        if key not in read:
            if paths[key] is None:
                raise ValueError(f"study figure {name!r} needs the {key} table; its path is None")
            read[key] = results.read(paths[key], key if key in ("cells", "curves") else None)
        return read[key]

    def default_view(key: str, name: str) -> pd.DataFrame:
        """The default view (:func:`lossatlas.design.views.at_default`) of the cells or curves table."""
        if key not in defaults:
            defaults[key] = at_default(table(key, name), study)
        return defaults[key]

    evals = arrays = rows_of = None
    for name in [name for name in figure_plan if name in outputs]:
        spec = figure_plan[name]
        kind = spec["kind"]
        if kind == "article_seeds":
            fig, _, data = plot_article_seeds(table("article_runs", name), table("article_summary", name))
        elif kind == "nrmse_heatmap":
            experiment = study.experiments[spec["experiment"]]
            columns = ("experiment", "model", "inputs", "targets")
            cells = default_view("cells", name)
            subset = cells[matches(cells, spec, columns)]
            excluded = [
                (item.cell.dataset, item.cell.optimizer, item.cell.loss, item.cell.activation)
                for item in study.excluded
                if tuple(getattr(item.cell, c) for c in columns) == tuple(spec[c] for c in columns)
            ]
            inputs = f" · {spec['inputs']} inputs" if len(experiment.inputs) > 1 else ""
            fig, _, data = plot_nrmse_heatmap(
                subset, list(experiment.datasets), list(experiment.optimizers), list(experiment.losses),
                list(experiment.activations), excluded,
                title=f"experiment {spec['experiment']} · model {spec['model']}{inputs} · {spec['targets']} targets",
            )
            data = with_context(data, spec, ("experiment", "model", "inputs", "targets"))
        elif kind == "gradient_curves":
            curves = default_view("curves", name)
            subset = curves[matches(curves, spec, ("dataset", "model", "inputs", "targets"))]
            fig, _, data = plot_gradient_curves(subset, spec["panels"])
        elif kind == "scale_diagnostics":
            columns = ("experiment", "model", "inputs", "targets", "activation")
            slopes, cells = table("slopes", name), default_view("cells", name)
            fig, _, data = plot_scale_diagnostics(
                cells[matches(cells, spec, columns)], slopes[matches(slopes, spec, columns)], spec["scales"],
                spec["optimizers"], spec["losses"]
            )
            data = with_context(data, spec, columns)
        elif kind == "nrmse_vs_scale":
            cells = default_view("cells", name)
            subset = cells[matches(cells, spec, ("experiment", "model", "inputs"))]
            fig, _, data = plot_nrmse_vs_scale(
                subset, spec["scales"], spec["targets"], spec["optimizers"], spec["losses"], spec["activations"]
            )
            data = with_context(data, spec, ("experiment", "model", "inputs"))
        elif kind == "time_to_target":
            for key in ("evals", "data", "manifests"):
                listed(key, name)
            if evals is None:
                evals = read_evals(evals_paths)
                rows_of = rows_by_cell(evals)
            if arrays is None:
                arrays = read_datasets(datasets or {}, rrmse_datasets(study, figure_plan))
            tuned = table("tuned_rates", name) if tuned_path is not None else None
            lines = time_lines(evals, table("cells", name), study, spec, tuned, arrays, rows_of)
            fig, _, data = plot_time_to_target(lines, spec, panel_targets(study, spec))
        elif kind == "lr_sensitivity":
            fig, _, data = plot_lr_sensitivity(table("cells", name), table("tuned_rates", name), spec["panels"],
                                               default_rates(study), study.config["metrics"]["nrmse_threshold"],
                                               [study.fit_target(str(panel["dataset"])) for panel in spec["panels"]])
        elif kind == "mechanism":
            fig, _, data = plot_mechanism(table("mechanism", name))
        else:  # pragma: no cover - study_figures makes no other kind
            raise ValueError(f"unknown figure kind {kind!r}")
        save_figure(fig, data, outputs[name])
