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

Part 3 (``--scaling``), the roofline, each a ratio of two things timed in this process after their
graphs are compiled: the FLOP/s of the engine's training steps on a 1,000-trial MLP stack (the
matmuls' multiply-adds of forward and backward passes counted, :func:`mlp_step_flops`) against
TensorFlow's batched matmuls of the same shapes run alone; and a Dense(1) stack's time per step
against its arithmetic (:func:`dense_step_flops`) at the matmul rate just measured, so that what is
left is the fixed cost of a step.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np

from lossatlas.data.datasets import DatasetSpec, generate
from lossatlas.design.study import LOSSES, ModelSpec, OptimizerSpec
from lossatlas.training import engine, reference
from lossatlas.training.backend import keras, tf

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


def _settle() -> None:
    """Before a timed section: collects the garbage of the sections before it and moves every object
    still alive to the collector's permanent generation, so that a full collection triggered inside
    the section does not scan the objects of earlier sections (a full scan of the half million
    objects that TensorFlow and Keras hold takes about 0.3 s here)."""
    gc.collect()
    gc.freeze()


def bench_example(family, loss, activation, trials, fit_trials, epochs, base_seed=1):
    data, seeds, initial = stack_inputs(family, MODEL, trials, base_seed)
    _settle()
    started = time.perf_counter()
    trainer = engine.StackTrainer(data, MODEL, [(loss, activation)], ADAM, initial, seeds)
    result = trainer.train(epochs, eval_every=epochs)
    engine_seconds = time.perf_counter() - started

    orders = engine.batch_orders(seeds[:fit_trials], data["x_train"].shape[1], epochs)
    _settle()
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

    _settle()
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


def mlp_step_flops(model: ModelSpec, n_inputs: int, batch: int) -> int:
    """Floating-point operations of the matmuls of one training step of one trial (2 per
    multiply-add): each layer's forward product and its kernel's gradient, and the gradient to each
    layer's input but the first's."""
    sizes = [n_inputs, *model.layer_sizes]
    products = [fan_in * fan_out for fan_in, fan_out in zip(sizes, sizes[1:])]
    return 2 * batch * (2 * sum(products) + sum(products[1:]))


def dense_step_flops(n_inputs: int, batch: int) -> int:
    """Arithmetic of one Adam step of one Dense(1) trial with MSE: the forward product and bias
    (2d + 1 per sample), the error, its square and mean (3 per sample), the gradient to the output
    (2 per sample), the kernel's and bias's gradients (2d + 1 per sample) and Adam's update
    (about 12 per parameter)."""
    return batch * (4 * n_inputs + 7) + 12 * (n_inputs + 1)


def _seconds_per_call(function, calls: int) -> float:
    function()  # compiled and warmed, not timed
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls


def matmul_flops_per_second(trials: int, model: ModelSpec, n_inputs: int, batch: int, repeats: int = 50) -> float:
    """FLOP/s of TensorFlow's batched matmuls of the shapes of :func:`mlp_step_flops`, alone."""
    sizes = [n_inputs, *model.layer_sizes]
    rng = np.random.default_rng(0)
    kernels = [tf.constant(rng.normal(size=(trials, a, b)).astype(np.float32)) for a, b in zip(sizes, sizes[1:])]
    inputs = [tf.constant(rng.normal(size=(trials, batch, a)).astype(np.float32)) for a in sizes[:-1]]
    outputs = [tf.constant(rng.normal(size=(trials, batch, b)).astype(np.float32)) for b in sizes[1:]]

    def products():  # one step's products, returned whole so that none is computed only in part
        results = []
        for layer, (kernel, x, dz) in enumerate(zip(kernels, inputs, outputs)):
            results.append(tf.matmul(x, kernel))  # forward
            results.append(tf.matmul(x, dz, transpose_a=True))  # kernel gradient
            if layer:
                results.append(tf.matmul(dz, kernel, transpose_b=True))  # input gradient
        return results

    # The faster of TensorFlow's own kernels and XLA's.
    seconds = min(_seconds_per_call(tf.function(products, jit_compile=jit), repeats) for jit in (False, True))
    return trials * mlp_step_flops(model, n_inputs, batch) / seconds


def engine_seconds_per_step(trials: int, model: ModelSpec, epochs: int = 20, calls: int = 10) -> tuple[float, int, int]:
    """Seconds per training step of a one-cell (sigmoid + MSE) stack of ``trials`` trials on
    seed_small, compiled as the workflow compiles a horizon run (XLA), timed over ``calls`` calls of
    ``epochs`` epochs after a warm-up call (200 epochs: the host's drawing of the batch orders, a
    block of epochs at a time, counts at its average); also its inputs and batch size."""
    data, seeds, initial = stack_inputs("seed_small", model, trials)
    trainer = engine.StackTrainer(data, model, [("mse", "sigmoid")], ADAM, initial, seeds, jit_compile=True)
    steps = epochs * -(-trainer.n_train // trainer.batch_size)
    return _seconds_per_call(lambda: trainer.run(epochs), calls) / steps, data["x_train"].shape[2], trainer.batch_size


def roofline(mlp_trials: int = 1000, dense_trials: int = 80) -> list[str]:
    """The two lines of part 3."""
    step, n_inputs, batch = engine_seconds_per_step(mlp_trials, MLP)
    engine_rate = mlp_trials * mlp_step_flops(MLP, n_inputs, batch) / step
    matmul_rate = matmul_flops_per_second(mlp_trials, MLP, n_inputs, batch)
    dense_step, n_inputs, batch = engine_seconds_per_step(dense_trials, MODEL)
    arithmetic = dense_trials * dense_step_flops(n_inputs, batch) / matmul_rate
    return [
        f"MLP(32, 32), {mlp_trials:,} trials: the engine's steps run at {engine_rate / 1e9:.1f} GFLOP/s, TensorFlow's "
        f"batched matmuls of the same shapes alone at {matmul_rate / 1e9:.1f} GFLOP/s: {engine_rate / matmul_rate:.0%} of it.",
        f"Dense(1), {dense_trials} trials: {dense_step * 1e6:.0f} us per step; its arithmetic at that matmul rate takes "
        f"{arithmetic * 1e6:.1f} us: {dense_step / arithmetic:.0f}x, the rest is the fixed cost of a step.",
    ]


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
        print("\nRoofline:")
        for line in roofline():
            print(line)


if __name__ == "__main__":
    main()
