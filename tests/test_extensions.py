"""A loss or output activation of one's own, named by import path in the config, is checked when the
workflow is parsed and trained by the engine exactly as fit trains it."""

import numpy as np
import pytest
from helpers import edited, smoke_config

from lossatlas.data.datasets import DatasetSpec, generate
from lossatlas.design.config import ConfigError, load_study
from lossatlas.design.study import ModelSpec, OptimizerSpec
from lossatlas.training import engine, reference

LOSS = "custom_functions:scaled_mse"
ACTIVATION = "custom_functions:soft_clip"


@pytest.mark.slow
def test_a_custom_loss_and_activation_train_exactly_as_fit_trains_them():
    model, optimizer = ModelSpec("dense1"), OptimizerSpec("adam", "adam", 0.001)
    data = generate(DatasetSpec("s", "seed_small"), 3, 2)
    seeds = [engine.trial_seed(3, "seed_small", "dense1", r) for r in range(2)]
    initial = engine.initial_weights(model, 1, seeds)
    segments = [(LOSS, "sigmoid"), ("mse", ACTIVATION), (LOSS, ACTIVATION)]
    trainer = engine.StackTrainer(data, model, segments, optimizer, initial, seeds)
    result = trainer.train(20, eval_every=10)
    orders = engine.batch_orders(seeds, 100, 20)
    for index, (loss, activation) in enumerate(segments):
        for replicate in range(2):
            weights, losses = reference.fit_reference(data["x_train"][replicate], data["y_train"][replicate], model, loss,
                                                      activation, optimizer, [a[replicate] for a in initial], orders[:, replicate])
            trial = index * 2 + replicate
            np.testing.assert_allclose(result.train_loss[:, trial], losses, rtol=1e-5, atol=1e-7)
            for got, want in zip(result.weights, weights):
                np.testing.assert_allclose(got[trial], want, rtol=1e-5, atol=1e-7)
    # the custom activation's derivative (for saturation) comes from automatic differentiation
    assert np.all((result.evals["output_saturation"] >= 0) & (result.evals["output_saturation"] <= 1))


def test_a_custom_loss_in_the_config_is_checked_and_expanded():
    config = edited(smoke_config(), "experiments.article.losses", ["mse", LOSS])
    config = edited(config, "experiments.article.activations", ["linear", ACTIVATION])
    study = load_study(config)
    assert any(cell.loss == LOSS and cell.activation == ACTIVATION for cell in study.cells)


@pytest.mark.parametrize("path, problem", [
    ("custom_functions:nowhere", "has no 'nowhere'"),
    ("no_such_module:loss", "cannot import module 'no_such_module'"),
    ("custom_functions:per_batch", "one value per sample"),
])
def test_a_bad_custom_loss_is_refused_naming_the_key_and_the_path(path, problem):
    with pytest.raises(ConfigError) as error:
        load_study(edited(smoke_config(), "experiments.article.losses", ["mse", path]))
    message = str(error.value)
    assert message.startswith(f"config key 'experiments.article.losses' = '{path}'") and problem in message, message
