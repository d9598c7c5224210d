"""The study a config describes: its specs and its grid, expanded into cells, stacks and jobs.

Vocabulary:
    cell: one combination (experiment, dataset, inputs, targets, model, optimizer, learning_rate,
        loss, activation), trained for ``n_seeds`` seeds; ``inputs`` and ``targets`` are the
        preprocessing of the inputs and of the targets (``raw``, or ``standardized`` by each seed's
        training split).
    stack: cells whose trials are trained together as one TensorFlow computation (:mod:`lossatlas.training.engine`):
        same experiment, model and optimizer, and data of the same shapes.
    context: the cells of one (experiment, dataset, model, optimizer). A tuned experiment chooses
        and extends its learning rates per cell, and a horizon experiment's stall rule compares a
        cell with the fastest of its context, so such an experiment is trained whole contexts per
        job, its datasets stacked together where their shapes allow (the long tail of a horizon
        then shares its steps' fixed costs).
    job: one Snakemake training job: whole stacks of one (experiment, model), packed up to
        ``training.cells_per_job`` cells (each job pays TensorFlow's start and each stack its
        compile once, so fewer and larger ones are faster).

No TensorFlow here; :mod:`lossatlas.design.config` builds a :class:`Study` from a config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Iterable

from lossatlas.core import tuning
from lossatlas.core.schedule import Horizon
from lossatlas.core.seeds import derive_seed
from lossatlas.data.datasets import FAMILIES, DatasetSpec

LOSSES = ("mse", "mae", "huber", "log_cosh", "binary_crossentropy")
#: Range of each output activation.
ACTIVATION_RANGES = {
    "linear": (-math.inf, math.inf),
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "softplus": (0.0, math.inf),
    "relu": (0.0, math.inf),
}
HIDDEN_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "softplus")
PREPROCESSING = ("raw", "standardized")
#: Requirements that hold whatever the config says (it can add to them, never remove them).
DEFAULT_LOSS_REQUIREMENTS = {"binary_crossentropy": {"targets_within": [0.0, 1.0], "output_within": [0.0, 1.0]}}
OPTIMIZERS = ("adam", "sgd", "rmsprop")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    label: str
    hidden_units: tuple[int, ...] = ()
    hidden_activation: str = "tanh"

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Output sizes of all Dense layers, the final Dense(1) included."""
        return (*self.hidden_units, 1)

    def describe(self) -> str:
        if not self.hidden_units:
            return "Dense(1)"
        hidden = ", ".join(f"Dense({units}, {self.hidden_activation})" for units in self.hidden_units)
        return f"{hidden}, Dense(1)"


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    label: str
    name: str
    learning_rate: float = 0.001
    clipvalue: float | None = None
    clipnorm: float | None = None
    global_clipnorm: float | None = None

    def describe(self) -> str:
        text = f"{self.name} (lr {self.learning_rate:g}"
        for option in ("clipvalue", "clipnorm", "global_clipnorm"):
            if getattr(self, option) is not None:
                text += f", {option} {getattr(self, option):g}"
        return text + ")"


@dataclasses.dataclass(frozen=True)
class Cell:
    experiment: str
    dataset: str
    inputs: str
    targets: str
    model: str
    optimizer: str
    learning_rate: float
    loss: str
    activation: str

    def key(self) -> tuple[str, ...]:
        """The cell's coordinates as the results tables hold them (text)."""
        return tuple(str(getattr(self, field.name)) for field in dataclasses.fields(self))

    @property
    def context(self) -> tuple[str, str, str, str]:
        return (self.experiment, self.dataset, self.model, self.optimizer)


@dataclasses.dataclass(frozen=True)
class Stack:
    """Cells trained together (see the module doc), in grid order."""

    experiment: str
    model: str
    optimizer: str
    cells: tuple[Cell, ...]

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(cell.dataset for cell in self.cells))

    @property
    def losses(self) -> list[str]:
        return list(dict.fromkeys(cell.loss for cell in self.cells))


@dataclasses.dataclass(frozen=True)
class Excluded:
    cell: Cell
    reason: str


@dataclasses.dataclass(frozen=True)
class Experiment:
    label: str
    datasets: tuple[str, ...]
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    models: tuple[str, ...]
    losses: tuple[str, ...]
    activations: tuple[str, ...]
    optimizers: tuple[str, ...]
    epochs: int = 100
    batch_size: int = 32
    eval_every: int = 1
    n_seeds: int = 1
    tune: bool = False
    horizon: bool = False
    #: multiples of the default rate trained past the budget; None: the horizon section's
    horizon_rate_factors: tuple[float, ...] | None = None

    @property
    def by_context(self) -> bool:
        """Whether the experiment is trained one context per job (tuned or horizon)."""
        return self.tune or self.horizon


@dataclasses.dataclass
class Study:
    """A validated config and the grid it expands to."""

    config: dict
    datasets: dict[str, DatasetSpec]
    models: dict[str, ModelSpec]
    optimizers: dict[str, OptimizerSpec]
    experiments: dict[str, Experiment]
    cells: list[Cell]
    excluded: list[Excluded]
    flags: dict[Cell, str]

    @property
    def base_seed(self) -> int:
        return self.config["base_seed"]

    @property
    def n_seeds(self) -> int:
        return self.config["n_seeds"]

    def article_jobs(self) -> dict[str, list[int]]:
        """Jobs of the article's verbatim runs: ``chunk{k:02d}`` -> the seeds it runs."""
        seeds = [derive_seed(self.base_seed, "article", r) for r in range(self.config["article"]["n_seeds"])]
        size = self.config["article"]["seeds_per_job"]
        return {f"chunk{k // size:02d}": seeds[k : k + size] for k in range(0, len(seeds), size)}

    def dataset_seeds(self, dataset: str) -> int:
        """Replicates to draw of ``dataset``: the most any experiment using it trains."""
        return max(e.n_seeds for e in self.experiments.values() if dataset in e.datasets)

    @property
    def config_hash(self) -> str:
        """SHA-256 (first 12 hex digits) of the config with its defaults filled in."""
        canonical = json.dumps(self.config, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

    def learning_rates(self, experiment: str, optimizer: str) -> list[float]:
        """The rates ``experiment`` trains ``optimizer`` at: its own rate, or for a tuned experiment
        the sweep of the config's ``tuning`` section (:func:`lossatlas.core.tuning.sweep`)."""
        default = self.optimizers[optimizer].learning_rate
        return tuning.sweep(self.config["tuning"], default) if self.experiments[experiment].tune else [default]

    def fit_target(self, dataset: str) -> tuple[str, float]:
        """The error a trial must bring down to reach the target fit, and its threshold: the test
        nRMSE (RMSE over the generator's noise sd; ``metrics.nrmse_threshold``) where the noise is
        known and a linear model can reach it (the family's function is linear: the article's and
        the target-scale family); elsewhere (a nonlinear function such as Friedman #1, or real data
        whose noise is unknown) the test rRMSE (RMSE over the RMSE of an ordinary least-squares fit
        on the same split; ``metrics.rrmse_threshold``)."""
        metrics = self.config["metrics"]
        spec = self.datasets[dataset]
        if spec.noise_sd is None or not FAMILIES[spec.family].linear:
            return "rrmse", metrics["rrmse_threshold"]
        return "nrmse", metrics["nrmse_threshold"]

    def steps_per_epoch(self, experiment: str, dataset: str) -> int:
        return -(-self.datasets[dataset].n_train // self.experiments[experiment].batch_size)

    def horizon_rate_factors(self, experiment: str) -> tuple[float, ...]:
        """The multiples of the default rate that ``experiment`` trains past the budget (its own, or the
        horizon section's ``learning_rate_factors``)."""
        own = self.experiments[experiment].horizon_rate_factors
        return tuple(self.config["horizon"]["learning_rate_factors"]) if own is None else own

    def horizon(self, experiment: str, dataset: str) -> Horizon:
        """The horizon of ``experiment`` on ``dataset`` in epochs (the config's ``horizon`` section;
        for an experiment without a horizon, the budget is its only checkpoint)."""
        spec, settings = self.experiments[experiment], self.config["horizon"]
        steps = self.steps_per_epoch(experiment, dataset)
        cap = max(spec.epochs, -(-settings["cap_steps"] // steps)) if spec.horizon else spec.epochs
        return Horizon(
            budget=spec.epochs,
            cap=cap,
            points_per_doubling=settings["points_per_doubling"],
            stall_improvement=settings["stall_improvement"],
            stall_factor=settings["stall_factor"],
            threshold=self.fit_target(dataset)[1],
        )

    def estimate(self) -> dict:
        """The work and memory the config asks for, from counts alone (nothing is built per seed):
        ``trial_steps`` (every trial's optimizer steps, horizon experiments counted up to their cap:
        an upper bound), ``largest_job`` and its ``job_memory_mb`` (its data, its probes' largest
        tensors and its tables of evaluations, roughly), and ``article_fits``."""
        work, memory = 0, {}
        for job, stacks in self.jobs().items():
            megabytes = 0.0
            for stack in stacks:
                experiment = self.experiments[stack.experiment]
                width = max(self.models[stack.model].hidden_units, default=1)
                for dataset in stack.datasets:
                    spec = self.datasets[dataset]
                    horizon = self.horizon(stack.experiment, dataset)
                    trials = sum(cell.dataset == dataset for cell in stack.cells) * experiment.n_seeds
                    epochs = horizon.cap if experiment.horizon else experiment.epochs
                    work += trials * epochs * self.steps_per_epoch(stack.experiment, dataset)
                    samples = spec.n_train + spec.n_test + spec.n_validation
                    points = len(horizon.schedule(experiment.eval_every))
                    megabytes += (self.dataset_seeds(dataset) * samples * (spec.n_features + 1) * 4
                                  + trials * points * 40 * 8 + trials * max(spec.n_train, spec.n_test) * width * 4 * 3) / 2**20
            memory[job] = megabytes
        largest = max(memory, key=memory.get)
        return {"trial_steps": work, "largest_job": largest, "job_memory_mb": memory[largest],
                "article_fits": 3 * self.config["article"]["n_seeds"]}

    def stacks(self) -> list[Stack]:
        """The stacks of the grid, in grid order: per (experiment, model, optimizer) and data shape,
        every loss and output activation in one stack (one graph, compiled once). A plain stack
        holds at most ``training.cells_per_job`` cells (a larger one is split)."""
        limit = self.config["training"]["cells_per_job"]
        grouped: dict[tuple, list[Cell]] = {}
        for cell in self.cells:
            spec = self.datasets[cell.dataset]
            shape = (spec.n_train, spec.n_validation, spec.n_test, spec.n_features)
            grouped.setdefault((cell.experiment, cell.model, cell.optimizer, shape), []).append(cell)
        stacks = []
        for (experiment, model, optimizer, _), cells in grouped.items():
            size = len(cells) if self.experiments[experiment].by_context else limit
            stacks += [Stack(experiment, model, optimizer, tuple(cells[k : k + size])) for k in range(0, len(cells), size)]
        return stacks

    def jobs(self) -> dict[str, list[Stack]]:
        """Training jobs by id ``{experiment}/{model}/job{k:03d}``: the stacks of one experiment and
        model (a tuned or horizon experiment's each hold a whole context: model, optimizer and data
        shape) packed in grid order until a job holds at least ``training.cells_per_job`` cells
        (fewer jobs: each pays TensorFlow's start once)."""
        limit = self.config["training"]["cells_per_job"]
        groups: dict[str, list[list[Stack]]] = {}
        for stack in self.stacks():
            packed = groups.setdefault(f"{stack.experiment}/{stack.model}", [[]])
            if sum(len(s.cells) for s in packed[-1]) >= limit:
                packed.append([])
            packed[-1].append(stack)
        return {f"{prefix}/job{index:03d}": stacks for prefix, packed in groups.items() for index, stacks in enumerate(packed)}


# ------------------------------------------------------------------------------------------------
# Validity of a combination
# ------------------------------------------------------------------------------------------------


def _within(inner: tuple[float, float], outer: tuple[float, float]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _fmt_range(bounds: tuple[float, float]) -> str:
    """``"[0, 1]"``; an unbounded end as ``-∞`` or ``∞`` (never ``inf`` in the report's text)."""
    return "[" + ", ".join("∞" if end == math.inf else "-∞" if end == -math.inf else f"{end:g}" for end in bounds) + "]"


def target_range(dataset: DatasetSpec, targets: str) -> tuple[float, float]:
    """The range of the targets the model is trained on (z-scores are unbounded)."""
    return dataset.target_range if targets == "raw" else (-math.inf, math.inf)


def _describe_targets(dataset: DatasetSpec, targets: str) -> str:
    return f"dataset {dataset.label}" + (" (standardized)" if targets == "standardized" else "")


def requirements(configured: dict | None) -> dict:
    """The loss requirements in force: the built-in ones and the config's, each range the
    intersection of both (a config can tighten a built-in requirement, never loosen or drop it)."""
    merged = {loss: dict(ranges) for loss, ranges in DEFAULT_LOSS_REQUIREMENTS.items()}
    for loss, ranges in (configured or {}).items():
        for key, (low, high) in ranges.items():
            old_low, old_high = merged.setdefault(loss, {}).get(key, (-math.inf, math.inf))
            merged[loss][key] = [max(low, old_low), min(high, old_high)]
    return merged


def invalid_reason(loss: str, activation: str, dataset: DatasetSpec, targets: str = "raw", configured: dict | None = None) -> str | None:
    """Why a combination is not meaningful under the loss requirements (:func:`requirements` of the
    config's ``validity.loss_requirements``), or None when it is."""
    requirement = requirements(configured).get(loss, {})
    if "targets_within" in requirement and not _within(target_range(dataset, targets), requirement["targets_within"]):
        return (
            f"{loss} needs targets in {_fmt_range(requirement['targets_within'])}; "
            f"{_describe_targets(dataset, targets)} has targets in {_fmt_range(target_range(dataset, targets))}"
        )
    if "output_within" in requirement and not _within(output_range(activation), requirement["output_within"]):
        return (
            f"{loss} needs an output in {_fmt_range(requirement['output_within'])}; activation {activation} gives "
            f"{_fmt_range(output_range(activation))}"
        )
    return None


def output_range(activation: str) -> tuple[float, float]:
    """The range of an output activation (a custom one's is unknown: taken as unbounded)."""
    return ACTIVATION_RANGES.get(activation, (-math.inf, math.inf))


def reach_flag(activation: str, dataset: DatasetSpec, targets: str = "raw") -> str | None:
    """A note when the output activation's range cannot cover the targets (the cell still runs)."""
    if _within(target_range(dataset, targets), output_range(activation)):
        return None
    return (
        f"{activation} outputs lie in {_fmt_range(output_range(activation))} but "
        f"{_describe_targets(dataset, targets)} has targets in {_fmt_range(target_range(dataset, targets))}"
    )


def expand(study_config: dict, experiments: Iterable[Experiment], datasets: dict[str, DatasetSpec], rates) -> tuple[list, list, dict]:
    """Every cell of ``experiments`` in grid order (datasets, inputs, targets, models, optimizers,
    losses, activations, rates), the excluded combinations with their reason (one per combination,
    at the optimizer's first rate) and the flagged cells with theirs. ``rates(experiment,
    optimizer)`` gives the learning rates."""
    cells, excluded, flags = [], [], {}
    configured = study_config["validity"]["loss_requirements"]
    for experiment in experiments:
        for dataset in experiment.datasets:
            for inputs in experiment.inputs:
                for targets in experiment.targets:
                    for model in experiment.models:
                        for optimizer in experiment.optimizers:
                            for loss in experiment.losses:
                                for activation in experiment.activations:
                                    reason = invalid_reason(loss, activation, datasets[dataset], targets, configured)
                                    label = (experiment.label, dataset, inputs, targets, model, optimizer)
                                    if reason is not None:
                                        excluded.append(Excluded(Cell(*label, rates(experiment.label, optimizer)[0], loss, activation), reason))
                                        continue
                                    flag = reach_flag(activation, datasets[dataset], targets)
                                    for rate in rates(experiment.label, optimizer):
                                        cell = Cell(*label, rate, loss, activation)
                                        cells.append(cell)
                                        if flag:
                                            flags[cell] = flag
    return cells, excluded, flags
