"""The entry points of the figure rules: read the results tables, draw, save as SVG.

:func:`write_figures` makes the curve figures of one dataset and experiment (rule ``figures``),
:func:`write_study_figures` the study-wide ones of :func:`lossatlas.plan.study_figures` (rule
``study_figures``). Every table is read with :func:`lossatlas.results.read`, cell coordinates as text.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import pandas as pd

from lossatlas import results
from lossatlas.figures.article import plot_article_seeds
from lossatlas.figures.curves import plot_loss_curves, plot_test_rmse
from lossatlas.figures.grid import plot_nrmse_heatmap
from lossatlas.figures.scale import plot_gradient_curves, plot_nrmse_vs_scale, plot_scale_diagnostics
from lossatlas.figures.style import check_columns, save_svg
from lossatlas.plan import CURVE_FIGURES, study_figures

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
) -> None:
    """Writes the curve figures of ``dataset`` in ``experiment`` as SVG: ``outputs["loss_curves"]``
    (each loss's floor from the floors table drawn where it has one) and ``outputs["test_rmse"]``
    (the noise sd drawn when it is known).

    Args:
        curves_path: ``results/aggregate/curves.parquet``.
        floors_path: ``results/aggregate/floors.csv``.
        outputs: figure kind (:data:`lossatlas.plan.CURVE_FIGURES`) -> SVG path; other keys are ignored.
        noise_sd: the dataset's noise sd in target units; None when unknown (real data).
    """
    curves = results.read(curves_path, "curves")
    curves = curves[(curves["dataset"] == dataset) & (curves["experiment"] == experiment)]
    if curves.empty:
        raise ValueError(f"{curves_path} has no curves for dataset {dataset!r} in experiment {experiment!r}")
    missing = [kind for kind in CURVE_FIGURES if kind not in outputs]
    if missing:
        raise ValueError(f"no output path for figure(s) {', '.join(missing)}")
    floors = floor_values(results.read(floors_path, "floors"), dataset, experiment)
    fig, _ = plot_loss_curves(curves, floors)
    save_svg(fig, outputs["loss_curves"])
    fig, _ = plot_test_rmse(curves, noise_sd)
    save_svg(fig, outputs["test_rmse"])


def matches(frame: pd.DataFrame, spec: Mapping, columns: Sequence[str]) -> pd.Series:
    """The rows of ``frame`` whose ``columns`` equal the values ``spec`` gives them."""
    mask = pd.Series(True, index=frame.index)
    for column in columns:
        mask &= frame[column] == spec[column]
    return mask


def write_study_figures(
    study,
    outputs: Mapping[str, str | os.PathLike],
    cells_path: str | os.PathLike,
    curves_path: str | os.PathLike,
    slopes_path: str | os.PathLike,
    runs_path: str | os.PathLike,
    summary_path: str | os.PathLike,
) -> None:
    """Makes every figure of :func:`lossatlas.plan.study_figures` and writes it to ``outputs[name]``.

    Args:
        cells_path: ``results/aggregate/cells.csv``; curves_path: ``results/aggregate/curves.parquet``.
        slopes_path, runs_path, summary_path: ``scale_slopes.csv``, ``article_runs.csv`` and
            ``article_summary.csv`` of ``results/analysis/``.
    """
    plan = study_figures(study)
    if set(outputs) != set(plan):
        raise ValueError(f"outputs {sorted(outputs)} do not match the study's figures {sorted(plan)}")
    cells = results.read(cells_path, "cells")
    slopes = results.read(slopes_path)
    curves = None
    for name, spec in plan.items():
        kind = spec["kind"]
        if kind == "article_seeds":
            fig, _ = plot_article_seeds(results.read(runs_path), results.read(summary_path))
        elif kind == "nrmse_heatmap":
            experiment = study.experiments[spec["experiment"]]
            subset = cells[matches(cells, spec, ("experiment", "model", "targets"))]
            excluded = [
                (item.cell.dataset, item.cell.optimizer, item.cell.loss, item.cell.activation)
                for item in study.excluded
                if (item.cell.experiment, item.cell.model, item.cell.targets)
                == (spec["experiment"], spec["model"], spec["targets"])
            ]
            fig, _ = plot_nrmse_heatmap(
                subset, list(experiment.datasets), list(experiment.optimizers), list(experiment.losses),
                list(experiment.activations), excluded,
                title=f"experiment {spec['experiment']} · model {spec['model']} · {spec['targets']} targets",
            )
        elif kind == "gradient_curves":
            if curves is None:
                curves = results.read(curves_path, "curves")
            subset = curves[matches(curves, spec, ("dataset", "model", "targets"))]
            fig, _ = plot_gradient_curves(subset, spec["panels"])
        elif kind == "scale_diagnostics":
            columns = ("experiment", "model", "targets", "activation")
            chosen = slopes[matches(slopes, spec, columns)]
            fig, _ = plot_scale_diagnostics(
                cells[matches(cells, spec, columns)], chosen, spec["scales"], spec["optimizers"], spec["losses"]
            )
        elif kind == "nrmse_vs_scale":
            subset = cells[matches(cells, spec, ("experiment", "model"))]
            fig, _ = plot_nrmse_vs_scale(
                subset, spec["scales"], spec["targets"], spec["optimizers"], spec["losses"], spec["activations"]
            )
        else:  # pragma: no cover - study_figures makes no other kind
            raise ValueError(f"unknown figure kind {kind!r}")
        save_svg(fig, outputs[name])
