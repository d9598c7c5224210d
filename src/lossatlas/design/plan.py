"""Which figures and tables a study gets, decided from the config alone.

The workflow must know every output before anything runs, and a table's id (``T1``, ``T2``, ...)
must be the same for every run of one config; so what is drawn and tabulated is decided here, from
the :class:`lossatlas.design.study.Study` and its claims file (``config["claims"]``, read at parse time),
and both :mod:`lossatlas.figures` and :mod:`lossatlas.report` (and ``workflow/rules/report.smk``)
read it from here. The drawing limits that captions quote live here too, so that a caption and its
figure cannot disagree.

Everything the report showed before the learning rate became a coordinate (results per dataset,
curves, heatmaps, gradients, scale) shows the *default view*: each cell at its optimizer's default
rate (:func:`lossatlas.design.views.default_cells`, :func:`lossatlas.design.views.at_default`). Appendix A lists every cell.

Imports the standard library, pandas and the study's own modules: no Matplotlib, no TensorFlow.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from lossatlas.core.results import BASE, CELL, LOSS_CONTEXT
from lossatlas.core.schedule import eval_schedule
from lossatlas.design.claimspec import load_claims
from lossatlas.design.selection import RATE_FACTOR, rate_factor, select_rows
from lossatlas.design.views import VIEWS, default_cells, view

#: Curve figures of a dataset are drawn for the experiments with at most this many cells on it (in
#: the default view); the larger ones (the full grid) are summarised by the heatmaps instead. The
#: dataset's results table lists the same experiments.
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
#: The tables each kind of study-wide figure reads (kinds in report order, see :func:`study_figures`),
#: by the name of its input to the rules ``study_figures_<group>``: the aggregate's ``cells`` and
#: ``curves``; the analysis' ``slopes``, ``article_runs``, ``article_summary`` and ``mechanism``;
#: ``tuned_rates``; and for the time figures the evaluations of the jobs of :func:`time_jobs` (``evals``)
#: with the datasets' arrays and manifests (``data``, ``manifests``).
#: :func:`lossatlas.figures.write_study_figures` reads no other table for a kind.
STUDY_FIGURE_TABLES = {
    "article_seeds": ("article_runs", "article_summary"),
    "gradient_curves": ("curves",),
    "scale_diagnostics": ("slopes", "cells"),
    "nrmse_vs_scale": ("cells",),
    "nrmse_heatmap": ("cells",),
    "time_to_target": ("evals", "data", "manifests", "tuned_rates", "cells"),
    "lr_sensitivity": ("cells", "tuned_rates"),
    "mechanism": ("mechanism",),
}
#: The kinds of study-wide figure, in report order.
STUDY_FIGURE_KINDS = tuple(STUDY_FIGURE_TABLES)
#: The jobs the study-wide figures are drawn in, by the tables their kinds read
#: (:data:`STUDY_FIGURE_TABLES`), so that they run side by side: ``overview`` reads only the aggregate's
#: tables and ``rates`` the tuned rates with the training jobs' evaluations (both drawn while the
#: analysis runs), ``analysis`` the analysis tables (see :func:`study_figure_groups`).
STUDY_FIGURE_GROUPS = {
    "overview": ("gradient_curves", "nrmse_vs_scale", "nrmse_heatmap"),
    "rates": ("time_to_target", "lr_sensitivity"),
    "analysis": ("article_seeds", "scale_diagnostics", "mechanism"),
}
#: The short captions of Snakemake's own report (``snakemake --report``), one file each, written by
#: the report rule from :mod:`lossatlas.report.captions`.
SNAKEMAKE_CAPTIONS = (*CURVE_FIGURES, *STUDY_FIGURE_KINDS, "report", "table")
#: Formats every report table is written in, next to the report.
TABLE_FORMATS = ("csv", "tex", "md")
#: The coordinates of a panel of the learning-rate sensitivity figure (one line per loss and activation).
SENSITIVITY_CONTEXT = ["experiment", "dataset", "inputs", "targets", "model", "optimizer"]


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
    epoch 1, every ``eval_every``-th epoch and the last (:func:`lossatlas.core.schedule.eval_schedule`)."""
    return len(eval_schedule(epochs, eval_every))


def experiment_points(study, experiment: str, dataset: str) -> int:
    """Evaluation points of a trial of ``experiment`` on ``dataset`` trained as long as it can be:
    :func:`evaluation_points` of its budget, or for a horizon experiment its whole schedule up to
    the cap (:meth:`lossatlas.core.schedule.Horizon.schedule`)."""
    spec = study.experiments[experiment]
    if not spec.horizon:
        return evaluation_points(spec.epochs, spec.eval_every)
    return len(study.horizon(experiment, dataset).schedule(spec.eval_every))


def budget_steps(study, experiment: str, dataset: str) -> int:
    """Optimizer steps of the experiment's fixed budget (its epochs) on ``dataset``."""
    return study.steps_per_epoch(experiment, dataset) * study.experiments[experiment].epochs


def panel_by_activation(lines_per_loss: float, n_activations: int) -> bool:
    """Whether a curve figure gives each loss a panel per output activation: when a loss would
    otherwise have more than :data:`MAX_LINES_PER_PANEL` lines and the activation varies."""
    return lines_per_loss > MAX_LINES_PER_PANEL and n_activations > 1


# ---------------------------------------------------------------------------------------------
# The claims file
# ---------------------------------------------------------------------------------------------


def claims_path(study) -> Path:
    """The claims file of the config (``config["claims"]``): relative to the working directory (the
    workflow's), else to the checkout lossatlas is installed from."""
    path = Path(study.config["claims"])
    if path.is_absolute() or path.exists():
        return path
    checkout = Path(__file__).resolve().parents[3] / path
    return checkout if checkout.exists() else path


def claims_of(study) -> list[dict]:
    """The claims of the config's claims file, checked and with their defaults
    (:func:`lossatlas.design.claimspec.load_claims`)."""
    return load_claims(claims_path(study))["claims"]


def findings_of(study) -> list[dict] | None:
    """The ``findings`` of the config's claims file (the paper's numbered findings), None where it has none."""
    return load_claims(claims_path(study)).get("findings")


def paired(claims: Sequence[dict]) -> list[dict]:
    return [claim for claim in claims if claim["kind"] == "paired"]


def time_claims(claims: Sequence[dict]) -> list[dict]:
    """The paired claims judged by time to target."""
    return [claim for claim in paired(claims) if "time" in claim["judged_by"]]


def mechanism_claims(claims: Sequence[dict]) -> list[dict]:
    """The paired claims whose cells the mechanism table explains (:func:`lossatlas.analysis.mechanism.claim_cells`)."""
    return [claim for claim in paired(claims) if claim.get("contrast") != RATE_FACTOR]


def remedy_claims(claims: Sequence[dict]) -> list[dict]:
    """The claims marked ``remedy: true`` (the practitioner's table)."""
    return [claim for claim in paired(claims) if claim.get("remedy")]


def claim_view(frame: pd.DataFrame, comparison: dict, study, tuned: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows of ``frame`` (cells, trials or evals) that a comparison of time-judged claims makes
    in one context (:func:`comparisons`): ``comparison`` has the claims' ``select``, a ``context``
    (column -> value), the ``contrast``, its ``levels`` and the ``rate`` view
    (:mod:`lossatlas.design.views`; ``tuned``: ``tuned_rates.csv``); the rows get a ``level`` column (the
    contrast's value)."""
    rows = select_rows(frame, {**comparison["select"], **comparison["context"]})
    if comparison["contrast"] == RATE_FACTOR:
        rows = rows.assign(level=rate_factor(rows, study))
    else:
        empty = pd.DataFrame(columns=[*BASE, "tuned_learning_rate"])
        rows = view(rows, comparison["rate"], study, tuned if tuned is not None else empty, "time")
        rows = rows.assign(level=rows[comparison["contrast"]].astype(str))
    return rows[rows["level"].isin(list(comparison["levels"]))]


def figure_label(text: str) -> str:
    """``text`` fit for a figure's file name: characters other than letters, digits, ``-`` and ``_`` as ``_``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(text))


def time_groups(study, claims: Sequence[dict] | None = None) -> list[dict]:
    """The time-judged claims grouped by the cells they compare (claims with the same ``select``,
    ``contrast``, ``pairs`` and ``contexts`` share a group and a figure), in claims-file order.

    Returns:
        dicts ``name`` (``time_to_target_<ids>``), ``claims`` (the ids), ``select``, ``contrast``,
        ``pairs`` (``[better, baseline]``, as text), ``levels`` (every level of the pairs, in order),
        ``rates`` (the rate views any of the claims is judged at, in :data:`VIEWS` order),
        ``contexts`` (column -> value, one per combination of the ``contexts`` columns among the
        config's cells, sorted) and ``experiments``.
    """
    claims = claims_of(study) if claims is None else claims
    cells = config_cells(study)
    groups: dict[tuple, dict] = {}
    for claim in time_claims(claims):
        pairs = [[str(better), str(baseline)] for better, baseline in claim["pairs"]]
        columns = list(claim["contexts"])
        identity = (repr(sorted(claim["select"].items())), claim["contrast"], repr(pairs), repr(columns))
        rows = select_rows(cells, claim["select"])
        keys = sorted(dict.fromkeys(map(tuple, rows[columns].astype(str).itertuples(index=False)))) if columns else [()]
        group = groups.setdefault(identity, {
            "claims": [], "select": dict(claim["select"]), "contrast": claim["contrast"], "pairs": pairs,
            "levels": list(dict.fromkeys(level for pair in pairs for level in pair)), "rates": [],
            "contexts": [dict(zip(columns, key)) for key in keys], "experiments": sorted(set(rows["experiment"])),
        })
        group["claims"].append(str(claim["id"]))
        group["rates"] = [rate for rate in VIEWS if rate in group["rates"] or rate in claim["rates"]]
    for group in groups.values():
        group["name"] = "time_to_target_" + "_".join(figure_label(claim_id) for claim_id in group["claims"])
    return list(groups.values())


def comparisons(group: dict) -> list[dict]:
    """The comparisons of a group of :func:`time_groups`, one per context (``panel``: its index) and
    rate view, in the order the figure draws them: each for :func:`claim_view`."""
    return [{"select": group["select"], "contrast": group["contrast"], "levels": group["levels"], "context": context,
             "rate": rate, "panel": index}
            for index, context in enumerate(group["contexts"]) for rate in group["rates"]]


def time_jobs(study, claims: Sequence[dict] | None = None) -> list[str]:
    """The training jobs (ids of :meth:`lossatlas.design.study.Study.jobs`) that hold a cell of a time-judged
    claim's ``select`` (at any rate): their evaluations are what the time-to-target figure draws."""
    claims = claims_of(study) if claims is None else claims
    cells = config_cells(study)
    wanted = set()
    for claim in time_claims(claims):
        wanted |= {cell_key(row) for row in select_rows(cells, claim["select"]).itertuples(index=False)}
    return [job for job, stacks in study.jobs().items() if any(cell_key(c) in wanted for s in stacks for c in s.cells)]


def sensitivity_panels(study, experiment: str | None = None) -> list[dict]:
    """The panels of the learning-rate sensitivity figure of ``experiment`` (every tuned experiment
    when None): one per context (:data:`SENSITIVITY_CONTEXT`), in grid order, each with its
    ``lines`` (``(loss, activation)`` pairs, grid order)."""
    panels: dict[tuple, dict] = {}
    for cell in study.cells:
        if not study.experiments[cell.experiment].tune or experiment not in (None, cell.experiment):
            continue
        key = tuple(str(getattr(cell, c)) for c in SENSITIVITY_CONTEXT)
        panel = panels.setdefault(key, {**dict(zip(SENSITIVITY_CONTEXT, key)), "lines": []})
        if (cell.loss, cell.activation) not in panel["lines"]:
            panel["lines"].append((cell.loss, cell.activation))
    return list(panels.values())


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def report_datasets(study) -> list[str]:
    """The datasets some cell trains on, in config order: each gets a results section."""
    used = {cell.dataset for cell in study.cells}
    return [label for label in study.datasets if label in used]


def curve_experiments(study, dataset: str) -> list[str]:
    """The experiments whose curves of ``dataset`` get figures, in config order: those with at most
    :data:`CURVE_CELL_LIMIT` cells on it in the default view."""
    counts: dict[str, int] = {}
    for cell in default_cells(study):
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
    """Whether some cell of the default view has ``coordinates``."""
    return any(all(getattr(cell, k) == v for k, v in coordinates.items()) for cell in default_cells(study))


def raw_inputs(study, experiment: str) -> str:
    """The input preprocessing the article's figures show for ``experiment``: raw where it trains on
    raw inputs, else its first."""
    inputs = study.experiments[experiment].inputs
    return "raw" if "raw" in inputs else inputs[0]


def gradient_plan(study) -> dict | None:
    """The panels of the gradient-norm-vs-epoch figure: the article's cells on the first dataset of
    the article's small-target family, raw inputs and targets, the article's model, at the default
    rate; per optimizer of the overview experiment and of the experiment with the most epochs that
    has one of those cells. None when no experiment has them."""
    model = article_model(study)
    dataset = next((label for label, spec in study.datasets.items() if spec.family == ARTICLE_FAMILY), None)
    if model is None or dataset is None:
        return None

    def panels(experiment):
        return [
            (experiment, optimizer)
            for optimizer in study.experiments[experiment].optimizers
            if any(_has(study, experiment=experiment, dataset=dataset, inputs="raw", targets="raw", model=model,
                        optimizer=optimizer, loss=loss, activation=activation) for loss, activation in ARTICLE_CELLS)
        ]

    order = list(study.experiments)
    main = overview_experiment(study)
    longest = max(order, key=lambda label: (study.experiments[label].epochs, -order.index(label)))
    chosen = [main] if longest == main else [main, longest]
    result = [panel for experiment in chosen for panel in panels(experiment)]
    if not result:
        return None
    return {"dataset": dataset, "model": model, "inputs": "raw", "targets": "raw", "panels": result}


def scale_plan(study) -> dict | None:
    """The datasets, experiment and model of the figures against the target scale: the experiment
    with the most datasets of the target-scale family (at least two), the article's model, its raw
    inputs (:func:`raw_inputs`), at the default rate. None when no experiment has two target scales."""
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
        "inputs": raw_inputs(study, label),
        "scales": {d: scaled[d] for d in datasets},
        "targets": list(experiment.targets),
        "optimizers": list(experiment.optimizers),
        "losses": list(experiment.losses),
        "activations": list(experiment.activations),
    }


def study_figures(study, claims: Sequence[dict] | None = None) -> dict[str, dict]:
    """The study-wide figures, in report order: name -> ``{"kind", ...}`` with what each shows.

    Kinds (:data:`STUDY_FIGURE_KINDS`): ``article_seeds`` (always), ``gradient_curves``
    (:func:`gradient_plan`), ``scale_diagnostics`` (raw targets, linear output) and
    ``nrmse_vs_scale`` (:func:`scale_plan`), ``nrmse_heatmap`` (one per model, input and target
    preprocessing of :func:`overview_experiment`), ``time_to_target`` (one per group of
    :func:`time_groups`, when a claim is judged by time), ``lr_sensitivity`` (one per tuned
    experiment, ``lr_sensitivity_<experiment>``: :func:`sensitivity_panels`) and ``mechanism`` (when
    a paired claim compares cells: :func:`mechanism_claims`).
    ``claims``: the claims file's (read from the config when None).
    """
    claims = claims_of(study) if claims is None else claims
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
        for inputs in spec.inputs:
            for targets in spec.targets:
                if _has(study, experiment=experiment, model=model, inputs=inputs, targets=targets):
                    figures[f"nrmse_heatmap_{experiment}_{model}_{inputs}_{targets}"] = {
                        "kind": "nrmse_heatmap", "experiment": experiment, "model": model, "inputs": inputs,
                        "targets": targets,
                    }
    for group in time_groups(study, claims):
        figures[group["name"]] = {"kind": "time_to_target", **group, "threshold": study.config["metrics"]["nrmse_threshold"]}
    for label, spec in study.experiments.items():
        panels = sensitivity_panels(study, label) if spec.tune else []
        if panels:
            figures[f"lr_sensitivity_{figure_label(label)}"] = {"kind": "lr_sensitivity", "experiment": label, "panels": panels}
    if mechanism_claims(claims):
        figures["mechanism"] = {"kind": "mechanism"}
    return figures


def study_figure_groups(figures: Mapping[str, Mapping]) -> dict[str, list[str]]:
    """The names of the study-wide figures ``figures`` (name -> spec, :func:`study_figures`) by the
    group of :data:`STUDY_FIGURE_GROUPS` their kind belongs to, each in report order; only groups
    with a figure."""
    group_of = {kind: group for group, kinds in STUDY_FIGURE_GROUPS.items() for kind in kinds}
    groups: dict[str, list[str]] = {group: [] for group in STUDY_FIGURE_GROUPS}
    for name, spec in figures.items():
        groups[group_of[spec["kind"]]].append(name)
    return {group: names for group, names in groups.items() if names}


def study_figure_tables(figures: Mapping[str, Mapping], names: Iterable[str]) -> list[str]:
    """The tables (:data:`STUDY_FIGURE_TABLES`) that the figures ``names`` of ``figures`` (name -> spec,
    :func:`study_figures`) read, each once, in the order of first use."""
    return list(dict.fromkeys(table for name in names for table in STUDY_FIGURE_TABLES[figures[name]["kind"]]))


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def cell_key(cell) -> tuple:
    """A cell's coordinates in :data:`lossatlas.core.results.CELL` order, as text (``cell``: a Cell or a
    cells-table row; the rate as ``str(float)``, as :meth:`lossatlas.design.study.Cell.key` writes it)."""
    return tuple(str(float(getattr(cell, c))) if c == "learning_rate" else str(getattr(cell, c)) for c in CELL)


def config_cells(study, cells: Sequence | None = None) -> pd.DataFrame:
    """The cells the config defines (or ``cells``), as a frame with the coordinate columns of the
    cells table (labels as text, the rate as a number)."""
    cells = study.cells if cells is None else cells
    frame = pd.DataFrame([cell_key(cell) for cell in cells], columns=list(CELL))
    return frame.assign(learning_rate=frame["learning_rate"].astype(float))


def listed_experiments(cells: pd.DataFrame, dataset: str, order: Sequence[str] = ()) -> list[str]:
    """The experiments whose cells on ``dataset`` the dataset's results table lists (``cells``: the
    default view): those with at most :data:`CURVE_CELL_LIMIT` cells there (the same that get curve
    figures), in ``order`` (then sorted)."""
    counts = cells.loc[cells["dataset"] == dataset, "experiment"].value_counts()
    chosen = {e for e, n in counts.items() if n <= CURVE_CELL_LIMIT}
    return [e for e in order if e in chosen] + sorted(chosen - set(order))


def table_plan(study, with_analysis: bool = True, claims: Sequence[dict] | None = None) -> list[str]:
    """The keys of the report's tables in the order it shows them, from the config and its claims
    file alone (so that their ids ``T1, T2, ...`` are the same for every run of one config):

    one best-loss table per experiment with a context of two or more losses
    (``"comparison:<experiment>"``), one results table per dataset with a listed experiment
    (``"dataset:<dataset>"``), both in the default view; the claims (``"claims"``); the time-to-target
    comparisons (``"time"``, when a claim is judged by time); the tuned rates (``"tuned_rates"``,
    when an experiment is tuned); the mechanism (``"mechanism"``, when a paired claim compares
    cells); the practitioner's remedies (``"remedies"``, when a claim is a remedy); the article's two
    tables (``"article:examples"``, ``"article:comparison"``) and every cell (``"appendix"``)."""
    cells = config_cells(study, default_cells(study))
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
        claims = claims_of(study) if claims is None else claims
        keys.append("claims")
        if time_claims(claims):
            keys.append("time")
        if any(spec.tune for spec in study.experiments.values()):
            keys.append("tuned_rates")
        if mechanism_claims(claims):
            keys.append("mechanism")
        if remedy_claims(claims):
            keys.append("remedies")
        keys += ["article:examples", "article:comparison"]
    return [*keys, "appendix"]


def table_ids(study, with_analysis: bool = True, claims: Sequence[dict] | None = None) -> dict[str, str]:
    """Table key (:func:`table_plan`) -> its id, ``"T1"``, ``"T2"``, ... in plan order."""
    return {key: f"T{number}" for number, key in enumerate(table_plan(study, with_analysis, claims), 1)}


def table_paths(directory: str | os.PathLike, table_id: str) -> dict[str, Path]:
    """``{format: directory/<id>.<format>}`` for each of :data:`TABLE_FORMATS`."""
    return {fmt: Path(directory) / f"{table_id}.{fmt}" for fmt in TABLE_FORMATS}
