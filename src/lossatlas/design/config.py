"""A config, validated (schema, then meaning) and expanded into a :class:`lossatlas.design.study.Study`.

Every error is a :class:`ConfigError` (a ``ValueError``) whose first line reads
``config key 'a.b.c' = value: what is wrong``; it is raised when the Snakefile is parsed, so
``snakemake -n`` already reports it, before any job runs.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import yaml

from lossatlas.core import extensions
from lossatlas.data.datasets import FAMILIES, FILE_FAMILIES, DatasetSpec, check_spec
from lossatlas.design.study import (
    ACTIVATION_RANGES,
    LOSSES,
    Experiment,
    ModelSpec,
    OptimizerSpec,
    Study,
    expand,
)

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value that cannot be run; the message names the key and the value."""


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(
                    f"{self.name}, line {key_node.start_mark.line + 1}: key {key!r} appears twice in one mapping "
                    f"(first on line {seen[key] + 1}); YAML would silently keep only the last"
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path):
    """The YAML file at ``path``, refusing duplicate keys (ConfigError naming the key and its lines)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    loader = _StrictLoader(text)
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{path}: not valid YAML: {first}") from None
    finally:
        loader.dispose()


def _fail(key: str, value: object, problem: str) -> None:
    raise ConfigError(f"config key '{key}' = {value!r}: {problem}")


def _choose(key: str, value: str, choices) -> None:
    if value not in choices:
        _fail(key, value, f"unknown value; choose from {', '.join(sorted(choices))}")


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
    schema = schema or load_schema()
    errors = sorted(validator(schema).iter_errors(config), key=lambda e: [str(p) for p in e.path])
    if errors:
        raise ConfigError(schema_message(errors[0]))


def validator(schema: dict):
    """A JSON-schema validator whose ``integer`` is a Python int (not 4.0, not True) and whose
    ``number`` is a finite int or float (not .inf or .nan, not True): YAML's ``1e9`` is a float,
    and ``.inf`` passes a ``minimum``."""
    import math

    import jsonschema

    def is_integer(checker, instance):
        return isinstance(instance, int) and not isinstance(instance, bool)

    def is_number(checker, instance):
        return isinstance(instance, (int, float)) and not isinstance(instance, bool) and math.isfinite(instance)

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many({"integer": is_integer, "number": is_number})
    return jsonschema.validators.extend(base, type_checker=checker)(schema)


def schema_message(error, where: str = "config", parts=None, schema: str = "config.schema.yaml") -> str:
    """``{where} key 'a.b.c' = value: what is wrong`` for a jsonschema error (no schema dump):
    ``where`` names the file (and claim), ``parts`` the key's path (the error's own by default),
    ``schema`` the schema file under workflow/schemas/."""
    path = [str(part) for part in (error.path if parts is None else parts)]
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return f"{where} key '{'.'.join([*path, missing])}': missing (required)"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where} key '{'.'.join([*path, extra[0]])}': unknown key (not in workflow/schemas/{schema})"
    if "propertyNames" in error.schema_path:
        return (f"{where} key '{'.'.join([*path, str(error.instance)])}': {error.instance!r} is not a safe label "
                "(letters, digits, '_', '-' and '.', starting with a letter or digit, no '..'; labels become paths)")
    if error.validator == "type" and isinstance(error.instance, float) and not math.isfinite(error.instance):
        return f"{where} key '{'.'.join(path)}' = {error.instance!r}: must be finite"
    if error.validator == "type" and error.validator_value == "integer" and isinstance(error.instance, float):
        return f"{where} key '{'.'.join(path)}' = {error.instance!r}: must be a whole number written without a decimal point"
    key = ".".join(path) or "(top level)"
    value = error.instance if not isinstance(error.instance, (dict, list)) or len(repr(error.instance)) < 80 else "..."
    return f"{where} key '{key}' = {value!r}: {error.message}"


def _check_options(config: dict) -> None:
    """What the schema cannot say: names that refer to other keys, families and their parameters,
    losses and activations, and relations between values. (Ranges and types are the schema's.)"""
    for loss, requirement in config["validity"]["loss_requirements"].items():
        _choose("validity.loss_requirements", loss, LOSSES)
        for key, bounds in requirement.items():
            if not bounds[0] < bounds[1]:
                _fail(f"validity.loss_requirements.{loss}.{key}", bounds, "must be [low, high] with low < high")
    for label, spec in config["datasets"].items():
        _choose(f"datasets.{label}.family", spec["family"], {*FAMILIES, *FILE_FAMILIES})
        try:
            check_spec(dataset_spec(label, spec))
        except ValueError as error:
            field, _, problem = str(error).partition(": ")
            value = spec.get("params", {}).get(field, spec.get(field))
            key = f"datasets.{label}.params.{field}" if field in spec.get("params", {}) else f"datasets.{label}.{field}"
            _fail(key, value, problem)
    for label, spec in config["optimizers"].items():
        clips = [o for o in ("clipvalue", "clipnorm", "global_clipnorm") if spec.get(o) is not None]
        if len(clips) > 1:
            _fail(f"optimizers.{label}", clips, "set at most one of clipvalue, clipnorm and global_clipnorm")
    tuning = config["tuning"]
    if not tuning["min"] < tuning["max"]:
        _fail("tuning.max", tuning["max"], f"must be above tuning.min ({tuning['min']!r})")
    for label, spec in config["experiments"].items():
        for dimension, choices in (
            ("datasets", config["datasets"]),
            ("models", config["models"]),
            ("optimizers", config["optimizers"]),
            ("losses", LOSSES),
            ("activations", ACTIVATION_RANGES),
        ):
            for value in spec[dimension]:
                if dimension in ("losses", "activations") and extensions.is_import_path(value):
                    _check_custom(f"experiments.{label}.{dimension}", value, "loss" if dimension == "losses" else "activation")
                else:
                    _choose(f"experiments.{label}.{dimension}", value, choices)
        if spec["eval_every"] > spec["epochs"]:
            _fail(f"experiments.{label}.eval_every", spec["eval_every"], f"must not exceed the experiment's epochs ({spec['epochs']})")
        if "horizon_rate_factors" in spec and not spec["horizon"]:
            _fail(f"experiments.{label}.horizon_rate_factors", spec["horizon_rate_factors"], "needs horizon: true")


def _check_custom(key: str, value: str, kind: str) -> None:
    """A custom loss or activation (an import path) must import, be callable and give the right
    shapes on a probe batch (:func:`lossatlas.core.extensions.check`)."""
    try:
        extensions.check(value, kind)
    except ValueError as error:
        _fail(key, value, f"custom {kind}: {error}")


def dataset_spec(label: str, spec: dict) -> DatasetSpec:
    """The :class:`lossatlas.data.datasets.DatasetSpec` of the config entry ``spec`` (sizes the config
    leaves out take the family's defaults). ``scale: null`` (a ``csv`` file's targets kept as they
    are) becomes scale 1 with ``scale_target`` False; ``path``, ``target`` and ``features`` name a
    ``csv`` dataset's file and columns."""
    sizes = {name: spec.get(name) for name in ("n_train", "n_test", "n_validation")}
    scale = spec.get("scale", 1.0)
    features = spec.get("features")
    return DatasetSpec(
        label, spec["family"], 1.0 if scale is None else float(scale), params=spec.get("params", {}), **sizes,
        path=spec.get("path"), target=spec.get("target"), features=None if features is None else tuple(features),
        scale_target=scale is not None,
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
    experiments = {
        label: Experiment(
            label,
            *(tuple(spec[d]) for d in ("datasets", "inputs", "targets", "models", "losses", "activations", "optimizers")),
            epochs=spec["epochs"],
            batch_size=spec["batch_size"],
            eval_every=spec["eval_every"],
            n_seeds=spec.get("n_seeds", config["n_seeds"]),
            tune=spec["tune"],
            horizon=spec["horizon"],
            horizon_rate_factors=tuple(spec["horizon_rate_factors"]) if "horizon_rate_factors" in spec else None,
        )
        for label, spec in config["experiments"].items()
    }
    study = Study(config, datasets, models, optimizers, experiments, [], [], {})
    cells, excluded, flags = expand(config, experiments.values(), datasets, study.learning_rates)
    if excluded and config["validity"]["on_invalid"] == "error":
        first = excluded[0]
        cell = first.cell
        _fail(
            f"experiments.{cell.experiment}",
            f"{cell.dataset}/{cell.targets}/{cell.loss}/{cell.activation}",
            f"{first.reason} (set validity.on_invalid: exclude to skip such cells)",
        )
    for label in experiments:
        if not any(cell.experiment == label for cell in cells):
            _fail(f"experiments.{label}", label, "every combination is excluded as invalid")
    study.cells, study.excluded, study.flags = cells, excluded, flags
    return study


def load_study_file(path: str | Path) -> Study:
    return load_study(read_yaml(path))


def check_limits(study: Study) -> None:
    """Refuses a config whose work or memory (:meth:`lossatlas.design.study.Study.estimate`) is beyond the
    config's ``limits``; the message gives the estimate and the key to raise."""
    estimate, limits = study.estimate(), study.config["limits"]
    for key, value, what in (
        ("max_trial_steps", estimate["trial_steps"], "optimizer steps over all trials"),
        ("max_job_memory_mb", estimate["job_memory_mb"], f"MiB for the largest training job ({estimate['largest_job']})"),
        ("max_article_fits", estimate["article_fits"], "runs of the article's examples through model.fit"),
    ):
        if value > limits[key]:
            _fail(f"limits.{key}", limits[key], f"the config asks for about {value:,.0f} {what}; "
                  f"raise limits.{key} to run it anyway")
