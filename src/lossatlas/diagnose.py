"""Diagnose a regression on your own data: which loss, output activation, optimizer and learning rate
fit a CSV file best, and whether your current choice is slow or stuck.

``make diagnose DATA=path/to/file.csv TARGET=y`` (or ``python -m lossatlas.diagnose --data ...
--target ...``) writes, under ``results/diagnose/<name>/`` (``<name>``: the file's stem):

* ``config.yaml``: a remedies-style experiment on that file (a ``csv`` dataset with the targets as
  they are): losses MSE, Huber, MAE and binary cross-entropy (only where the targets lie in [0, 1])
  × output activations linear, sigmoid and tanh × Adam and SGD (and your optimizer) × raw and
  standardized targets, Dense(1) on standardized inputs, every rate of a small sweep (tuned rates)
  and trained past the budget until each cell has reached the target fit or stalled (time to target),
  with small defaults (a few minutes on 2 cores for a few thousand rows);
* ``claims.yaml``: one paired claim per alternative to your current choice (``--loss``,
  ``--activation``, ``--optimizer``, ``--targets``; by default MSE, a linear output, Adam at Keras's
  default rate and raw targets): "the alternative gives a lower test rRMSE than your choice", judged
  at the budget and by time to target, at the default and at the tuned rate;

then runs the workflow with that config (its results under the same directory), prints the path of
the report and a short summary: the best cell (lowest median test rRMSE over the seeds, with the 95%
CI of its mean) against your choice, whether your choice reached the target fit, is slow or stuck,
and the alternatives ranked by their effect (``analysis/remedies.csv``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import re
import subprocess
import sys
from pathlib import Path

import yaml

from lossatlas.core.textfmt import format_error, format_interval, format_ratio, format_steps
from lossatlas.design.config import SCHEMA_PATH, ConfigError, check_limits, load_study

REPOSITORY = SCHEMA_PATH.parents[2]
"""The checkout this package lies in: the workflow a diagnosis runs unless the working directory holds one."""


def find_repository() -> Path:
    """The workflow to run: the working directory where it holds a Snakefile (a copy of the checkout,
    as ``make diagnose`` runs it), else the checkout this package lies in."""
    here = Path.cwd()
    return here if (here / "Snakefile").is_file() and (here / "workflow").is_dir() else REPOSITORY

EXPERIMENT = "diagnose"
MODEL = "dense1"
KERAS_DEFAULT_RATES = {"adam": 0.001, "sgd": 0.01, "rmsprop": 0.001}
"""Keras's default learning rate of each optimizer: the rate of "your current choice"."""
LOSSES = ("mse", "huber", "mae", "binary_crossentropy")
ACTIVATIONS = ("linear", "sigmoid", "tanh")
OPTIMIZERS = ("adam", "sgd")
LOSS_NAMES = {"mse": "MSE", "huber": "Huber", "mae": "MAE", "binary_crossentropy": "binary cross-entropy"}
OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}


def _level_name(contrast: str, level: str) -> str:
    """A level of a contrast as the summary writes it: ``MSE``, ``SGD``, ``linear output``, ``raw targets``."""
    names = {"loss": LOSS_NAMES, "optimizer": OPTIMIZER_NAMES}.get(contrast, {})
    suffix = {"activation": " output", "targets": " targets"}.get(contrast, "")
    return names.get(level, level) + suffix


@dataclasses.dataclass(frozen=True)
class Size:
    """How much a diagnosis trains: seeds per cell, the budget in epochs, evaluations every
    ``eval_every`` epochs, the horizon cap as a multiple of the budget's steps, the rate sweep and the
    bootstrap resamples."""

    seeds: int
    epochs: int
    eval_every: int
    cap_budgets: int
    sweep_min: float
    sweep_max: float
    extend_steps: int
    resamples: int


SIZES = {
    # a few minutes on 2 cores for a few thousand rows
    "default": Size(seeds=5, epochs=20, eval_every=5, cap_budgets=8, sweep_min=1e-4, sweep_max=0.1, extend_steps=1,
                    resamples=2000),
    # the tests: the shipped example in about a minute of training
    "smoke": Size(seeds=3, epochs=10, eval_every=5, cap_budgets=4, sweep_min=1e-3, sweep_max=0.1, extend_steps=0,
                  resamples=500),
}


@dataclasses.dataclass(frozen=True)
class Choice:
    """The user's current setup, the baseline every claim compares an alternative with."""

    loss: str = "mse"
    activation: str = "linear"
    optimizer: str = "adam"
    targets: str = "raw"

    @property
    def learning_rate(self) -> float:
        return KERAS_DEFAULT_RATES[self.optimizer]

    def describe(self) -> str:
        return (f"{LOSS_NAMES.get(self.loss, self.loss)}, {self.activation} output, {self.optimizer} at Keras's "
                f"default rate {self.learning_rate:g}, {self.targets} targets")


def dataset_name(path: str | Path) -> str:
    """A label for the file: its stem with every character other than letters, digits, ``_`` and
    ``-`` replaced by ``_`` (labels become paths), at most 64 characters."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(path).stem).strip("_-") or "data"
    return name[:64]


def config_path_of(data: str | Path, repository: Path) -> str:
    """The path the config gives for the data file: relative to the repository where it lies inside
    it (portable), else absolute (a relative path may not leave the repository)."""
    resolved = Path(data).resolve()
    try:
        return resolved.relative_to(repository.resolve()).as_posix()
    except ValueError:
        return str(resolved)


def _valid(loss: str, activation: str, targets: str, target_low: float, target_high: float) -> bool:
    """Whether the workflow runs this combination (binary cross-entropy needs targets and outputs in [0, 1])."""
    if loss != "binary_crossentropy":
        return True
    return activation == "sigmoid" and targets == "raw" and 0.0 <= target_low and target_high <= 1.0


def build_config(name: str, data_path: str, target: str, choice: Choice, target_range: tuple[float, float],
                 steps_per_epoch: int, size: Size, features: list[str] | None = None,
                 inputs: str = "standardized") -> dict:
    """The config of a diagnosis (see the module doc) of the file ``data_path`` (as the config gives
    it), under ``results/diagnose/<name>``; ``target_range`` (the least and largest target) decides
    whether binary cross-entropy is run, ``steps_per_epoch`` sets the horizon cap."""
    low, high = target_range
    losses = [loss for loss in LOSSES if loss != "binary_crossentropy" or (0.0 <= low and high <= 1.0)]
    if choice.loss not in losses:
        losses.append(choice.loss)
    optimizers = list(dict.fromkeys([*OPTIMIZERS, choice.optimizer]))
    activations = list(dict.fromkeys([*ACTIVATIONS, choice.activation]))
    dataset = {"family": "csv", "path": data_path, "target": target, "scale": None}
    if features:
        dataset["features"] = list(features)
    results = f"results/diagnose/{name}"
    return {
        "title": f"Loss Atlas diagnosis of {Path(data_path).name} (target {target})",
        "base_seed": 20250130,
        "n_seeds": size.seeds,
        "results_dir": results,
        "datasets": {name: dataset},
        "models": {MODEL: {"hidden_units": []}},
        "optimizers": {label: {"name": label, "learning_rate": KERAS_DEFAULT_RATES[label]} for label in optimizers},
        "experiments": {
            EXPERIMENT: {
                "datasets": [name],
                "inputs": [inputs],
                "targets": ["raw", "standardized"],
                "models": [MODEL],
                "losses": losses,
                "activations": activations,
                "optimizers": optimizers,
                "epochs": size.epochs,
                "batch_size": 32,
                "eval_every": size.eval_every,
                "tune": True,
                "horizon": True,
                "horizon_rate_factors": [],
            }
        },
        "tuning": {"min": size.sweep_min, "max": size.sweep_max, "per_decade": 1, "extend_steps": size.extend_steps},
        "horizon": {"cap_steps": size.cap_budgets * size.epochs * steps_per_epoch, "points_per_doubling": 2},
        "article": {"n_seeds": 1, "seeds_per_job": 1},
        "claims": f"{results}/claims.yaml",
        "validity": {"on_invalid": "exclude"},
        "statistics": {"bootstrap_resamples": size.resamples},
    }


def build_claims(config: dict, choice: Choice, target_range: tuple[float, float]) -> dict:
    """One paired claim per alternative to ``choice`` that the config runs: another loss (same output
    and targets), another output activation (same loss), standardized targets, another optimizer;
    each says the alternative gives a lower final test rRMSE, judged at the budget and by time to
    target, at the default and the tuned rate, and is a remedy (ranked in analysis/remedies.csv)."""
    experiment = config["experiments"][EXPERIMENT]
    base = {"experiment": EXPERIMENT, "model": MODEL, "loss": choice.loss, "activation": choice.activation,
            "optimizer": choice.optimizer, "targets": choice.targets}
    yours = choice.describe()
    claims = []

    def add(claim_id: str, contrast: str, better: str, what: str) -> None:
        select = {key: value for key, value in base.items() if key != contrast}
        levels = {**base, contrast: better}
        if not _valid(levels["loss"], levels["activation"], levels["targets"], *target_range):
            return
        claims.append({
            "id": claim_id,
            "name": f"{what} instead of your {_level_name(contrast, base[contrast])}",
            "article": f"Your current choice: {yours}.",
            "claim": f"{what} gives a lower final test rRMSE than your choice ({yours}).",
            "kind": "paired",
            "select": select,
            "contrast": contrast,
            "pairs": [[better, base[contrast]]],
            "metric": "final_test_rrmse",
            "contexts": ["dataset"],
            "judged_by": ["budget", "time"],
            "rates": ["default", "tuned"],
            "remedy": True,
        })

    # Each alternative to the choice: (contrast, the experiment's key listing its levels, id prefix, in words).
    alternatives = (
        ("loss", "losses", "loss", lambda loss: f"{LOSS_NAMES.get(loss, loss)} loss"),
        ("activation", "activations", "output", lambda activation: f"A {activation} output"),
        ("targets", "targets", "targets", lambda targets: f"{targets.capitalize()} targets"),
        ("optimizer", "optimizers", "optimizer", lambda optimizer: f"{OPTIMIZER_NAMES[optimizer]} (at its own default rate)"),
    )
    for contrast, levels, prefix, words in alternatives:
        for level in experiment[levels]:
            if level != getattr(choice, contrast):
                add(f"{prefix}_{level}", contrast, level, words(level))
    if not claims:
        raise ValueError("no alternative to your choice can be run on this data")
    return {"claims": claims}


def write_yaml(path: Path, document: dict, header: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=110))


def prepare(data: str, target: str, choice: Choice, size: Size, features: list[str] | None = None,
            inputs: str = "standardized", name: str | None = None, repository: Path = REPOSITORY) -> Path:
    """Checks the data (the same checks and messages as ``snakemake -n``; ConfigError) and writes the
    config and claims of its diagnosis; returns the config's path (relative to ``repository``)."""
    name = name or dataset_name(data)
    data_path = config_path_of(data, repository)
    with contextlib.chdir(repository):
        # the dataset alone first: its file's problems, then the run's own config
        probe = build_config(name, data_path, target, choice, (0.0, 1.0), 1, size, features, inputs)
        study = load_study({**probe, "experiments": {EXPERIMENT: {**probe["experiments"][EXPERIMENT],
                                                                  "losses": ["mse"], "activations": ["linear"]}}})
        spec = study.datasets[name]
        target_range = spec.target_range
        steps = -(-spec.n_train // 32)
        config = build_config(name, data_path, target, choice, target_range, steps, size, features, inputs)
        claims = build_claims(config, choice, target_range)
        check_limits(load_study(config))
        directory = Path(config["results_dir"])
        write_yaml(directory / "claims.yaml", claims,
                   f"# Claims of the diagnosis of {data_path}: each alternative against your current choice\n"
                   f"# ({choice.describe()}). Written by lossatlas.diagnose.\n")
        write_yaml(directory / "config.yaml", config,
                   f"# Diagnosis of {data_path} (target {target}), written by lossatlas.diagnose; run it again with\n"
                   f"# snakemake --cores all --configfile {directory}/config.yaml\n")
    return directory / "config.yaml"


def snakemake_command() -> list[str]:
    executable = Path(sys.executable).with_name("snakemake")
    return [str(executable)] if executable.exists() else [sys.executable, "-m", "snakemake"]


def run_workflow(config_path: Path, cores: str, repository: Path = REPOSITORY, extra: list[str] | None = None) -> int:
    """Runs the workflow with the diagnosis's config in ``repository``; returns Snakemake's exit status."""
    command = [*snakemake_command(), "--cores", str(cores), "--configfile", str(config_path), *(extra or [])]
    print("running:", " ".join(command), flush=True)
    return subprocess.run(command, cwd=repository, check=False).returncode


# ------------------------------------------------------------------------------------------------
# The summary
# ------------------------------------------------------------------------------------------------


def _number(value: float) -> str:
    """An error by the report's rule (:mod:`lossatlas.core.textfmt`): 3 significant digits."""
    return format_error(value)


def _cell_text(row) -> str:
    return (f"{LOSS_NAMES.get(row['loss'], row['loss'])} + {row['activation']} output, {row['optimizer']} "
            f"at rate {float(row['learning_rate']):g} ({row['rate']}), {row['targets']} targets")


def candidate_cells(cells, tuned, optimizers: dict):
    """The cells of the diagnosis at each base cell's default and tuned rate (the rate chosen on the
    validation split, analysis/tuned_rates.csv), with a column ``rate`` (default or tuned)."""
    import pandas as pd

    cells = cells[cells["experiment"] == EXPERIMENT].copy()
    cells["learning_rate"] = cells["learning_rate"].astype(float)
    keys = ["experiment", "dataset", "inputs", "targets", "model", "optimizer", "loss", "activation"]
    default = cells[[math.isclose(rate, optimizers[opt], rel_tol=1e-6)
                     for rate, opt in zip(cells["learning_rate"], cells["optimizer"])]].assign(rate="default")
    parts = [default]
    if tuned is not None and len(tuned):
        tuned = tuned[tuned["experiment"] == EXPERIMENT][[*keys, "tuned_learning_rate"]]
        merged = cells.merge(tuned.astype({key: str for key in keys}), on=keys, how="inner")
        chosen = merged[[math.isclose(a, float(b), rel_tol=1e-6)
                         for a, b in zip(merged["learning_rate"], merged["tuned_learning_rate"])]]
        parts.append(chosen.drop(columns="tuned_learning_rate").assign(rate="tuned"))
    return pd.concat(parts, ignore_index=True)


def _status_text(row) -> str:
    status = str(row.get("horizon_status", "") or "")
    steps = row.get("horizon_steps")
    if status == "reached":
        return f"reaches the target fit (median {format_steps(row.get('steps_to_threshold_median'))} steps)"
    diagnosis = str(row.get("diagnosis", "") or "")
    detail = f"; diagnosis: {diagnosis}" if diagnosis and diagnosis != "nan" else ""
    if status == "stalled":
        return f"STUCK: it stalled after {format_steps(steps)} steps without reaching the target fit{detail}"
    if status == "undecided":
        return f"UNDECIDED: still short of the target fit at the cap ({format_steps(steps)} steps){detail}"
    return f"{status or 'not trained past the budget'}{detail}"


def summarize(results: Path, choice: Choice, optimizers: dict | None = None) -> str:
    """A short text summary of a finished diagnosis under ``results`` (see the module doc)."""
    import pandas as pd

    from lossatlas.core.results import read

    optimizers = optimizers or KERAS_DEFAULT_RATES
    cells = read(results / "aggregate" / "cells.csv")
    tuned_path = results / "analysis" / "tuned_rates.csv"
    tuned = read(tuned_path) if tuned_path.exists() else None
    candidates = candidate_cells(cells, tuned, optimizers)
    metric = "final_test_rrmse"
    candidates = candidates[pd.to_numeric(candidates[f"{metric}_median"], errors="coerce").notna()]
    lines = []
    if candidates.empty:
        return "No cell has a finite test rRMSE: every one diverged."
    ranked = candidates.assign(score=candidates[f"{metric}_median"].astype(float)).sort_values("score", kind="stable")
    best = ranked.iloc[0]
    mine = candidates[(candidates["loss"] == choice.loss) & (candidates["activation"] == choice.activation)
                      & (candidates["optimizer"] == choice.optimizer) & (candidates["targets"] == choice.targets)]
    mine_default = mine[mine["rate"] == "default"]
    lines.append(f"Best cell: {_cell_text(best)}: median test rRMSE {_number(best[f'{metric}_median'])} "
                 f"(mean 95% CI [{_number(best[f'{metric}_ci_low'])}, {_number(best[f'{metric}_ci_high'])}]; "
                 "rRMSE = RMSE / the RMSE of least squares on the same split, lower is better)")
    if len(mine_default):
        yours = mine_default.iloc[0]
        ratio = float(yours[f"{metric}_median"]) / float(best[f"{metric}_median"])
        lines.append(f"Your choice ({choice.describe()}): median test rRMSE {_number(yours[f'{metric}_median'])} "
                     f"(mean 95% CI [{_number(yours[f'{metric}_ci_low'])}, {_number(yours[f'{metric}_ci_high'])}]); "
                     f"the best cell's is {format_ratio(ratio)}x lower")
        lines.append(f"Your choice by time to target: {_status_text(yours)}")
        for _, row in mine[mine["rate"] == "tuned"].iterrows():
            lines.append(f"  at its tuned rate {float(row['learning_rate']):g}: median test rRMSE "
                         f"{_number(row[f'{metric}_median'])}; {_status_text(row)}")
    else:
        lines.append(f"Your choice ({choice.describe()}) is not among the cells run.")
    remedies_path = results / "analysis" / "remedies.csv"
    if remedies_path.exists():
        remedies = read(remedies_path)
        remedies = remedies[remedies["remedy"].astype(str).str.lower() == "true"]
        if len(remedies):
            lines.append("Alternatives ranked (effect: how many times lower the test rRMSE than your choice, "
                         "paired by seed, 95% CI; > 1 is better):")
            for _, row in remedies.sort_values(["rank", "rate"], kind="stable").iterrows():
                lines.append(f"  {int(float(row['rank']))}. {row['name']} ({row['rate']} rate): "
                             f"{format_interval(row['effect'], row['effect_ci_low'], row['effect_ci_high'], 'ratio').replace(' [', 'x [', 1)}; "
                             f"budget: {row['verdict_budget'] or '-'}; time: {row['verdict_time'] or '-'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lossatlas.diagnose", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the CSV file (a header line of column names)")
    parser.add_argument("--target", required=True, help="the target column")
    parser.add_argument("--features", help="the input columns, comma-separated (default: every other numeric column)")
    parser.add_argument("--loss", default="mse", choices=LOSSES, help="your current loss (default mse)")
    parser.add_argument("--activation", default="linear", choices=ACTIVATIONS, help="your output activation (default linear)")
    parser.add_argument("--optimizer", default="adam", choices=sorted(KERAS_DEFAULT_RATES),
                        help="your optimizer, at Keras's default rate (default adam)")
    parser.add_argument("--targets", default="raw", choices=["raw", "standardized"], help="your target preprocessing (default raw)")
    parser.add_argument("--inputs", default="standardized", choices=["raw", "standardized"],
                        help="input preprocessing of every cell (default standardized)")
    parser.add_argument("--size", default="default", choices=sorted(SIZES), help="how much to train (smoke: the tests)")
    parser.add_argument("--epochs", type=int, help="the budget in epochs (default: the size's: 20, smoke 10)")
    parser.add_argument("--seeds", type=int, help="seeds per cell (default: the size's: 5, smoke 3)")
    parser.add_argument("--name", help="the run's name (default: the file's stem)")
    parser.add_argument("--cores", default="all", help="cores for Snakemake (default all)")
    parser.add_argument("--config-only", action="store_true", help="write the config and claims, run nothing")
    parser.add_argument("--repository", type=Path, default=None,
                        help="the checkout whose workflow runs (default: the working directory if it holds a Snakefile)")
    arguments = parser.parse_args(argv)
    repository = (arguments.repository or find_repository()).resolve()
    choice = Choice(arguments.loss, arguments.activation, arguments.optimizer, arguments.targets)
    features = [f.strip() for f in arguments.features.split(",") if f.strip()] if arguments.features else None
    name = arguments.name or dataset_name(arguments.data)
    size = SIZES[arguments.size]
    if arguments.epochs:
        size = dataclasses.replace(size, epochs=arguments.epochs, eval_every=min(size.eval_every, arguments.epochs))
    if arguments.seeds:
        size = dataclasses.replace(size, seeds=arguments.seeds)
    try:
        config_path = prepare(arguments.data, arguments.target, choice, size, features,
                              arguments.inputs, name, repository)
    except ConfigError as error:
        print(f"{error}", file=sys.stderr)
        return 2
    print(f"wrote {config_path} and {config_path.with_name('claims.yaml')}")
    if arguments.config_only:
        return 0
    status = run_workflow(config_path, arguments.cores, repository)
    results = repository / config_path.parent
    if status != 0:
        print(f"the workflow failed (exit status {status}); see {results / 'logs'}", file=sys.stderr)
        return status
    optimizers = {label: spec["learning_rate"] for label, spec in
                  yaml.safe_load((repository / config_path).read_text())["optimizers"].items()}
    print()
    print(summarize(results, choice, optimizers))
    print(f"\nReport: {results / 'report' / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
