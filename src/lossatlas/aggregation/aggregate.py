"""Aggregation: the per-trial metrics derived from the measurements, and statistics over seeds.

Training (:mod:`lossatlas.training.train`) records what the engine measured; this stage derives everything
that depends on the data's known facts or on the config's metric settings, so that changing a
threshold re-runs aggregation and what follows, never training:

* per trial (:func:`derive_metrics`, :func:`progress`): normalized test errors, R², steps to the
  nRMSE threshold with censoring, and stagnation;
* per cell (:func:`summarize_cells`): mean with a 95% BCa bootstrap CI, median and IQM over the
  same set of seeds (those that did not diverge and have a finite value), rates, the Kaplan–Meier
  median of steps to threshold;
* per cell, metric and evaluation point (:func:`summarize_curves`): the mean over seeds and its
  percentile-bootstrap band;
* per experiment, dataset, targets and loss (:func:`floors_table`): the loss floor.

The columns of every table are described in :mod:`lossatlas.core.results`.
"""

from __future__ import annotations

import math
import warnings
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from lossatlas.core.results import CELL, TRIAL, base_key
from lossatlas.core.seeds import derive_seed
from lossatlas.design.study import Study
from lossatlas.stats import bootstrap, convergence, survival

# Metrics summarised with mean, 95% bootstrap CI, median and IQM over the seeds that did not diverge.
SUMMARY_METRICS = ("final_test_rmse", "final_test_nrmse", "final_test_rrmse", "final_test_mae", "final_train_loss")
# Metrics summarised by their mean over those seeds only.
MEAN_METRICS = (
    "final_test_r2",
    "best_test_r2",
    "initial_grad_norm",
    "initial_output_grad_abs",
    "first_epoch_update_norm",
    "final_output_saturation",
    "mean_output_saturation",
)
# The curves the figures draw (every other measurement per evaluation point is in the jobs' evals tables).
CURVE_METRICS = ("train_loss", "test_rmse", "grad_norm_output")


def cell_id(row) -> str:
    return "/".join(str(row[c]) for c in CELL)


# ----------------------------------------------------------------------------------------------
# Per trial
# ----------------------------------------------------------------------------------------------


def derive_metrics(trials: pd.DataFrame, study: Study, datasets: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """``trials`` with the metrics that need the data's facts: ``final_test_nrmse`` and
    ``final_validation_nrmse`` (RMSE over the generator's noise sd; NaN where it is unknown),
    ``final_test_rrmse`` and ``final_validation_rrmse`` (RMSE over the RMSE of an ordinary
    least-squares fit on the same split and seed: defined on real data too), ``final_test_r2`` and
    ``best_test_r2`` (against each seed's test-target variance).

    Args:
        datasets: dataset label -> its arrays (``y_test`` ``(S, n, 1)``, ``ols_rmse_test`` and
            ``ols_rmse_validation`` ``(S,)``).
    """
    trials = trials.copy()
    noise = trials["dataset"].map({label: spec.noise_sd for label, spec in study.datasets.items()}).astype(float)
    variance, ols_test, ols_validation = (np.full(len(trials), np.nan) for _ in range(3))
    for label, rows in trials.groupby("dataset").indices.items():
        seeds = trials["seed"].to_numpy()[rows]
        variance[rows] = datasets[label]["y_test"].astype(np.float64).var(axis=(1, 2))[seeds]
        ols_test[rows] = datasets[label]["ols_rmse_test"][seeds]
        ols_validation[rows] = datasets[label]["ols_rmse_validation"][seeds]
    trials["final_test_nrmse"] = trials["final_test_rmse"] / noise
    trials["final_test_rrmse"] = trials["final_test_rmse"] / ols_test
    if "final_validation_rmse" in trials:
        trials["final_validation_nrmse"] = trials["final_validation_rmse"] / noise
        trials["final_validation_rrmse"] = trials["final_validation_rmse"] / ols_validation
    trials["final_test_r2"] = 1.0 - trials["final_test_rmse"] ** 2 / variance
    trials["best_test_r2"] = 1.0 - noise**2 / variance
    return trials


def metric_matrix(evals: pd.DataFrame, column: str, trials: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``column`` of ``evals`` as ``(n_trials, n_points)``, rows in the order of ``trials``, columns
    the evaluation epochs (NaN where a trial has no value); returns ``(values, epochs)``."""
    (values,), epochs = metric_matrices(evals, [column], trials)
    return values, epochs


def metric_matrices(evals: pd.DataFrame, columns: Sequence[str], trials: pd.DataFrame) -> tuple[list[np.ndarray], np.ndarray]:
    """:func:`metric_matrix` of each of ``columns`` from one placing of the rows of ``evals``: the
    ``(n_trials, n_points)`` arrays in the order of ``columns``, and the evaluation epochs (every
    epoch some row of ``evals`` has, in order). Rows of trials not in ``trials`` are left out."""
    position = pd.MultiIndex.from_frame(trials[TRIAL]).get_indexer(pd.MultiIndex.from_frame(evals[TRIAL]))
    epochs, point = np.unique(evals["epoch"].to_numpy(), return_inverse=True)
    keep = position >= 0
    placed = position[keep] * len(epochs) + point[keep]
    if len(np.unique(placed)) < len(placed):
        raise ValueError("evals has more than one row for some trial and epoch")
    matrices = []
    for column in columns:
        matrix = np.full((len(trials), len(epochs)), np.nan)
        matrix[position[keep], point[keep]] = evals[column].to_numpy(np.float64)[keep]
        matrices.append(matrix)
    return matrices, epochs


def _rows_by(evals: pd.DataFrame, keys: list[str]) -> Mapping[tuple, np.ndarray]:
    """The positions of the rows of ``evals`` per value of ``keys`` (a tuple, as groupby gives it):
    one grouping instead of comparing every row for each group."""
    return evals.groupby(keys, sort=False, observed=True).indices


def progress(trials: pd.DataFrame, evals: pd.DataFrame, study: Study, datasets) -> pd.DataFrame:
    """Steps to the fit threshold (censored), whether it was reached and stagnation, per trial
    (rows of ``trials``), from the test RMSE at the evaluation points over
    :func:`lossatlas.stats.convergence.fit_scale` (nRMSE, or rRMSE on real data; :meth:`lossatlas.design.study.Study.fit_target`).

    A trial that reached the threshold at some evaluation point counts as reached at that point,
    also when it diverged later (the event happened); a trial that diverged before reaching it is
    censored at its last finite evaluation. Steps to threshold use every evaluation, past the budget
    too (horizon experiments). Stagnation is :func:`lossatlas.stats.survival.stagnation` over the last
    ``metrics.stagnation_window`` of the evaluations up to the budget; a diverged trial never stagnates.
    """
    settings = study.config["metrics"]
    result = pd.DataFrame(
        {"steps_to_threshold": np.nan, "reached_threshold": False, "stagnated": False}, index=trials.index
    )
    rows_of = _rows_by(evals, ["experiment", "dataset"])
    for (experiment, dataset), group in trials.groupby(["experiment", "dataset"], sort=False):
        spec = study.experiments[experiment]
        part = evals.iloc[rows_of.get((experiment, dataset), [])]
        rmse, epochs = metric_matrix(part, "test_rmse", group)
        nrmse = rmse / convergence.fit_scale(study, dataset, group, datasets)[:, None]
        steps, reached = survival.steps_to_threshold(
            nrmse, study.fit_target(dataset)[1], study.steps_per_epoch(experiment, dataset), epochs=epochs
        )
        budget = nrmse[:, epochs <= spec.epochs]
        recorded = int(np.isfinite(budget).sum(axis=1).max())
        window = max(1, int(round(settings["stagnation_window"] * recorded)))
        stagnated = survival.stagnation(
            budget, min(window, max(recorded - 1, 1)), settings["stagnation_tolerance"], 1.0, settings["stagnation_margin"]
        )
        result.loc[group.index, "steps_to_threshold"] = steps
        result.loc[group.index, "reached_threshold"] = reached
        result.loc[group.index, "stagnated"] = stagnated & ~group["diverged"].to_numpy()
    return result.astype({"steps_to_threshold": float, "reached_threshold": bool, "stagnated": bool})


def horizon_statuses(trials: pd.DataFrame, evals: pd.DataFrame, study: Study, datasets) -> pd.DataFrame:
    """Per cell of a horizon experiment trained past its budget (other cells get no row):

    * ``horizon_status``: :func:`lossatlas.stats.convergence.group_status` at the cell's last
      evaluation, the fastest cell of its context setting the stall rule's scale (``undecided``
      when still running at the cap; ``dropped`` when it left the successive halving for the
      time-tuned rate still running); ``horizon_steps``: the steps it was trained;
    * why it has not reached the threshold (:func:`lossatlas.stats.convergence.diagnose`):
      ``diagnosis``, from ``improvement_per_doubling`` (of the median test error over the last two
      doublings), ``end_output_saturation`` (median over seeds at the end) and ``update_ratio``
      (the median last epoch's update over the median first epoch's); ``extrapolated_steps`` (a
      log–log extrapolation of the steps it would need; never a verdict);
    * in a tuned experiment, the successive halving for the time-tuned rate
      (:func:`lossatlas.stats.convergence.time_tuned`): ``time_tuned`` (this rate is its base cell's
      time-tuned rate), ``validation_steps_to_threshold_median`` and ``contention_steps`` (the
      last checkpoint at which it was in contention, in steps; NaN for a rate never in contention).
    """
    columns = [*CELL, "horizon_status", "horizon_steps", "diagnosis", "improvement_per_doubling", "end_output_saturation",
               "update_ratio", "extrapolated_steps", "time_tuned", "validation_steps_to_threshold_median", "contention_steps"]
    rows = []
    horizon_experiments = [label for label, spec in study.experiments.items() if spec.horizon]
    selected = trials[trials["experiment"].isin(horizon_experiments)]
    contexts = ["experiment", "dataset", "model", "optimizer"]
    horizon_evals = evals[evals["experiment"].isin(horizon_experiments)]
    rows_of = _rows_by(horizon_evals, contexts)
    for key, context in selected.groupby(contexts, sort=False):
        experiment, dataset, model, optimizer = key
        horizon = study.horizon(experiment, dataset)
        steps = study.steps_per_epoch(experiment, dataset)
        part = horizon_evals.iloc[rows_of.get(key, [])]
        (rmse, saturation, updates), epochs = metric_matrices(part, ["test_rmse", "output_saturation", "update_norm"], context)
        error = rmse / convergence.fit_scale(study, dataset, context, datasets)[:, None]
        first_update = context["first_epoch_update_norm"].to_numpy(np.float64)
        halvings = convergence.time_tuned(study, part, datasets) if study.experiments[experiment].tune else {}
        positions = context.groupby(CELL, sort=False).indices
        reach = {key: convergence.reach_steps(error[rows_], epochs, horizon.threshold, steps) for key, rows_ in positions.items()}
        fastest = min(reach.values(), default=math.inf)
        for key, rows_ in positions.items():
            values = error[rows_]
            last = int(context["end_epochs"].to_numpy()[rows_].max())
            rate, halving = float(key[CELL.index("learning_rate")]), halvings.get(base_key(key))
            tuned = halving is not None and math.isclose(rate, halving.winner, rel_tol=1e-9)
            if last <= horizon.budget and not tuned:
                continue
            diverged = context["diverged"].to_numpy()[rows_]
            status = convergence.group_status(values, epochs, diverged, last, fastest, horizon, steps)
            if status == "running":
                status = "undecided" if last >= horizon.cap else "dropped"
            end = np.searchsorted(epochs, last, side="right") - 1
            median = convergence.median_curve(values)
            gain = convergence.improvement_per_doubling(median, epochs, last)
            end_saturation = _median(saturation[rows_, end])
            ratio = _median(updates[rows_, end]) / _median(first_update[rows_])
            until = halving.kept_until.get(rate) if halving is not None else None
            rows.append({
                **dict(zip(CELL, key)), "horizon_status": status, "horizon_steps": last * steps,
                "diagnosis": convergence.diagnose(status, gain, end_saturation, ratio, horizon.stall_improvement),
                "improvement_per_doubling": gain, "end_output_saturation": end_saturation, "update_ratio": ratio,
                "extrapolated_steps": math.nan if status == "reached" else convergence.extrapolated_steps(median, epochs, last, horizon.threshold, steps),
                "time_tuned": tuned,
                "validation_steps_to_threshold_median": halving.reach.get(rate, math.nan) if halving is not None else math.nan,
                "contention_steps": until * steps if until is not None else math.nan,
            })
    return pd.DataFrame(rows, columns=columns)


def _median(values: np.ndarray) -> float:
    """The median of the finite ``values`` (NaN when none is)."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else math.nan


# ----------------------------------------------------------------------------------------------
# Per cell
# ----------------------------------------------------------------------------------------------


def _padded(groups: list[np.ndarray]) -> np.ndarray:
    """Rows of different lengths as one ``(m, max length)`` array, NaN-padded."""
    width = max((len(g) for g in groups), default=0)
    out = np.full((len(groups), width), np.nan)
    for row, values in enumerate(groups):
        out[row, : len(values)] = values
    return out


def summarize_cells(trials: pd.DataFrame, base_seed: int, n_resamples: int, flags: Mapping[tuple, str] | None = None,
                    noise_sd: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per cell (columns: see ``cells`` in :mod:`lossatlas.core.results`).

    Statistics of a metric are over one set of values: the seeds that did not diverge and have a
    finite value (``{metric}_n_finite`` of them): :func:`lossatlas.stats.bootstrap.seed_summary_many` for all
    cells at once (the mean's 95% BCa bootstrap CI seeded by ``base_seed``, the metric and the
    number of values). ``flags``: cell coordinates -> the reach flag of :class:`lossatlas.design.config.Study`;
    ``noise_sd``: dataset -> its noise sd, when given the nRMSE statistics are the RMSE's over it.
    """
    groups = trials.groupby(CELL, sort=True)
    keys = list(groups.groups)
    rows = pd.DataFrame(keys, columns=CELL)
    diverged = groups["diverged"]
    rows["n_seeds"] = groups.size().to_numpy()
    rows["n_diverged"] = diverged.sum().to_numpy().astype(int)
    rows["divergence_rate"] = rows["n_diverged"] / rows["n_seeds"]
    kept = trials[~trials["diverged"]]
    stagnation = kept.groupby(CELL, sort=True)["stagnated"].mean()
    rows["stagnation_rate"] = [stagnation.get(key, np.nan) for key in keys]
    rows["reach_rate"] = groups["reached_threshold"].mean().to_numpy()
    indices = list(groups.indices.values())
    steps, reached = trials["steps_to_threshold"].to_numpy(float), trials["reached_threshold"].to_numpy(bool)
    rows["steps_to_threshold_median"] = [survival.censored_median(steps[index], reached[index]) for index in indices]
    rows["reach_flag"] = [(flags or {}).get(key, "") for key in keys]
    masked = trials.assign(_kept=~trials["diverged"])
    noise = rows["dataset"].map(noise_sd or {}).astype(float).to_numpy()
    for metric in (*SUMMARY_METRICS, *MEAN_METRICS):
        if metric == "final_test_nrmse" and noise_sd is not None:
            # nRMSE is the RMSE over a constant per dataset: every statistic of it, the bootstrap
            # interval included (the same resamples), is the RMSE's over that constant.
            for name in ("mean", "ci_low", "ci_high", "median", "iqm"):
                rows[f"{metric}_{name}"] = rows[f"final_test_rmse_{name}"] / noise
            rows[f"{metric}_n_finite"] = np.where(np.isfinite(noise), rows["final_test_rmse_n_finite"], 0)
            continue
        column = masked[metric].where(masked["_kept"]).to_numpy(np.float64)
        column = np.where(np.isfinite(column), column, np.nan)
        values = _padded([column[index] for index in indices])
        if metric in MEAN_METRICS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                rows[f"{metric}_mean"] = np.nanmean(values, axis=1)
            continue
        summary = bootstrap.seed_summary_many(values, n_resamples=n_resamples, seed=derive_seed(base_seed, "bootstrap", metric))
        for name in ("mean", "ci_low", "ci_high", "median", "iqm", "n_finite"):
            rows[f"{metric}_{name}"] = summary[name]
    return rows


def summarize_curves(
    evals: pd.DataFrame, base_seed: int, n_resamples: int, metrics: Iterable[str] = CURVE_METRICS
) -> pd.DataFrame:
    """Long table, one row per cell, metric and evaluation point: the mean over seeds and its
    percentile bootstrap band (:func:`lossatlas.stats.bootstrap.bootstrap_curve_band_many`, all cells with
    the same seeds and points at once). A cell's curve covers the points where it was evaluated
    (a horizon experiment's cells stop at different points); points where a metric was not
    recorded are left out."""
    parts = []
    for experiment, block in evals.groupby("experiment", sort=True, observed=True):
        cell_id = block.groupby(CELL, sort=True, observed=True).ngroup().to_numpy()
        keys = block[CELL].drop_duplicates().sort_values(CELL).to_numpy(dtype=object)
        seeds, seed_id = np.unique(block["seed"].to_numpy(), return_inverse=True)
        epochs, epoch_id = np.unique(block["epoch"].to_numpy(), return_inverse=True)
        for metric in metrics:
            if metric not in block or block[metric].isna().all():
                continue
            cube = np.full((len(keys), len(seeds), len(epochs)), np.nan)
            cube[cell_id, seed_id, epoch_id] = block[metric].to_numpy(np.float64)
            recorded = np.isfinite(cube).any(axis=1)  # (cells, points): where each cell has values
            patterns, pattern_id = np.unique(recorded, axis=0, return_inverse=True)
            for index, pattern in enumerate(patterns):
                if not pattern.any():
                    continue
                rows = np.flatnonzero(pattern_id.reshape(-1) == index)
                points = epochs[pattern]
                seed = derive_seed(base_seed, "curve", experiment, metric, len(points), int(points[-1]))
                mean, low, high = bootstrap.bootstrap_curve_band_many(cube[rows][:, :, pattern], n_resamples=n_resamples, seed=seed)
                part = pd.DataFrame(np.repeat(keys[rows], len(points), axis=0), columns=CELL)
                part["metric"] = metric
                part["epoch"] = np.tile(points, len(rows))
                part["mean"], part["ci_low"], part["ci_high"] = mean.reshape(-1), low.reshape(-1), high.reshape(-1)
                parts.append(part)
    curves = pd.concat(parts, ignore_index=True).astype({"learning_rate": float})
    return curves.sort_values([*CELL, "metric", "epoch"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Loss floors
# ----------------------------------------------------------------------------------------------


def binary_entropy(y) -> np.ndarray:
    """``H(y) = -y ln y - (1 - y) ln(1 - y)`` elementwise, in nats, with ``0 ln 0 = 0``.

    ``y`` must lie in [0, 1]; raises ValueError otherwise."""
    y = np.asarray(y, dtype=np.float64)
    if np.any((y < 0) | (y > 1)) or not np.all(np.isfinite(y)):
        raise ValueError("binary entropy needs values in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y > 0, -y * np.log(np.where(y > 0, y, 1.0)), 0.0)
        terms += np.where(y < 1, -(1 - y) * np.log(np.where(y < 1, 1 - y, 1.0)), 0.0)
    return terms


def mean_binary_entropy(y_train) -> float:
    """The floor of binary cross-entropy on targets ``y_train`` ``(seeds, n, 1)``: the mean over seeds
    of ``mean_i H(y_i)`` (:func:`binary_entropy`). Cross-entropy ``-y ln p - (1 - y) ln(1 - p)`` is
    at least ``H(y)`` for every prediction ``p``, with equality at ``p = y``, so no model trains below it."""
    y = np.asarray(y_train, dtype=np.float64)
    if y.ndim < 2:
        raise ValueError(f"y_train must be (seeds, n, ...), got shape {y.shape}")
    per_seed = binary_entropy(y).reshape(y.shape[0], -1).mean(axis=1)
    return float(per_seed.mean())


def loss_floors(y_train, noise_sd: float, targets: str) -> dict[str, float]:
    """The training loss a model reaches when it predicts the noise-free generating function, per loss
    where that is exactly derivable, in the units the model is trained in.

    For additive Gaussian noise of standard deviation ``sigma`` (in target units): MSE ``sigma**2``,
    MAE ``sigma * sqrt(2 / pi)`` (the mean absolute value of the noise). For ``targets ==
    "standardized"`` the targets of seed ``r`` are divided by their training standard deviation
    ``s_r``, so the floors are the means over seeds of ``sigma**2 / s_r**2`` and ``sigma sqrt(2/pi) / s_r``.
    Binary cross-entropy (raw targets only): :func:`mean_binary_entropy`, a true lower bound. Huber and
    log-cosh have no closed form here and get no floor.

    Args:
        y_train: ``(seeds, n, 1)`` the training targets of the seeds trained (raw, in target units).
        noise_sd: the generator's noise standard deviation in target units.
        targets: ``"raw"`` or ``"standardized"``.
    """
    y = np.asarray(y_train, dtype=np.float64)
    if targets == "raw":
        floors = {"mse": noise_sd**2, "mae": noise_sd * math.sqrt(2 / math.pi)}
        if np.all((y >= 0) & (y <= 1)):
            floors["binary_crossentropy"] = mean_binary_entropy(y)
        return floors
    if targets == "standardized":
        spread = y.reshape(y.shape[0], -1).std(axis=1)
        return {
            "mse": float(np.mean(noise_sd**2 / spread**2)),
            "mae": float(np.mean(noise_sd * math.sqrt(2 / math.pi) / spread)),
        }
    raise ValueError(f"unknown target preprocessing {targets!r}; expected raw or standardized")


def floors_table(study: Study, datasets: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """The loss floor of every (experiment, dataset, targets, loss) the study trains where one is
    derivable (:func:`loss_floors`, over the seeds the experiment trains)."""
    rows = []
    combinations = dict.fromkeys((c.experiment, c.dataset, c.targets, c.loss) for c in study.cells)
    for experiment, dataset, targets, loss in combinations:
        spec = study.datasets[dataset]
        if spec.noise_sd is None:
            continue
        y_train = datasets[dataset]["y_train"][: study.experiments[experiment].n_seeds]
        floor = loss_floors(y_train, spec.noise_sd, targets).get(loss)
        if floor is not None:
            rows.append({"experiment": experiment, "dataset": dataset, "targets": targets, "loss": loss, "floor": floor})
    return pd.DataFrame(rows, columns=["experiment", "dataset", "targets", "loss", "floor"])


# ----------------------------------------------------------------------------------------------
# The stage
# ----------------------------------------------------------------------------------------------

#: Bootstrap resamples of the curve bands at most (a band is drawn, not quoted).
CURVE_RESAMPLES = 1000


def write_aggregate(
    study: Study,
    trials: Iterable[str],
    evals: Iterable[str],
    datasets: Mapping[str, tuple[str, str]],
    outputs: Mapping[str, str],
) -> None:
    """Reads every training job's ``trials`` and ``evals`` tables and the ``datasets`` (label ->
    (data, manifest), checked against the manifest), and writes ``outputs["trials"]`` (the trials
    with their derived metrics), ``outputs["cells"]``, ``outputs["curves"]`` and ``outputs["floors"]``."""
    from pathlib import Path

    from lossatlas.core.atomic import write_table
    from lossatlas.core.results import read
    from lossatlas.data.datasets import load_or_rebuild

    data = {label: load_or_rebuild(study.datasets[label], study.base_seed, study.dataset_seeds(label), *paths)
            for label, paths in datasets.items()}
    # what aggregation reads of them
    columns = [*TRIAL, "epoch", *dict.fromkeys(["test_rmse", "validation_rmse", "output_saturation", "update_norm", *CURVE_METRICS])]
    trial_table = derive_metrics(pd.concat([read(path) for path in trials], ignore_index=True), study, data)
    resamples = study.config["statistics"]["bootstrap_resamples"]
    progressed, statuses, curves = [], [], []
    # One experiment's evaluations at a time: memory stays that of the largest experiment.
    for experiment in study.experiments:
        paths = [path for path in evals if Path(path).parts[-4] == experiment]
        if not paths:
            continue
        eval_table = pd.concat([read(path, columns=columns) for path in paths], ignore_index=True)
        part = trial_table[trial_table["experiment"] == experiment]
        progressed.append(progress(part, eval_table, study, data))
        statuses.append(horizon_statuses(part, eval_table, study, data))
        curves.append(summarize_curves(eval_table, study.base_seed, min(resamples, CURVE_RESAMPLES)))
        del eval_table
    trial_table = pd.concat([trial_table, pd.concat(progressed)], axis=1)
    write_table(outputs["trials"], trial_table)
    cells = cell_table(trial_table, study).merge(pd.concat(statuses, ignore_index=True), on=CELL, how="left")
    write_table(outputs["cells"], cells)
    write_table(outputs["curves"], pd.concat(curves, ignore_index=True))
    write_table(outputs["floors"], floors_table(study, data))


def trial_metrics(trials: pd.DataFrame, evals: pd.DataFrame, study: Study, datasets: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """The trials table with every derived per-trial metric (:func:`derive_metrics`, :func:`progress`)."""
    trials = derive_metrics(trials, study, datasets)
    return pd.concat([trials, progress(trials, evals, study, datasets)], axis=1)


def cell_table(trials: pd.DataFrame, study: Study) -> pd.DataFrame:
    """:func:`summarize_cells` with the study's seed, resamples and reach flags."""
    flags = {tuple(getattr(cell, c) for c in CELL): text for cell, text in study.flags.items()}
    noise = {label: spec.noise_sd for label, spec in study.datasets.items()}
    return summarize_cells(trials, study.base_seed, study.config["statistics"]["bootstrap_resamples"], flags, noise)
