"""The engine computes what ``keras.Model.fit`` computes, trial by trial, deterministically."""

import numpy as np
import pytest

from lossatlas.data.datasets import DatasetSpec, generate
from lossatlas.design.study import ModelSpec, OptimizerSpec
from lossatlas.training import engine, reference

DENSE = ModelSpec("dense1")
MLP = ModelSpec("mlp", (8, 8), "tanh")
RELU_MLP = ModelSpec("relu_mlp", (8,), "relu")
ADAM = OptimizerSpec("adam", "adam", 0.001)
SGD = OptimizerSpec("sgd", "sgd", 0.01)
EPOCHS = 100


def setup(family, model, n_seeds=2, base_seed=11, scale_init=1.0):
    data = generate(DatasetSpec(family, family), base_seed, n_seeds)
    seeds = [engine.trial_seed(base_seed, family, model.label, r) for r in range(n_seeds)]
    initial = engine.initial_weights(model, data["x_train"].shape[2], seeds)
    initial = [array * scale_init for array in initial]
    return data, seeds, initial


def fit_trial(data, model, segment, optimizer, initial, orders, replicate, targets=None):
    """One trial through plain fit: its final weights, per-epoch losses and the Keras model."""
    y_train = data["y_train"][replicate] if targets is None else targets[replicate]
    weights, losses = reference.fit_reference(
        data["x_train"][replicate], y_train, model, segment.loss, segment.activation, optimizer,
        [array[replicate] for array in initial], orders[:, replicate], learning_rate=segment.learning_rate,
    )
    return weights, losses


def assert_matches_fit(family, model, segments, optimizer, scale_init=1.0, epochs=EPOCHS, n_seeds=2, check=None, **options):
    """Trains ``segments`` as one stack and checks every trial (or the trials ``check``) against fit."""
    data, seeds, initial = setup(family, model, n_seeds=n_seeds, scale_init=scale_init)
    result = engine.StackTrainer(data, model, segments, optimizer, initial, seeds, **options).train(epochs)
    orders = engine.batch_orders(seeds, data["x_train"].shape[1], epochs)
    segments = [engine.as_segment(segment) for segment in segments]
    trials = range(len(segments) * n_seeds) if check is None else check
    for trial in trials:
        segment, replicate = segments[trial // n_seeds], trial % n_seeds
        weights, losses = fit_trial(data, model, segment, optimizer, initial, orders, replicate)
        np.testing.assert_allclose(result.train_loss[:, trial], losses, rtol=1e-5, atol=1e-7)
        for got, want in zip(result.weights, weights):
            np.testing.assert_allclose(got[trial], want, rtol=1e-5, atol=1e-7)
    return data, result


ARTICLE_CELLS = {
    "seed_small": [("mse", "sigmoid"), ("binary_crossentropy", "sigmoid"), ("mae", "tanh"), ("log_cosh", "softplus")],
    "seed_large": [("mse", "linear"), ("huber", "linear"), ("log_cosh", "relu"), ("mse", "softplus")],
}


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", [ADAM, SGD], ids=["adam", "sgd"])
@pytest.mark.parametrize("family", sorted(ARTICLE_CELLS))
def test_engine_matches_fit_on_the_article_model(family, optimizer):
    """Every loss (MSE, MAE, Huber, log-cosh, BCE) and every output activation (linear, sigmoid,
    tanh, softplus, relu) under Adam and SGD, Dense(1), in one mixed stack."""
    assert_matches_fit(family, DENSE, ARTICLE_CELLS[family], optimizer)


@pytest.mark.slow
def test_each_segment_trains_at_its_own_learning_rate():
    """A learning-rate sweep is one stack: each trial equals fit at its own rate."""
    segments = [("mse", "sigmoid", rate) for rate in (1e-4, 1e-3, 1e-2, 1e-1)] + [("binary_crossentropy", "sigmoid", 0.3)]
    assert_matches_fit("seed_small", DENSE, segments, ADAM, epochs=40)
    assert_matches_fit("seed_large", DENSE, [("mse", "linear", 1e-4), ("mse", "linear", 3e-3)], SGD, epochs=40)


@pytest.mark.slow
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
@pytest.mark.slow
def test_engine_matches_fit_with_clipping_and_rmsprop(optimizer):
    """Norm clipping is computed per trial by the engine and by Keras in fit: they must agree."""
    assert_matches_fit("seed_large", DENSE, [("mse", "linear")], optimizer, epochs=30)


@pytest.mark.slow
def test_engine_matches_fit_on_deeper_models():
    assert_matches_fit("seed_small", MLP, [("mse", "sigmoid"), ("mse", "linear")], ADAM, epochs=30)
    assert_matches_fit("seed_large", RELU_MLP, [("huber", "linear"), ("log_cosh", "softplus")], SGD, epochs=30)


@pytest.mark.slow
def test_engine_matches_fit_with_xla():
    assert_matches_fit("seed_small", DENSE, [("mse", "sigmoid"), ("binary_crossentropy", "sigmoid", 0.01)], ADAM, epochs=20,
                       jit_compile=True)


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [25, 128], ids=["batches-divide-the-set", "one-batch"])
def test_engine_matches_fit_whatever_the_last_batch(batch_size):
    """Without XLA one loop runs every batch of an epoch, the last one short: a batch size that
    divides the 100 training samples, and one larger than the set, train as fit does."""
    data, seeds, initial = setup("seed_small", DENSE)
    segments = [("mse", "sigmoid"), ("binary_crossentropy", "sigmoid")]
    result = engine.StackTrainer(data, DENSE, segments, ADAM, initial, seeds, batch_size=batch_size).train(10)
    orders = engine.batch_orders(seeds, data["x_train"].shape[1], 10)
    for trial in range(4):
        (loss, activation), replicate = segments[trial // 2], trial % 2
        weights, losses = reference.fit_reference(
            data["x_train"][replicate], data["y_train"][replicate], DENSE, loss, activation, ADAM,
            [array[replicate] for array in initial], orders[:, replicate], batch_size=batch_size,
        )
        np.testing.assert_allclose(result.train_loss[:, trial], losses, rtol=1e-5, atol=1e-7)
        for got, want in zip(result.weights, weights):
            np.testing.assert_allclose(got[trial], want, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_a_production_size_stack_matches_fit():
    """600 trials (6 cells x 100 seeds) in one stack: a sample of them, first and last included,
    equals fit trial by trial."""
    segments = [("mse", "sigmoid"), ("binary_crossentropy", "sigmoid"), ("mse", "linear"), ("huber", "tanh"),
                ("mae", "linear", 0.01), ("log_cosh", "sigmoid", 0.1)]
    assert_matches_fit("seed_small", DENSE, segments, ADAM, epochs=20, n_seeds=100, check=[0, 137, 250, 399, 461, 599])


@pytest.mark.slow
def test_standardized_targets_match_fit_on_z_scores_and_score_in_target_units():
    """The engine trains on each seed's z-scored targets (fit trains on the same z-scores) and
    reports test errors of the predictions mapped back to target units (model.predict)."""
    data, seeds, initial = setup("seed_large", DENSE)
    shift, scale = data["y_train"].mean(axis=(1, 2)), data["y_train"].std(axis=(1, 2))
    stacked = dict(data, target_shift=shift, target_scale=scale)
    segments = [engine.Segment("mse", "linear"), engine.Segment("huber", "tanh")]
    result = engine.StackTrainer(stacked, DENSE, segments, ADAM, initial, seeds).train(30)
    orders = engine.batch_orders(seeds, 100, 30)
    z_targets = ((data["y_train"] - shift[:, None, None]) / scale[:, None, None]).astype(np.float32)
    for index, segment in enumerate(segments):
        for replicate in range(2):
            trial = index * 2 + replicate
            weights, losses = fit_trial(data, DENSE, segment, ADAM, initial, orders, replicate, targets=z_targets)
            np.testing.assert_allclose(result.train_loss[:, trial], losses, rtol=1e-5, atol=1e-7)
            model = reference.build_model(DENSE, segment.activation)
            model.set_weights(weights)
            prediction = model.predict(data["x_test"][replicate], verbose=0) * scale[replicate] + shift[replicate]
            rmse = np.sqrt(np.mean((prediction - data["y_test"][replicate]) ** 2))
            mae = np.mean(np.abs(prediction - data["y_test"][replicate]))
            np.testing.assert_allclose(result.evals["test_rmse"][-1, trial], rmse, rtol=1e-5)
            np.testing.assert_allclose(result.evals["test_mae"][-1, trial], mae, rtol=1e-5)


@pytest.mark.slow
def test_test_and_validation_metrics_match_predict_at_every_evaluation_point():
    """With eval_every 7, the probe runs at epochs 0, 1, 7, 14, 20; its test and validation RMSE
    equal model.predict's with fit's weights after that many epochs, and probing does not change
    training (the losses equal a run with eval_every 1)."""
    data, seeds, initial = setup("seed_small", DENSE)
    segment = engine.Segment("mse", "sigmoid", 0.05)
    result = engine.StackTrainer(data, DENSE, [segment], ADAM, initial, seeds).train(20, eval_every=7)
    every = engine.StackTrainer(data, DENSE, [segment], ADAM, initial, seeds).train(20, eval_every=1)
    assert list(result.eval_epochs) == [0, 1, 7, 14, 20]
    np.testing.assert_array_equal(result.train_loss, every.train_loss)
    orders = engine.batch_orders(seeds, 100, 20)
    for point, epochs in enumerate(result.eval_epochs):
        for replicate in range(2):
            if epochs == 0:
                weights = [array[replicate] for array in initial]
            else:
                weights, _ = fit_trial(data, DENSE, segment, ADAM, initial, orders[:epochs], replicate)
            model = reference.build_model(DENSE, "sigmoid")
            model.set_weights(weights)
            for split in ("test", "validation"):
                prediction = model.predict(data[f"x_{split}"][replicate], verbose=0)
                rmse = np.sqrt(np.mean((prediction - data[f"y_{split}"][replicate]) ** 2))
                np.testing.assert_allclose(result.evals[f"{split}_rmse"][point, replicate], rmse, rtol=1e-5)


@pytest.mark.slow
def test_a_diverging_trials_earlier_epochs_keep_their_losses_however_the_calls_split():
    """SGD at rate 0.6 on the linear cells diverges at epoch 4: the three epochs before it keep their
    finite losses and update norms, the same whether the 12 epochs run in one graph call or in four."""
    data, seeds, initial = setup("seed_large", DENSE, n_seeds=3)
    spec = OptimizerSpec("big", "sgd", 0.6)
    one, four = (engine.StackTrainer(data, DENSE, [("mse", "linear")], spec, initial, seeds).train(12, eval_every=every)
                 for every in (12, 3))
    assert np.all(one.diverged_epoch == 4) and np.all(four.diverged_epoch == 4)
    assert np.all(np.isfinite(one.train_loss[:3])) and not np.any(np.isfinite(one.train_loss[3:]))
    np.testing.assert_array_equal(one.train_loss, four.train_loss)
    np.testing.assert_array_equal(one.evals["update_norm"][-1], four.evals["update_norm"][-1])
    assert np.all(np.isfinite(four.evals["update_norm"][1]))  # epoch 3, before the divergence


@pytest.mark.slow
def test_a_diverging_trial_is_recorded_and_isolated():
    """SGD with a huge learning rate blows up the linear cells; the bounded sigmoid cells of the same
    stack must train exactly as they do alone, and the job must not crash."""
    data, seeds, initial = setup("seed_large", DENSE, n_seeds=3)
    huge = OptimizerSpec("huge", "sgd", 5.0)
    mixed = engine.StackTrainer(data, DENSE, [("mse", "linear"), ("mse", "sigmoid")], huge, initial, seeds).train(20)
    alone = engine.StackTrainer(data, DENSE, [("mse", "sigmoid")], huge, initial, seeds).train(20)
    assert np.all(mixed.diverged_epoch[:3] >= 1) and np.all(mixed.diverged_epoch[:3] <= 3)
    assert np.all(mixed.diverged_epoch[3:] == 0)
    np.testing.assert_array_equal(mixed.train_loss[:, 3:], alone.train_loss)
    for name in ("test_rmse", "test_mae", "update_norm", "distance_l2"):
        np.testing.assert_array_equal(mixed.evals[name][:, 3:], alone.evals[name], err_msg=name)
    # A diagnostic's reduction may sum in another order when the stack is larger: equal to rounding.
    for name in ("output_grad_abs", "grad_norm_layer_1"):
        np.testing.assert_allclose(mixed.evals[name][:, 3:], alone.evals[name], rtol=1e-6, err_msg=name)
    for got, want in zip(mixed.weights, alone.weights):
        np.testing.assert_array_equal(got[3:], want)


@pytest.mark.slow
def test_training_is_bit_identical_when_repeated():
    data, seeds, initial = setup("seed_small", MLP)
    runs = [engine.StackTrainer(data, MLP, [("mse", "sigmoid"), ("huber", "tanh")], ADAM, initial, seeds).train(10) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].train_loss, runs[1].train_loss)
    for name in runs[0].evals:
        np.testing.assert_array_equal(runs[0].evals[name], runs[1].evals[name])
    for got, want in zip(runs[0].weights, runs[1].weights):
        np.testing.assert_array_equal(got, want)


@pytest.mark.slow
def test_training_in_chunks_and_keeping_some_trials_changes_nothing():
    """Running 12 epochs as 5 + 7, or dropping trials after 5 epochs, leaves every kept trial
    bit-identical to one uninterrupted run."""
    data, seeds, initial = setup("seed_small", DENSE, n_seeds=3)
    segments = [("mse", "sigmoid"), ("binary_crossentropy", "sigmoid", 0.01)]
    whole = engine.StackTrainer(data, DENSE, segments, ADAM, initial, seeds)
    whole.run(12)
    parts = engine.StackTrainer(data, DENSE, segments, ADAM, initial, seeds, epochs_per_call=3)
    parts.run(5)
    parts.keep([1, 3, 5])
    losses, _ = parts.run(7)
    assert parts.trials == [(0, 1), (1, 0), (1, 2)]
    for got, want in zip(parts.weights(), whole.weights()):
        np.testing.assert_array_equal(got, want[[1, 3, 5]])
    np.testing.assert_array_equal(parts.probe()["distance_l2"], whole.probe()["distance_l2"][[1, 3, 5]])


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
    chunks = engine.BatchOrders(seeds, 10)
    np.testing.assert_array_equal(np.concatenate([chunks.next(1), chunks.next(3)]), orders)


def test_batch_orders_are_stable_argsorts_of_each_streams_keys_however_drawn():
    """Each order is the stable argsort of the seed's next float32 keys (ties by position: 30,000
    keys of 2**24 values have some), and drawing the keys in blocks of 3 epochs or 100 gives the same."""
    for n in (30000, 256):  # key and position packed in 64 bits, and in 32
        keys = np.random.default_rng(0).random((3, n), dtype=np.float32)
        if n == 30000:
            assert len(np.unique(keys)) < keys.size
        orders = np.full(keys.shape, -1, np.int32)
        engine._permutations(keys.copy(), orders)
        np.testing.assert_array_equal(orders, np.argsort(keys, axis=-1, kind="stable"))
    seeds = [7, 8, 7]
    whole, small = engine.BatchOrders(seeds, 300), engine.BatchOrders(seeds, 300, block=3)
    expected = whole.next(10)
    np.testing.assert_array_equal(np.concatenate([small.next(4), small.next(1), small.next(5)]), expected)
    stream = np.random.default_rng(engine.derive_seed(8, "batches"))
    np.testing.assert_array_equal(expected[:, 1], np.argsort(stream.random((10, 300), dtype=np.float32), axis=-1, kind="stable"))
    np.testing.assert_array_equal(expected[:, 0], expected[:, 2])


@pytest.mark.slow
def test_trials_of_several_trainers_go_on_as_one_stack():
    """Two sweeps trained to epoch 5 separately, then some of their trials adopted by one new trainer
    and trained 7 epochs more: each equals its uninterrupted run."""
    data, seeds, initial = setup("seed_small", DENSE, n_seeds=3)
    first, second = [("mse", "sigmoid"), ("mse", "sigmoid", 0.01)], [("binary_crossentropy", "sigmoid", 0.1)]
    whole = {tuple(segment): engine.StackTrainer(data, DENSE, [segment], ADAM, initial, seeds) for segment in first + second}
    for trainer in whole.values():
        trainer.run(12)
    runs = [engine.StackTrainer(data, DENSE, segments, ADAM, initial, seeds) for segments in (first, second)]
    for trainer in runs:
        trainer.run(5)
    merged = engine.StackTrainer(data, DENSE, [first[1], second[0]], ADAM, initial, seeds, trials=[(0, 1), (0, 2), (1, 0)])
    merged.adopt([runs[0].state([4, 5]), runs[1].state([0])])
    merged.run(7)
    expected = [whole[tuple(first[1])], whole[tuple(first[1])], whole[tuple(second[0])]]
    for trial, (trainer, position) in enumerate(zip(expected, [1, 2, 0])):
        for got, want in zip(merged.weights(), trainer.weights()):
            np.testing.assert_array_equal(got[trial], want[position])
