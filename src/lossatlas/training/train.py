"""A training job: its stacks trained by the engine, as tidy tables of measurements.

Two tables (every column is described in :mod:`lossatlas.core.results`): one row per trial (``trials``)
and one per trial and evaluation point (``evals``), both with the cell's coordinates and the seed
(the replicate index). They hold what the engine measured and nothing derived from the config's
metric settings: normalized errors, reach and stagnation are computed by :mod:`lossatlas.aggregation.aggregate`,
so that changing them does not retrain anything.

A plain experiment trains each stack for its budget. A tuned experiment (``tune``) trains every
cell at every rate of its sweep, chooses each cell's rate on the validation split
(:mod:`lossatlas.core.tuning`) and extends the sweep where the chosen rate is at an edge. A horizon
experiment (``horizon``) then trains the default and tuned rates (and the config's extra factors of
the default) past the budget, doubling the horizon until every run group of the context has
resolved or the cap is reached (:mod:`lossatlas.stats.convergence`); resolved groups leave the stack.
A tuned horizon experiment also trains every rate of the sweep past the budget for as long as the
successive halving for the time-tuned rate keeps it in contention
(:func:`lossatlas.stats.convergence.successive_halving`): the better half at each doubling, until a
rate has reached the threshold on the validation split.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lossatlas.core import tuning
from lossatlas.core.results import BASE, CELL, TRIAL, base_key
from lossatlas.data.datasets import load_or_rebuild, standardize_inputs
from lossatlas.design.study import Cell, Stack, Study
from lossatlas.stats import convergence

# Engine probes kept at every evaluation point, and the trials table's "final_" columns from them.
FINAL = ("train_loss", "test_rmse", "test_mae", "validation_rmse", "validation_mae", "output_saturation", "distance_l2", "distance_linf")


@dataclasses.dataclass
class Plan:
    """How a list of cells maps onto one engine stack.

    Attributes:
        cells: the cells, in order; ``trial_cells``/``trial_seeds``: the cell and seed of each trial
            (cell-major: every seed of the first cell, then of the next, ...).
        data: the engine's arrays over ``R`` replicates (one per dataset, inputs, targets and seed
            the cells use): ``x_*`` ``(R, n, d)``, ``y_*`` ``(R, n, 1)``, ``target_shift``/``target_scale`` ``(R,)``.
        seeds: ``(R,)`` the trial seed of each replicate; ``initial``: its initial weights.
        segments: ``(loss, activation, learning_rate)`` of each segment; ``trials``: ``(segment, replicate)``.
    """

    cells: list[Cell]
    trial_cells: list[Cell]
    trial_seeds: list[int]
    data: dict[str, np.ndarray]
    seeds: list[int]
    initial: list[np.ndarray]
    segments: list[tuple[str, str, float]]
    trials: list[tuple[int, int]]


def plan_stack(study: Study, cells: list[Cell], datasets: dict[str, dict[str, np.ndarray]]) -> Plan:
    """The engine's inputs for ``cells`` (of one stack: same experiment, model and optimizer)."""
    from lossatlas.training import engine  # imports TensorFlow: only where training happens

    experiment = study.experiments[cells[0].experiment]
    model = study.models[cells[0].model]
    n_seeds = experiment.n_seeds
    sources = list(dict.fromkeys((cell.dataset, cell.inputs, cell.targets) for cell in cells))
    parts, seeds = [], []
    for dataset, inputs, targets in sources:
        arrays = {name: array[:n_seeds] for name, array in datasets[dataset].items() if name.startswith(("x_", "y_"))}
        if inputs == "standardized":
            arrays = standardize_inputs(arrays)
        if targets == "standardized":  # z-score fitted on each seed's training targets
            shift, scale = arrays["y_train"].mean(axis=(1, 2)), arrays["y_train"].std(axis=(1, 2))
        else:
            shift, scale = np.zeros(n_seeds), np.ones(n_seeds)
        parts.append({**arrays, "target_shift": shift, "target_scale": scale})
        family = study.datasets[dataset].family
        seeds += [engine.trial_seed(study.base_seed, family, model.label, r) for r in range(n_seeds)]
    data = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    segments = list(dict.fromkeys((cell.loss, cell.activation, float(cell.learning_rate)) for cell in cells))
    trial_cells, trial_seeds, trials = [], [], []
    for cell in cells:
        source = sources.index((cell.dataset, cell.inputs, cell.targets))
        segment = segments.index((cell.loss, cell.activation, float(cell.learning_rate)))
        for seed in range(n_seeds):
            trial_cells.append(cell)
            trial_seeds.append(seed)
            trials.append((segment, source * n_seeds + seed))
    initial = engine.initial_weights(model, data["x_train"].shape[2], seeds)
    return Plan(list(cells), trial_cells, trial_seeds, data, seeds, initial, segments, trials)


def make_trainer(study: Study, plan: Plan, jit_compile: bool | None = None):
    from lossatlas.training import engine

    experiment = study.experiments[plan.cells[0].experiment]
    return engine.StackTrainer(
        plan.data,
        study.models[plan.cells[0].model],
        [engine.Segment(*segment) for segment in plan.segments],
        study.optimizers[plan.cells[0].optimizer],
        plan.initial,
        plan.seeds,
        batch_size=experiment.batch_size,
        jit_compile=use_xla(study, plan.cells[0].model) if jit_compile is None else jit_compile,
        saturation_threshold=study.config["diagnostics"]["saturation_threshold"],
        trials=plan.trials,
    )


def use_xla(study: Study, model: str, horizon: bool = False) -> bool:
    """Whether a stack of ``model`` is compiled with XLA: the config's ``training.jit_compile``, or
    for ``auto`` where it was measured to pay for its compile time: models with hidden layers (their
    batched matmuls run about twice as fast) and the runs past a horizon's budget (many steps of a
    small stack, whose fixed cost per step XLA halves)."""
    setting = study.config["training"]["jit_compile"]
    return bool(study.models[model].hidden_units) or horizon if setting == "auto" else bool(setting)


def coordinates(cells: list[Cell], seeds: list[int]) -> pd.DataFrame:
    """The trial coordinates (:data:`lossatlas.core.results.TRIAL`) of parallel lists of cells and seeds."""
    frame = pd.DataFrame([cell.key() for cell in cells], columns=CELL)
    frame["learning_rate"] = [float(cell.learning_rate) for cell in cells]
    frame["seed"] = seeds
    return frame


def evals_table(keys: pd.DataFrame, epochs, values: dict[str, np.ndarray], steps_per_epoch: int) -> pd.DataFrame:
    """One row per trial (rows of ``keys``) and evaluation point (``epochs``): ``epoch``, ``step`` and
    every probe of ``values`` (name -> ``(points, trials)``); ``grad_norm_output`` is the last layer's."""
    points, n_trials = len(epochs), len(keys)
    frame = keys.loc[np.tile(np.arange(n_trials), points)].reset_index(drop=True)
    frame["epoch"] = np.repeat(np.asarray(epochs, np.int64), n_trials)
    frame["step"] = frame["epoch"] * steps_per_epoch
    for name, array in sorted(values.items()):
        frame[name] = array.reshape(-1)
    n_layers = sum(name.startswith("grad_norm_layer_") for name in values)
    frame["grad_norm_output"] = frame[f"grad_norm_layer_{n_layers}"]
    return frame


def trials_table(keys: pd.DataFrame, evals: pd.DataFrame, budget: int, steps_per_epoch: int, seeds: list[int],
                 diverged_epoch: np.ndarray, seconds: float) -> pd.DataFrame:
    """One row per trial (rows of ``keys``): the measurements at the budget (``final_*``), at the
    start (``initial_*``), after the first epoch, and where the trial's training ended (``end_*``)."""
    trials = keys.copy()
    indexed = evals.set_index([*TRIAL, "epoch"])
    at = lambda epoch: indexed.xs(epoch, level="epoch").reindex(pd.MultiIndex.from_frame(keys[TRIAL]))  # noqa: E731
    final, start, first = at(budget), at(0), at(min(1, budget))
    trials["trial_seed"] = seeds
    trials["epochs"] = budget
    trials["steps"] = budget * steps_per_epoch
    for name in FINAL:
        if name in final:
            trials[f"final_{name}"] = final[name].to_numpy()
    trials["initial_grad_norm"] = start["grad_norm_output"].to_numpy()
    trials["initial_output_grad_abs"] = start["output_grad_abs"].to_numpy()
    trials["initial_output_saturation"] = start["output_saturation"].to_numpy()
    trials["first_epoch_update_norm"] = first["update_norm"].to_numpy()
    within = evals[(evals["epoch"] > 0) & (evals["epoch"] <= budget)]
    saturation = within.groupby(TRIAL, sort=False)["output_saturation"].mean()
    trials["mean_output_saturation"] = saturation.reindex(pd.MultiIndex.from_frame(keys[TRIAL])).to_numpy()
    last = evals.sort_values("epoch").groupby(TRIAL, sort=False).tail(1).set_index(TRIAL).reindex(pd.MultiIndex.from_frame(keys[TRIAL]))
    trials["end_epochs"] = last["epoch"].to_numpy()
    trials["end_steps"] = last["epoch"].to_numpy() * steps_per_epoch
    for name in ("test_rmse", "distance_linf", "distance_l2"):
        trials[f"end_{name}"] = last[name].to_numpy()
    trials["diverged"] = diverged_epoch > 0
    trials["diverged_epoch"] = diverged_epoch
    trials["stack_seconds"] = seconds
    return trials


# ------------------------------------------------------------------------------------------------
# Plain stacks
# ------------------------------------------------------------------------------------------------


def train_stack(study: Study, stack: Stack, datasets: dict[str, dict[str, np.ndarray]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trains every trial of ``stack`` for its experiment's budget; returns ``(trials, evals)``."""
    experiment = study.experiments[stack.experiment]
    plan = plan_stack(study, list(stack.cells), datasets)
    started = time.perf_counter()
    trainer = make_trainer(study, plan)
    result = trainer.train(experiment.epochs, experiment.eval_every)
    seconds = time.perf_counter() - started
    steps = study.steps_per_epoch(stack.experiment, stack.datasets[0])
    keys = coordinates(plan.trial_cells, plan.trial_seeds)
    evals = evals_table(keys, result.eval_epochs, result.evals, steps)
    seeds = [plan.seeds[replicate] for _, replicate in plan.trials]
    return trials_table(keys, evals, experiment.epochs, steps, seeds, result.diverged_epoch, seconds), evals


# ------------------------------------------------------------------------------------------------
# Contexts: tuned rates and horizons
# ------------------------------------------------------------------------------------------------


class Run:
    """One trainer of a context: its plan, the plan trial of each trainer trial, and which of them
    are still recorded. Trials of resolved groups stop being recorded at once; they leave the
    trainer (which then retraces its graphs for the smaller stack) once a quarter of it has resolved."""

    #: The share of a trainer's trials that must have resolved before it is rebuilt without them.
    COMPACT = 0.4

    def __init__(self, study: Study, cells: list[Cell], datasets, jit_compile: bool | None = None):
        self.plan = plan_stack(study, cells, datasets)
        self.trainer = make_trainer(study, self.plan, jit_compile)
        self.keys = coordinates(self.plan.trial_cells, self.plan.trial_seeds)
        self.trained = np.arange(len(self.keys))  # the plan trial of each trainer trial
        self.recorded = np.ones(len(self.keys), bool)  # per trainer trial
        self.diverged_epoch = np.zeros(len(self.keys), np.int64)
        self.probed = -1  # the last epoch probed

    def record(self, points: list[int], steps_per_epoch: int) -> pd.DataFrame:
        """Trains to each of ``points`` not yet probed, probing there; the evals rows of the trials
        still recorded."""
        points = [point for point in points if point > self.probed]
        if not points or not self.recorded.any():
            return pd.DataFrame()
        _, values = self.trainer.record(points)
        self.probed = points[-1]
        self.diverged_epoch[self.trained[self.recorded]] = self.trainer.diverged_epoch[self.recorded]
        keys = self.keys.iloc[self.trained[self.recorded]].reset_index(drop=True)
        return evals_table(keys, points, {name: array[:, self.recorded] for name, array in values.items()}, steps_per_epoch)

    def keep(self, cells: set[Cell], jit_compile: bool | None = None) -> None:
        """Goes on recording only the trials of ``cells`` (and training only them, once enough
        trials have resolved, or when ``jit_compile`` asks to rebuild the graphs with or without XLA)."""
        self.recorded &= np.array([self.plan.trial_cells[trial] in cells for trial in self.trained], bool)
        rebuild = jit_compile is not None and jit_compile != self.trainer.jit_compile
        if self.recorded.any() and (rebuild or self.recorded.mean() <= 1 - self.COMPACT):
            positions = np.flatnonzero(self.recorded)
            self.trainer.keep(positions, jit_compile)
            self.trained, self.recorded = self.trained[positions], np.ones(len(positions), bool)

    @property
    def active(self) -> bool:
        return bool(self.recorded.any())

    @classmethod
    def merged(cls, study: Study, runs: list["Run"], cells: list[Cell], datasets, jit_compile: bool) -> "Run":
        """One run that goes on training the trials of ``cells`` (in that order) from where ``runs``
        (the sweep and its extensions, all at the budget) left them: one stack past the budget,
        whatever the sweep's trainers were."""
        merged = cls(study, cells, datasets, jit_compile)
        where = {}
        for index, run in enumerate(runs):
            for position, trial in enumerate(run.trained):
                where[(run.plan.trial_cells[trial], run.plan.trial_seeds[trial])] = (index, position)
        blocks: list[tuple[int, list[int]]] = []
        for cell, seed in zip(merged.plan.trial_cells, merged.plan.trial_seeds):
            index, position = where[(cell, seed)]
            if not blocks or blocks[-1][0] != index:
                blocks.append((index, []))
            blocks[-1][1].append(position)
        merged.trainer.adopt([runs[index].trainer.state(positions) for index, positions in blocks])
        merged.diverged_epoch = merged.trainer.diverged_epoch.copy()
        merged.probed = merged.trainer.epoch
        return merged

    def trials(self) -> pd.DataFrame:
        """The plan's trials with their trial seed and divergence so far."""
        seeds = [self.plan.seeds[replicate] for _, replicate in self.plan.trials]
        return self.keys.assign(trial_seed=seeds, diverged_epoch=self.diverged_epoch)


def _base(cell: Cell) -> Cell:
    """``cell`` without its rate (the rate replaced by 0): what the rates of a sweep share."""
    return dataclasses.replace(cell, learning_rate=0.0)


def extend_sweep(study: Study, cells: list[Cell], evals: pd.DataFrame, diverged: pd.DataFrame, budget: int) -> list[Cell]:
    """The cells to add where a cell's tuned rate (validation, at the budget) is at an edge of its rates."""
    scored = evals[evals["epoch"] == budget][[*TRIAL, "validation_rmse"]].merge(diverged, on=TRIAL)
    scored = scored.rename(columns={"validation_rmse": "final_validation_rmse"})
    choice = tuning.tuned_rates(scored.assign(learning_rate=scored["learning_rate"].astype(float)), BASE)
    by_base = {}
    for cell in cells:
        by_base.setdefault(_base(cell).key(), []).append(cell)
    extension = []
    for row in choice[choice["edge"] != ""].itertuples(index=False):
        group = by_base[tuple(str(getattr(row, c)) if c != "learning_rate" else "0.0" for c in CELL)]
        rate = tuning.step([c.learning_rate for c in group], row.edge, study.config["tuning"]["per_decade"])
        extension.append(dataclasses.replace(group[0], learning_rate=rate))
    return extension


def horizon_cells(study: Study, cells: list[Cell], evals: pd.DataFrame, diverged: pd.DataFrame, budget: int) -> set[Cell]:
    """The cells trained past the budget: each cell's default rate, its tuned rate, and its
    default times each of the experiment's horizon rate factors (where the sweep has it)."""
    factors = [1.0, *study.horizon_rate_factors(cells[0].experiment)]
    chosen = set()
    by_base = {}
    for cell in cells:
        by_base.setdefault(_base(cell), []).append(cell)
    tuned = {}
    if study.experiments[cells[0].experiment].tune:
        scored = evals[evals["epoch"] == budget][[*TRIAL, "validation_rmse"]].merge(diverged, on=TRIAL)
        scored = scored.rename(columns={"validation_rmse": "final_validation_rmse"})
        table = tuning.tuned_rates(scored.assign(learning_rate=scored["learning_rate"].astype(float)), BASE)
        for row in table.itertuples(index=False):
            tuned[tuple(str(getattr(row, c)) for c in BASE)] = row.tuned_learning_rate
    for base, group in by_base.items():
        default = study.optimizers[base.optimizer].learning_rate
        wanted = [default * factor for factor in factors]
        if base_key(base.key()) in tuned:
            wanted.append(tuned[base_key(base.key())])
        chosen |= {cell for cell in group if any(math.isclose(cell.learning_rate, rate, rel_tol=1e-6) for rate in wanted)}
    return chosen


def contention(cells: list[Cell], halvings: dict[tuple, convergence.Halving], statuses: dict[tuple, str]) -> set[Cell]:
    """The cells that go on training for the time-tuned rate (``halvings``: of each base cell,
    :func:`lossatlas.stats.convergence.time_tuned`; ``statuses``: of each group, :func:`group_statuses`;
    a group without one is still running): while the halving is undecided, its contenders (a lone
    contender only while it runs); once decided, the winner while it runs (its test status)."""
    kept = set()
    for cell in cells:
        halving = halvings.get(base_key(cell.key()))
        if halving is None:
            continue
        running = statuses.get(cell.key(), "running") == "running"
        if halving.decided:
            keep = math.isclose(cell.learning_rate, halving.winner, rel_tol=1e-9) and running
        else:
            inside = any(math.isclose(cell.learning_rate, rate, rel_tol=1e-9) for rate in halving.contenders)
            keep = inside and (len(halving.contenders) > 1 or running)
        if keep:
            kept.add(cell)
    return kept


def group_statuses(study: Study, evals: pd.DataFrame, diverged: pd.DataFrame, horizon_epoch: int, datasets) -> dict[tuple, str]:
    """The status (:func:`lossatlas.stats.convergence.group_status`) of every run group (``Cell.key()``)
    at ``horizon_epoch``, per context (dataset) the fastest group of the context setting the stall
    rule's scale."""
    statuses = {}
    flags = diverged.set_index(TRIAL)["diverged"]
    for dataset, part in evals.groupby("dataset", sort=False):
        experiment = part["experiment"].iloc[0]
        horizon, steps = study.horizon(experiment, dataset), study.steps_per_epoch(experiment, dataset)
        error = part["test_rmse"].to_numpy(np.float64) / convergence.fit_scale(study, dataset, part, datasets)
        wide = part[TRIAL + ["epoch"]].assign(error=error).set_index([*TRIAL, "epoch"])["error"].unstack("epoch")
        epochs, values = wide.columns.to_numpy(), wide.to_numpy(np.float64)
        seeds = flags.reindex(wide.index).fillna(False).to_numpy(bool)
        groups = {tuple(map(str, key)): rows for key, rows in wide.index.to_frame(index=False).groupby(CELL, sort=False).indices.items()}
        reach = {key: convergence.reach_steps(values[rows], epochs, horizon.threshold, steps) for key, rows in groups.items()}
        fastest = min(reach.values(), default=math.inf)
        for key, rows in groups.items():
            statuses[key] = convergence.group_status(values[rows], epochs, seeds[rows], horizon_epoch, fastest, horizon, steps)
    return statuses


def train_context(study: Study, stack: Stack, datasets: dict[str, dict[str, np.ndarray]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trains one stack of a tuned or horizon experiment, whole contexts (every cell and rate of its
    datasets; see the module doc); returns ``(trials, evals)``. Its datasets share their shapes, so
    their steps per epoch and horizon schedule."""
    experiment = study.experiments[stack.experiment]
    dataset = stack.datasets[0]
    steps = study.steps_per_epoch(stack.experiment, dataset)
    horizon = study.horizon(stack.experiment, dataset)
    schedule = horizon.schedule(experiment.eval_every)
    budget_points = [point for point in schedule if point <= horizon.budget]
    started = time.perf_counter()
    cells = list(stack.cells)
    runs = [Run(study, cells, datasets)]
    evals = [runs[0].record(budget_points, steps)]

    def diverged(which=None):
        table = pd.concat([run.trials() for run in (which or runs)], ignore_index=True).drop_duplicates(TRIAL, keep="last")
        return table[TRIAL].assign(diverged=table["diverged_epoch"].to_numpy() > 0)

    if experiment.tune:
        for _ in range(study.config["tuning"]["extend_steps"]):
            extension = extend_sweep(study, cells, pd.concat(evals, ignore_index=True), diverged(), horizon.budget)
            if not extension:
                break
            cells += extension
            runs.append(Run(study, extension, datasets))
            evals.append(runs[-1].record(budget_points, steps))
    if experiment.horizon:
        chosen = horizon_cells(study, cells, pd.concat(evals, ignore_index=True), diverged(), horizon.budget)
        # The chosen trials go on as one stack (whatever trainer of the sweep they were in), with
        # XLA: the long runs past the budget pay for its compile time (see use_xla). In a tuned
        # experiment every rate of the sweep goes on too, for as long as the successive halving
        # keeps it in contention for the time-tuned rate.
        sweep = runs
        still = set(chosen)
        if experiment.tune:  # the successive halving's first rung: the budget
            still |= contention(cells, convergence.time_tuned(study, pd.concat(evals, ignore_index=True), datasets), {})
        runs = [Run.merged(study, sweep, [cell for cell in cells if cell in still], datasets, use_xla(study, stack.model, horizon=True))]
        checkpoints = horizon.checkpoints()
        for previous, checkpoint in zip(checkpoints, checkpoints[1:]):
            points = [point for point in schedule if previous < point <= checkpoint]
            evals += [run.record(points, steps) for run in runs]
            table = pd.concat(evals, ignore_index=True)
            statuses = group_statuses(study, table, diverged(sweep + runs), checkpoint, datasets)
            still = {cell for cell in chosen if statuses.get(cell.key()) == "running"}
            if experiment.tune:
                still |= contention(cells, convergence.time_tuned(study, table, datasets), statuses)
            for run in runs:
                run.keep(still)
            if not any(run.active for run in runs):
                break
        runs = sweep + runs
    seconds = time.perf_counter() - started
    evals = pd.concat(evals, ignore_index=True)
    # A trial continued past the budget appears in a sweep run and in the horizon run: the latter,
    # which trained it last, knows its divergence.
    trials = pd.concat([run.trials() for run in runs], ignore_index=True).drop_duplicates(TRIAL, keep="last")
    trials = trials.sort_values(TRIAL, kind="stable").reset_index(drop=True)
    keys = trials[TRIAL]
    table = trials_table(keys, evals, experiment.epochs, steps, trials["trial_seed"].tolist(), trials["diverged_epoch"].to_numpy(), seconds)
    return table, evals


def run_job(study: Study, job: str, dataset_paths: dict[str, tuple[Path, Path]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trains all stacks of ``job``; ``dataset_paths`` maps a dataset label to (data, manifest)."""
    stacks = study.jobs()[job]
    datasets = {
        label: load_or_rebuild(study.datasets[label], study.base_seed, study.dataset_seeds(label), *dataset_paths[label])
        for label in dict.fromkeys(d for s in stacks for d in s.datasets)
    }
    train = train_context if study.experiments[stacks[0].experiment].by_context else train_stack
    parts = [train(study, stack, datasets) for stack in stacks]
    return pd.concat([p[0] for p in parts], ignore_index=True), pd.concat([p[1] for p in parts], ignore_index=True)
