"""Benchmark: the engine against per-trial ``keras.Model.fit``, and how its cost grows with the work.

    python -m lossatlas.training.bench --trials 1000 --fit-trials 5 [--scaling]

Part 1, for each of the article's examples (Dense(1): linear+MSE on seed_large; sigmoid+MSE and
sigmoid+BCE on seed_small; Adam at Keras's defaults, batch 32, 100 epochs): ``--trials`` seeds
trained by the engine as one stack, timed from building the stack (its graphs traced) to the end of
training, and the first ``--fit-trials`` of the same trials (same data, initial weights and batch
order) trained by ``fit``, side by side in this process. It checks that they agree (final weights and
per-epoch losses within rtol 1e-5, atol 1e-7) and prints the time per trial of each and their ratio;
for scale, also ``fit`` as the article calls it (NumPy arrays, Keras's own shuffling).

Part 2 (``--scaling``): the engine's cost per trial (100 epochs, evaluated every 10 epochs as the
default grid is) for T = 100, 1,000 and 10,000 trials, for Dense(1) and the MLP (two hidden layers
of 32), each as one cell (sigmoid + MSE) and as a 25-cell stack (5 losses x 5 output activations,
as one job of the grid trains them), compiled as the workflow compiles them (XLA for the MLP).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lossatlas.data.datasets import DatasetSpec, generate
from lossatlas.design.study import LOSSES, ModelSpec, OptimizerSpec
from lossatlas.training import engine, reference
from lossatlas.training.backend import keras

EXAMPLES = (
    ("example 1", "seed_large", "mse", "linear"),
    ("example 2", "seed_small", "mse", "sigmoid"),
    ("example 3", "seed_small", "binary_crossentropy", "sigmoid"),
)
MODEL = ModelSpec("dense1")
MLP = ModelSpec("mlp", (32, 32), "tanh")
ADAM = OptimizerSpec("adam", "adam", 0.001)
ACTIVATIONS = ("linear", "sigmoid", "tanh", "softplus", "relu")


def stack_inputs(family: str, model: ModelSpec, n_seeds: int, base_seed: int = 1):
    data = generate(DatasetSpec(family, family, n_test=100), base_seed, n_seeds)
    data = {name: array for name, array in data.items() if name.startswith(("x_", "y_"))}
    seeds = [engine.trial_seed(base_seed, family, model.label, r) for r in range(n_seeds)]
    return data, seeds, engine.initial_weights(model, data["x_train"].shape[2], seeds)


def bench_example(family, loss, activation, trials, fit_trials, epochs, base_seed=1):
    data, seeds, initial = stack_inputs(family, MODEL, trials, base_seed)
    started = time.perf_counter()
    trainer = engine.StackTrainer(data, MODEL, [(loss, activation)], ADAM, initial, seeds)
    result = trainer.train(epochs, eval_every=epochs)
    engine_seconds = time.perf_counter() - started

    orders = engine.batch_orders(seeds[:fit_trials], data["x_train"].shape[1], epochs)
    started = time.perf_counter()
    deviation = 0.0
    for trial in range(fit_trials):
        weights, losses = reference.fit_reference(
            data["x_train"][trial], data["y_train"][trial], MODEL, loss, activation, ADAM,
            [array[trial] for array in initial], orders[:, trial],
        )
        for got, want in [(result.train_loss[:, trial], losses)] + [(array[trial], expected) for array, expected in zip(result.weights, weights)]:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
            deviation = max(deviation, float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-7))))
    fit_seconds = (time.perf_counter() - started) / fit_trials

    started = time.perf_counter()
    for trial in range(fit_trials):
        keras.utils.set_random_seed(seeds[trial])
        network = reference.build_model(MODEL, activation)
        network.compile(optimizer="adam", loss=loss, jit_compile=False)
        network.fit(data["x_train"][trial], data["y_train"][trial], epochs=epochs, verbose=0)
    article_fit_seconds = (time.perf_counter() - started) / fit_trials
    return engine_seconds, fit_seconds, article_fit_seconds, deviation


def scaling(trials: int, model: ModelSpec, cells: int, epochs: int = 100, eval_every: int = 10) -> float:
    """Seconds per trial of a stack of ``trials`` trials (``cells`` cells), from building it to the end."""
    segments = [("mse", "sigmoid")] if cells == 1 else [(loss, activation) for loss in LOSSES for activation in ACTIVATIONS]
    data, seeds, initial = stack_inputs("seed_small", model, max(1, trials // len(segments)))
    started = time.perf_counter()
    trainer = engine.StackTrainer(data, model, segments, ADAM, initial, seeds, jit_compile=bool(model.hidden_units))
    trainer.train(epochs, eval_every)
    return (time.perf_counter() - started) / trainer.n_trials


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=1000, help="trials per example trained by the engine")
    parser.add_argument("--fit-trials", type=int, default=5, help="of those, trials also trained by fit")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--scaling", action="store_true", help="also print the table of cost per trial by stack")
    args = parser.parse_args(argv)
    if not 1 <= args.fit_trials <= args.trials:
        raise ValueError(f"--fit-trials must be between 1 and --trials ({args.trials}), got {args.fit_trials}")
    bench_example("seed_small", "mse", "sigmoid", 2, 1, 2)  # warm-up of both paths, not timed

    print(f"{'':10} {'trials':>7} {'engine s':>9} {'engine ms/trial':>16} {'fit s/trial':>12} {'ratio':>7} "
          f"{'article fit s/trial':>20} {'ratio':>7} {'max rel dev':>12}")
    totals = np.zeros(3)
    for name, family, loss, activation in EXAMPLES:
        engine_s, fit_s, article_s, deviation = bench_example(family, loss, activation, args.trials, args.fit_trials, args.epochs)
        per_trial = engine_s / args.trials
        totals += (per_trial, fit_s, article_s)
        print(f"{name:10} {args.trials:7d} {engine_s:9.2f} {per_trial * 1e3:16.3f} {fit_s:12.3f} {fit_s / per_trial:7.0f} "
              f"{article_s:20.3f} {article_s / per_trial:7.0f} {deviation:12.2e}")
    print(f"\nOverall: the engine is {totals[1] / totals[0]:.0f}x faster per trial than fit on the same trials "
          f"(equivalent within rtol 1e-5), {totals[2] / totals[0]:.0f}x faster than fit as the article calls it.")
    if args.scaling:
        print("\nCost per trial, ms (100 epochs, evaluated every 10; from building the stack to the end):")
        print(f"{'model':8} {'stack':10} {'T=100':>8} {'T=1,000':>8} {'T=10,000':>9}")
        for model in (MODEL, MLP):
            for cells in (1, 25):
                costs = [scaling(trials, model, cells) * 1e3 for trials in (100, 1000, 10000)]
                label = "1 cell" if cells == 1 else "25 cells"
                print(f"{model.label:8} {label:10} {costs[0]:8.3f} {costs[1]:8.3f} {costs[2]:9.3f}", flush=True)


if __name__ == "__main__":
    main()
