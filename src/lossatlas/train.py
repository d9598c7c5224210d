"""A training job: the stacks of one job, trained by the engine, as tidy tables of measurements.

Two tables (see :mod:`lossatlas.results` for every column): one row per trial (``trials``) and one
per trial and evaluation point (``evals``). Both carry the cell's coordinates and the seed (the
replicate index). They hold what the engine measured and nothing derived from the config's metric
settings: thresholds, stagnation and normalized errors are computed by :mod:`lossatlas.aggregate`,
so that changing them does not retrain anything.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from lossatlas.config import Stack, Study
from lossatlas.datasets import load_dataset
from lossatlas.results import CELL

COORDINATES = [*CELL, "seed"]


def prepare(study: Study, stack: Stack, data: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[int], list[np.ndarray]]:
    """The engine's inputs for ``stack``: its replicates of ``data`` (with the target transform of
    standardized targets), the trial seeds and the initial weights."""
    from lossatlas import engine  # imports TensorFlow: only where training happens

    experiment = study.experiments[stack.experiment]
    model = study.models[stack.model]
    n_seeds = experiment.n_seeds
    data = {name: array[:n_seeds] for name, array in data.items() if name.startswith(("x_", "y_"))}
    seeds = [engine.trial_seed(study.base_seed, study.datasets[stack.dataset].family, model.label, r) for r in range(n_seeds)]
    initial = engine.initial_weights(model, data["x_train"].shape[2], seeds)
    if stack.targets == "standardized":  # z-score fitted on each seed's training targets
        data = dict(data, target_shift=data["y_train"].mean(axis=(1, 2)), target_scale=data["y_train"].std(axis=(1, 2)))
    return data, seeds, initial


def train_stack(study: Study, stack: Stack, data: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trains every trial of ``stack``; returns ``(trials, evals)`` tables."""
    from lossatlas import engine

    experiment = study.experiments[stack.experiment]
    data, seeds, initial = prepare(study, stack, data)
    n_seeds = len(seeds)
    trainer = engine.StackTrainer(
        data,
        study.models[stack.model],
        stack.segments,
        study.optimizers[stack.optimizer],
        initial,
        seeds,
        batch_size=experiment.batch_size,
        jit_compile=study.config["training"]["jit_compile"],
        saturation_threshold=study.config["diagnostics"]["saturation_threshold"],
    )
    started = time.perf_counter()
    result = trainer.train(experiment.epochs, experiment.eval_every)
    seconds = time.perf_counter() - started

    coordinates = pd.DataFrame(
        {
            "experiment": stack.experiment,
            "dataset": stack.dataset,
            "targets": stack.targets,
            "model": stack.model,
            "optimizer": stack.optimizer,
            "loss": [loss for loss, _ in stack.segments for _ in range(n_seeds)],
            "activation": [activation for _, activation in stack.segments for _ in range(n_seeds)],
            "seed": np.tile(np.arange(n_seeds), len(stack.segments)),
        }
    )
    steps_per_epoch = -(-data["x_train"].shape[1] // experiment.batch_size)
    evals = evals_table(coordinates, result, steps_per_epoch)

    trials = coordinates.copy()
    trials["trial_seed"] = np.tile(seeds, len(stack.segments))
    trials["learning_rate"] = trainer.learning_rates.astype(np.float64)
    trials["epochs"] = experiment.epochs
    trials["steps"] = experiment.epochs * steps_per_epoch
    last = {name: values[-1] for name, values in result.evals.items()}
    for name in ("train_loss", "test_rmse", "test_mae", "validation_rmse", "validation_mae", "output_saturation",
                 "distance_l2", "distance_linf"):
        if name in last:
            trials[f"final_{name}"] = last[name]
    n_layers = len(result.weights) // 2
    trials["initial_grad_norm"] = result.evals[f"grad_norm_layer_{n_layers}"][0]
    trials["initial_output_grad_abs"] = result.evals["output_grad_abs"][0]
    trials["initial_output_saturation"] = result.evals["output_saturation"][0]
    trials["first_epoch_update_norm"] = result.evals["update_norm"][list(result.eval_epochs).index(1)]
    # Mean over the evaluation points after the start: how much of training the output spends saturated.
    trials["mean_output_saturation"] = result.evals["output_saturation"][1:].mean(axis=0)
    trials["diverged"] = result.diverged_epoch > 0
    trials["diverged_epoch"] = result.diverged_epoch
    trials["stack_seconds"] = seconds
    return trials, evals


def evals_table(coordinates: pd.DataFrame, result, steps_per_epoch: int) -> pd.DataFrame:
    """One row per trial and evaluation point: the coordinates, ``epoch``, ``step`` and every
    quantity of ``result.evals`` (``grad_norm_output`` is the last layer's gradient norm)."""
    n_points, n_trials = len(result.eval_epochs), len(coordinates)
    frame = coordinates.loc[np.tile(np.arange(n_trials), n_points)].reset_index(drop=True)
    frame["epoch"] = np.repeat(result.eval_epochs, n_trials)
    frame["step"] = frame["epoch"] * steps_per_epoch
    for name, values in sorted(result.evals.items()):
        frame[name] = values.reshape(-1)
    n_layers = sum(name.startswith("grad_norm_layer_") for name in result.evals)
    frame["grad_norm_output"] = frame[f"grad_norm_layer_{n_layers}"]
    return frame


def run_job(study: Study, job: str, dataset_paths: dict[str, tuple[Path, Path]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trains all stacks of ``job``; ``dataset_paths`` maps a dataset label to (data, manifest)."""
    trials, evals, cache = [], [], {}
    for stack in study.jobs()[job]:
        if stack.dataset not in cache:
            cache[stack.dataset] = load_dataset(*dataset_paths[stack.dataset])
        stack_trials, stack_evals = train_stack(study, stack, cache[stack.dataset])
        trials.append(stack_trials)
        evals.append(stack_evals)
    return pd.concat(trials, ignore_index=True), pd.concat(evals, ignore_index=True)
