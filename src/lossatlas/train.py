"""A training job: the stacks of one job, trained by the engine, as tidy tables.

Tables (one row per trial, and one per trial and epoch) carry the cell's coordinates as columns:
``experiment, dataset, model, optimizer, loss, activation, seed`` (the replicate index).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from lossatlas import compare
from lossatlas.config import Stack, Study
from lossatlas.datasets import load_dataset

COORDINATES = ["experiment", "dataset", "targets", "model", "optimizer", "loss", "activation", "seed"]


def train_stack(study: Study, stack: Stack, data: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trains every trial of ``stack``; returns ``(trials, epochs)`` tables."""
    from lossatlas import engine  # imports TensorFlow: only where training happens

    experiment = study.experiments[stack.experiment]
    model = study.models[stack.model]
    dataset = study.datasets[stack.dataset]
    n_seeds = experiment.n_seeds
    data = {name: array[:n_seeds] for name, array in data.items()}  # replicates 0..n_seeds-1
    seeds = [engine.trial_seed(study.base_seed, dataset.family, model.label, r) for r in range(n_seeds)]
    initial = engine.initial_weights(model, data["x_train"].shape[2], seeds)
    if stack.targets == "standardized":  # z-score fitted on each seed's training targets
        data = dict(data, target_shift=data["y_train"].mean(axis=(1, 2)), target_scale=data["y_train"].std(axis=(1, 2)))
    trainer = engine.StackTrainer(
        data,
        model,
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

    n_trials = len(stack.segments) * n_seeds
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
    epochs = experiment.epochs
    frame = coordinates.loc[np.tile(np.arange(n_trials), epochs)].reset_index(drop=True)
    frame["epoch"] = np.repeat(np.arange(1, epochs + 1), n_trials)
    for name, values in result.metrics.items():
        frame[name] = values.reshape(-1)
    for layer in range(result.layer_grad_norms.shape[2]):
        frame[f"grad_norm_layer_{layer + 1}"] = result.layer_grad_norms[:, :, layer].reshape(-1)
    frame["grad_norm_output"] = result.layer_grad_norms[:, :, -1].reshape(-1)

    trials = coordinates.copy()
    trials["trial_seed"] = np.tile(seeds, len(stack.segments))
    trials["epochs"] = epochs
    for name in ("train_loss", "test_rmse", "test_mae"):
        trials[f"final_{name}"] = result.metrics[name][-1]
    # Common metrics: RMSE in units of the generator's noise (the floor is about 1), and R^2 beside
    # the best R^2 the data allow (the noise's share of the test targets' variance).
    test_variance = np.tile(data["y_test"].var(axis=(1, 2)), len(stack.segments))
    trials["final_test_nrmse"] = trials["final_test_rmse"] / dataset.noise_sd
    trials["final_test_r2"] = 1.0 - trials["final_test_rmse"] ** 2 / test_variance
    trials["best_test_r2"] = 1.0 - dataset.noise_sd**2 / test_variance
    # Diagnostics of the first epoch, before training has moved far from the initial weights.
    trials["first_epoch_grad_norm"] = result.layer_grad_norms[0, :, -1]
    trials["first_epoch_output_grad_abs"] = result.metrics["output_grad_abs"][0]
    trials["first_epoch_update_norm"] = result.metrics["update_norm"][0]
    trials["final_output_saturation"] = result.metrics["output_saturation"][-1]
    trials["diverged"] = result.diverged_epoch > 0
    trials["diverged_epoch"] = result.diverged_epoch
    trials["reach_flag"] = [
        study.flags.get(stack.cell(loss, activation), "")
        for loss, activation in stack.segments
        for _ in range(n_seeds)
    ]
    trials["stack_seconds"] = seconds
    steps_per_epoch = -(-dataset.n_train // experiment.batch_size)
    nrmse = result.metrics["test_rmse"] / dataset.noise_sd
    trials = trials.assign(**progress_measures(nrmse, result.diverged_epoch, study.config["metrics"], steps_per_epoch))
    return trials, frame


def progress_measures(nrmse, diverged_epoch, settings: dict, steps_per_epoch: int) -> dict[str, np.ndarray]:
    """Steps to reach the nRMSE threshold (censored) and stagnation, per trial.

    Args:
        nrmse: ``(epochs, T)`` test nRMSE, NaN where not evaluated.
        diverged_epoch: ``(T,)``, 0 for trials that did not diverge.
        settings: the config's ``metrics`` section.
    """
    curves = np.asarray(nrmse, np.float64).T  # (T, epochs)
    steps, reached = compare.steps_to_threshold(curves, settings["nrmse_threshold"], steps_per_epoch)
    recorded = int(np.isfinite(curves).sum(axis=1).max())
    window = max(1, int(round(settings["stagnation_window"] * recorded)))
    stagnated = compare.stagnation(
        curves, min(window, max(recorded - 1, 1)), settings["stagnation_tolerance"], 1.0, settings["stagnation_margin"]
    )
    diverged = np.asarray(diverged_epoch) > 0
    return {
        "steps_to_threshold": steps,
        "reached_threshold": reached & ~diverged,
        "stagnated": stagnated & ~diverged,
    }


def run_job(study: Study, job: str, dataset_paths: dict[str, tuple[Path, Path]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trains all stacks of ``job``; ``dataset_paths`` maps a dataset label to (data, manifest)."""
    trials, epochs, cache = [], [], {}
    for stack in study.jobs()[job]:
        if stack.dataset not in cache:
            cache[stack.dataset] = load_dataset(*dataset_paths[stack.dataset])
        stack_trials, stack_epochs = train_stack(study, stack, cache[stack.dataset])
        trials.append(stack_trials)
        epochs.append(stack_epochs)
    return pd.concat(trials, ignore_index=True), pd.concat(epochs, ignore_index=True)
