"""The study a config describes: validated, with defaults, expanded into cells, stacks and jobs.

Vocabulary:
    cell: one combination (experiment, dataset, targets, model, optimizer, loss, activation),
        trained for ``n_seeds`` seeds; ``targets`` is the target preprocessing (raw or standardized).
    stack: the cells of one (experiment, dataset, targets, model, optimizer, loss); their trials
        are trained together as one TensorFlow computation.
    job: one Snakemake training job, a group of whole stacks of one experiment and loss (so that
        changing one loss in the config re-runs only that loss's jobs).

Every error is a :class:`ConfigError` (a ``ValueError``) naming the offending key and value; it is
raised when the Snakefile is parsed, so ``snakemake -n`` already reports it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import math
from pathlib import Path

import yaml

from lossatlas.datasets import FAMILIES, DatasetSpec, check_spec
from lossatlas.seeds import derive_seed

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

LOSSES = ("mse", "mae", "huber", "log_cosh", "binary_crossentropy")
# Range of each output activation: (low, high, whether the bounds are attained).
ACTIVATION_RANGES = {
    "linear": (-math.inf, math.inf),
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "softplus": (0.0, math.inf),
    "relu": (0.0, math.inf),
}
HIDDEN_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "softplus")
TARGET_PREPROCESSING = ("raw", "standardized")
DEFAULT_LOSS_REQUIREMENTS = {"binary_crossentropy": {"targets_within": [0.0, 1.0], "output_within": [0.0, 1.0]}}
OPTIMIZERS = ("adam", "sgd", "rmsprop")


class ConfigError(ValueError):
    """A config value that cannot be run; the message names the key and the value."""


def _fail(key: str, value: object, problem: str) -> None:
    raise ConfigError(f"config key '{key}' = {value!r}: {problem}")


def _choose(key: str, value: str, choices) -> None:
    if value not in choices:
        _fail(key, value, f"unknown value; choose from {', '.join(sorted(choices))}")


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
    targets: str
    model: str
    optimizer: str
    loss: str
    activation: str

    @property
    def stack_key(self) -> tuple[str, ...]:
        return (self.experiment, self.dataset, self.targets, self.model, self.optimizer, self.loss)


@dataclasses.dataclass(frozen=True)
class Stack:
    """Cells trained together: same experiment, dataset, target preprocessing, model, optimizer and
    loss; they differ in their output activation."""

    experiment: str
    dataset: str
    targets: str
    model: str
    optimizer: str
    segments: tuple[tuple[str, str], ...]  # (loss, activation) of each cell, in order

    @property
    def loss(self) -> str:
        return self.segments[0][0]

    def cell(self, loss: str, activation: str) -> Cell:
        return Cell(self.experiment, self.dataset, self.targets, self.model, self.optimizer, loss, activation)


@dataclasses.dataclass(frozen=True)
class Excluded:
    cell: Cell
    reason: str


@dataclasses.dataclass(frozen=True)
class Experiment:
    label: str
    datasets: tuple[str, ...]
    targets: tuple[str, ...]
    models: tuple[str, ...]
    losses: tuple[str, ...]
    activations: tuple[str, ...]
    optimizers: tuple[str, ...]
    epochs: int = 100
    batch_size: int = 32
    eval_every: int = 1
    n_seeds: int = 1


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

    def stacks(self) -> list[Stack]:
        grouped: dict[tuple, list[tuple[str, str]]] = {}
        for cell in self.cells:
            grouped.setdefault(cell.stack_key, []).append((cell.loss, cell.activation))
        return [Stack(*key[:5], segments=tuple(segments)) for key, segments in grouped.items()]

    def jobs(self) -> dict[str, list[Stack]]:
        """Training jobs by id (``{experiment}/{loss}/job{k:03d}``): whole stacks of one experiment
        and loss, packed in grid order until a job holds at least ``training.cells_per_job`` cells."""
        limit = self.config["training"]["cells_per_job"]
        groups: dict[str, list[list[Stack]]] = {}
        for stack in self.stacks():
            packed = groups.setdefault(f"{stack.experiment}/{stack.loss}", [[]])
            if sum(len(s.segments) for s in packed[-1]) >= limit:
                packed.append([])
            packed[-1].append(stack)
        return {f"{prefix}/job{index:03d}": stacks for prefix, packed in groups.items() for index, stacks in enumerate(packed)}


def _apply_defaults(config: dict, schema: dict) -> dict:
    """Fills in the schema's defaults, recursively, into a copy of ``config``."""
    config = copy.deepcopy(config)

    def fill(instance, node):
        if not isinstance(instance, dict) or node.get("type") != "object":
            return
        for key, sub in node.get("properties", {}).items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                fill(instance[key], sub)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            for key, value in instance.items():
                if key not in node.get("properties", {}):
                    fill(value, extra)

    fill(config, schema)
    return config


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def validate_schema(config: dict, schema: dict | None = None) -> None:
    """Checks ``config`` against the JSON schema; the error names the key path and the value."""
    import jsonschema

    schema = schema or load_schema()
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: [str(p) for p in e.path])
    if errors:
        raise ConfigError(schema_message(errors[0]))


def schema_message(error) -> str:
    """``config key 'a.b.c' = value: what is wrong`` for a jsonschema error (no schema dump)."""
    path = [str(part) for part in error.path]
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return f"config key '{'.'.join([*path, missing])}': missing (required)"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"config key '{'.'.join([*path, extra[0]])}': unknown key (not in workflow/schemas/config.schema.yaml)"
    key = ".".join(path) or "(top level)"
    value = error.instance if not isinstance(error.instance, (dict, list)) or len(repr(error.instance)) < 80 else "..."
    return f"config key '{key}' = {value!r}: {error.message}"


def _positive(key: str, value, minimum=0, strict=True) -> None:
    if value is None:
        return
    if (strict and not value > minimum) or (not strict and value < minimum):
        _fail(key, value, f"must be {'>' if strict else '>='} {minimum}")


def _check_options(config: dict) -> None:
    _positive("n_seeds", config["n_seeds"], 1, strict=False)
    _positive("training.cells_per_job", config["training"]["cells_per_job"], 1, strict=False)
    for key in ("nrmse_threshold", "stagnation_window", "stagnation_tolerance", "stagnation_margin"):
        _positive(f"metrics.{key}", config["metrics"][key], 0, strict=key in ("nrmse_threshold", "stagnation_window"))
    if config["metrics"]["stagnation_window"] > 1:
        _fail("metrics.stagnation_window", config["metrics"]["stagnation_window"], "must be a fraction in (0, 1]")
    for loss, requirement in config["validity"]["loss_requirements"].items():
        _choose("validity.loss_requirements", loss, LOSSES)
        for key, bounds in requirement.items():
            if len(bounds) != 2 or not bounds[0] < bounds[1]:
                _fail(f"validity.loss_requirements.{loss}.{key}", bounds, "must be [low, high] with low < high")
    _positive("article.n_seeds", config["article"]["n_seeds"], 1, strict=False)
    _positive("article.seeds_per_job", config["article"]["seeds_per_job"], 1, strict=False)
    _positive("diagnostics.saturation_threshold", config["diagnostics"]["saturation_threshold"])
    for label, spec in config["datasets"].items():
        _choose(f"datasets.{label}.family", spec["family"], FAMILIES)
        try:
            check_spec(dataset_spec(label, spec))
        except ValueError as error:
            field, _, problem = str(error).partition(": ")
            value = spec.get("params", {}).get(field, spec.get(field))
            key = f"datasets.{label}.params.{field}" if field in spec.get("params", {}) else f"datasets.{label}.{field}"
            _fail(key, value, problem)
    for label, spec in config["models"].items():
        for index, units in enumerate(spec["hidden_units"]):
            _positive(f"models.{label}.hidden_units[{index}]", units, 1, strict=False)
        _choose(f"models.{label}.hidden_activation", spec["hidden_activation"], HIDDEN_ACTIVATIONS)
    for label, spec in config["optimizers"].items():
        _choose(f"optimizers.{label}.name", spec["name"], OPTIMIZERS)
        for option in ("learning_rate", "clipvalue", "clipnorm", "global_clipnorm"):
            _positive(f"optimizers.{label}.{option}", spec.get(option))
        clips = [o for o in ("clipvalue", "clipnorm", "global_clipnorm") if spec.get(o) is not None]
        if len(clips) > 1:
            _fail(f"optimizers.{label}", clips, "set at most one of clipvalue, clipnorm and global_clipnorm")
    for label, spec in config["experiments"].items():
        for dimension, choices in (
            ("datasets", config["datasets"]),
            ("targets", TARGET_PREPROCESSING),
            ("models", config["models"]),
            ("optimizers", config["optimizers"]),
            ("losses", LOSSES),
            ("activations", ACTIVATION_RANGES),
        ):
            if not spec[dimension]:
                _fail(f"experiments.{label}.{dimension}", spec[dimension], "must not be empty")
            for value in spec[dimension]:
                _choose(f"experiments.{label}.{dimension}", value, choices)
            if len(set(spec[dimension])) != len(spec[dimension]):
                _fail(f"experiments.{label}.{dimension}", spec[dimension], "lists a value twice")
        _positive(f"experiments.{label}.epochs", spec["epochs"], 1, strict=False)
        _positive(f"experiments.{label}.batch_size", spec["batch_size"], 1, strict=False)
        _positive(f"experiments.{label}.eval_every", spec["eval_every"], 1, strict=False)
        _positive(f"experiments.{label}.n_seeds", spec.get("n_seeds"), 1, strict=False)


def dataset_spec(label: str, spec: dict) -> DatasetSpec:
    """The :class:`lossatlas.datasets.DatasetSpec` of the config entry ``spec`` (sizes the config
    leaves out take the family's defaults)."""
    sizes = {name: spec.get(name) for name in ("n_train", "n_test", "n_validation")}
    return DatasetSpec(label, spec["family"], float(spec["scale"]), params=spec.get("params", {}), **sizes)


def _within(inner: tuple[float, float], outer: tuple[float, float]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _fmt_range(bounds: tuple[float, float]) -> str:
    return f"[{bounds[0]:g}, {bounds[1]:g}]"


def target_range(dataset: DatasetSpec, targets: str) -> tuple[float, float]:
    """The range of the targets the model is trained on (z-scores are unbounded)."""
    return dataset.target_range if targets == "raw" else (-math.inf, math.inf)


def _describe_targets(dataset: DatasetSpec, targets: str) -> str:
    return f"dataset {dataset.label}" + (" (standardized)" if targets == "standardized" else "")


def invalid_reason(
    loss: str, activation: str, dataset: DatasetSpec, targets: str = "raw", requirements: dict | None = None
) -> str | None:
    """Why a combination is not meaningful under ``requirements`` (the config's
    ``validity.loss_requirements``: loss -> ``targets_within`` and/or ``output_within`` ranges),
    or None when it is."""
    requirement = (requirements or DEFAULT_LOSS_REQUIREMENTS).get(loss, {})
    if "targets_within" in requirement and not _within(target_range(dataset, targets), requirement["targets_within"]):
        return (
            f"{loss} needs targets in {_fmt_range(requirement['targets_within'])}; "
            f"{_describe_targets(dataset, targets)} has targets in {_fmt_range(target_range(dataset, targets))}"
        )
    if "output_within" in requirement and not _within(ACTIVATION_RANGES[activation], requirement["output_within"]):
        return (
            f"{loss} needs an output in {_fmt_range(requirement['output_within'])}; activation {activation} gives "
            f"{_fmt_range(ACTIVATION_RANGES[activation])}"
        )
    return None


def reach_flag(activation: str, dataset: DatasetSpec, targets: str = "raw") -> str | None:
    """A note when the output activation's range cannot cover the targets (the cell still runs)."""
    if _within(target_range(dataset, targets), ACTIVATION_RANGES[activation]):
        return None
    return (
        f"{activation} outputs lie in {_fmt_range(ACTIVATION_RANGES[activation])} but "
        f"{_describe_targets(dataset, targets)} has targets in {_fmt_range(target_range(dataset, targets))}"
    )


def load_study(config: dict) -> Study:
    """Validates ``config`` (schema, then meaning) and expands its grid; raises ConfigError."""
    schema = load_schema()
    validate_schema(config, schema)
    config = _apply_defaults(config, schema)
    _check_options(config)
    datasets = {label: dataset_spec(label, spec) for label, spec in config["datasets"].items()}
    models = {
        label: ModelSpec(label, tuple(spec["hidden_units"]), spec["hidden_activation"])
        for label, spec in config["models"].items()
    }
    optimizers = {label: OptimizerSpec(label, **spec) for label, spec in config["optimizers"].items()}
    experiments = {}
    cells, excluded, flags = [], [], {}
    for label, spec in config["experiments"].items():
        experiment = Experiment(
            label,
            *(tuple(spec[d]) for d in ("datasets", "targets", "models", "losses", "activations", "optimizers")),
            epochs=spec["epochs"],
            batch_size=spec["batch_size"],
            eval_every=spec["eval_every"],
            n_seeds=spec.get("n_seeds", config["n_seeds"]),
        )
        experiments[label] = experiment
        for coordinates in itertools.product(
            experiment.datasets,
            experiment.targets,
            experiment.models,
            experiment.optimizers,
            experiment.losses,
            experiment.activations,
        ):
            cell = Cell(label, *coordinates)
            dataset = datasets[cell.dataset]
            reason = invalid_reason(cell.loss, cell.activation, dataset, cell.targets, config["validity"]["loss_requirements"])
            if reason is None:
                cells.append(cell)
                flag = reach_flag(cell.activation, dataset, cell.targets)
                if flag:
                    flags[cell] = flag
            elif config["validity"]["on_invalid"] == "error":
                _fail(
                    f"experiments.{label}",
                    f"{cell.dataset}/{cell.targets}/{cell.loss}/{cell.activation}",
                    f"{reason} (set validity.on_invalid: exclude to skip such cells)",
                )
            else:
                excluded.append(Excluded(cell, reason))
        if not any(cell.experiment == label for cell in cells):
            _fail(f"experiments.{label}", label, "every combination is excluded as invalid")
    return Study(config, datasets, models, optimizers, experiments, cells, excluded, flags)


def load_study_file(path: str | Path) -> Study:
    return load_study(yaml.safe_load(Path(path).read_text()))
