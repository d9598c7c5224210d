"""The engine computes what ``keras.Model.fit`` computes, trial by trial, deterministically."""

import numpy as np
import pytest

from lossatlas import engine, reference
from lossatlas.config import ModelSpec, OptimizerSpec
from lossatlas.datasets import DatasetSpec, generate

DENSE = ModelSpec("dense1")
MLP = ModelSpec("mlp", (8, 8), "tanh")
ADAM = OptimizerSpec("adam", "adam", 0.001)
SGD = OptimizerSpec("sgd", "sgd", 0.01)
EPOCHS = 100


def setup(family, model, n_seeds=2, base_seed=11, scale_init=1.0):
    data = generate(DatasetSpec(family, family), base_seed, n_seeds)
    seeds = [engine.trial_seed(base_seed, family, model.label, r) for r in range(n_seeds)]
    initial = engine.initial_weights(model, 1, seeds)
    initial = [array * scale_init for array in initial]
    return data, seeds, initial


def assert_matches_fit(family, model, segments, optimizer, scale_init=1.0, epochs=EPOCHS):
    data, seeds, initial = setup(family, model, scale_init=scale_init)
    result = engine.StackTrainer(data, model, segments, optimizer, initial, seeds).train(epochs)
    orders = engine.batch_orders(seeds, data["x_train"].shape[1], epochs)
    n_seeds = len(seeds)
    for index, (loss, activation) in enumerate(segments):
        for replicate in range(n_seeds):
            trial = index * n_seeds + replicate
            weights, losses = reference.fit_reference(
                data["x_train"][replicate],
                data["y_train"][replicate],
                model,
                loss,
                activation,
                optimizer,
                [array[replicate] for array in initial],
                orders[:, replicate],
            )
            np.testing.assert_allclose(result.metrics["train_loss"][:, trial], losses, rtol=1e-5, atol=1e-7)
            for got, want in zip(result.weights, weights):
                np.testing.assert_allclose(got[trial], want, rtol=1e-5, atol=1e-7)


ARTICLE_CELLS = {
    "seed_small": [("mse", "sigmoid"), ("binary_crossentropy", "sigmoid"), ("mae", "tanh")],
    "seed_large": [("mse", "linear"), ("huber", "linear")],
}


@pytest.mark.parametrize("optimizer", [ADAM, SGD], ids=["adam", "sgd"])
@pytest.mark.parametrize("family", sorted(ARTICLE_CELLS))
def test_engine_matches_fit_on_the_article_model(family, optimizer):
    """{sigmoid+MSE, sigmoid+BCE, linear+MSE, linear+Huber, tanh+MAE} x {Adam, SGD}, Dense(1)."""
    assert_matches_fit(family, DENSE, ARTICLE_CELLS[family], optimizer)


def test_engine_matches_fit_when_the_sigmoid_saturates():
    """Large initial weights saturate the sigmoid: BCE must take Keras's logits path on both sides."""
    assert_matches_fit("seed_small", DENSE, [("binary_crossentropy", "sigmoid"), ("mse", "sigmoid")], ADAM, scale_init=40.0, epochs=20)


@pytest.mark.parametrize(
    "optimizer",
    [
        OptimizerSpec("rmsprop", "rmsprop", 0.001),
        OptimizerSpec("clipnorm", "sgd", 0.01, clipnorm=0.5),
        OptimizerSpec("global", "adam", 0.01, global_clipnorm=0.5),
        OptimizerSpec("clipvalue", "sgd", 0.01, clipvalue=0.1),
    ],
    ids=lambda spec: spec.label,
)
def test_engine_matches_fit_with_clipping_and_rmsprop(optimizer):
    """Norm clipping is computed per trial by the engine and by Keras in fit: they must agree."""
    assert_matches_fit("seed_large", DENSE, [("mse", "linear")], optimizer, epochs=30)


def test_engine_matches_fit_on_a_deeper_model():
    assert_matches_fit("seed_small", MLP, [("mse", "sigmoid"), ("mse", "linear")], ADAM, epochs=30)


def test_a_diverging_trial_is_recorded_and_isolated():
    """SGD with a huge learning rate blows up the linear cells; the bounded sigmoid cells of the same
    stack must train exactly as they do alone, and the job must not crash."""
    data, seeds, initial = setup("seed_large", DENSE, n_seeds=3)
    huge = OptimizerSpec("huge", "sgd", 5.0)
    mixed = engine.StackTrainer(data, DENSE, [("mse", "linear"), ("mse", "sigmoid")], huge, initial, seeds).train(20)
    alone = engine.StackTrainer(data, DENSE, [("mse", "sigmoid")], huge, initial, seeds).train(20)
    assert np.all(mixed.diverged_epoch[:3] >= 1) and np.all(mixed.diverged_epoch[:3] <= 3)
    assert np.all(mixed.diverged_epoch[3:] == 0)
    for name in ("train_loss", "test_rmse", "test_mae", "update_norm"):
        np.testing.assert_array_equal(mixed.metrics[name][:, 3:], alone.metrics[name], err_msg=name)
    # A diagnostic's reduction may sum in another order when the stack is larger: equal to rounding.
    np.testing.assert_allclose(mixed.metrics["output_grad_abs"][:, 3:], alone.metrics["output_grad_abs"], rtol=1e-6)
    np.testing.assert_allclose(mixed.layer_grad_norms[:, 3:], alone.layer_grad_norms, rtol=1e-6)
    for got, want in zip(mixed.weights, alone.weights):
        np.testing.assert_array_equal(got[3:], want)


def test_training_is_bit_identical_when_repeated():
    data, seeds, initial = setup("seed_small", MLP)
    runs = [engine.StackTrainer(data, MLP, [("mse", "sigmoid"), ("huber", "tanh")], ADAM, initial, seeds).train(10) for _ in range(2)]
    for name in runs[0].metrics:
        np.testing.assert_array_equal(runs[0].metrics[name], runs[1].metrics[name])
    np.testing.assert_array_equal(runs[0].layer_grad_norms, runs[1].layer_grad_norms)
    for got, want in zip(runs[0].weights, runs[1].weights):
        np.testing.assert_array_equal(got, want)


def test_seeds_pair_cells_and_fix_the_initial_weights():
    seeds = [engine.trial_seed(1, "seed_small", "dense1", r) for r in range(3)]
    assert len(set(seeds)) == 3
    assert seeds == [engine.trial_seed(1, "seed_small", "dense1", r) for r in range(3)]
    first, second = engine.initial_weights(MLP, 1, seeds), engine.initial_weights(MLP, 1, seeds)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    limit = np.sqrt(6 / (1 + 8))
    assert first[0].shape == (3, 1, 8) and np.abs(first[0]).max() <= limit and not first[1].any()
    orders = engine.batch_orders(seeds, 10, 4)
    assert orders.shape == (4, 3, 10)
    assert all(sorted(order) == list(range(10)) for order in orders.reshape(-1, 10))
