"""Gradient diagnostics against closed forms, on hand-set weights.

The engine's probe measures every trial at its current weights on the whole training set, without
training: at the initial weights here.
"""

import numpy as np

from lossatlas.design.study import ModelSpec, OptimizerSpec
from lossatlas.training import engine

DENSE = ModelSpec("dense1")
FROZEN = OptimizerSpec("frozen", "sgd", 0.0)


def measure(x, y, segments, weight, bias, threshold=0.01, batch_size=None):
    """The probe over ``x``, ``y`` ``(n,)`` at Dense(1) weights ``weight``, ``bias``: name -> ``(T,)``."""
    n = len(x)
    data = {
        "x_train": x.reshape(1, n, 1).astype(np.float32),
        "y_train": y.reshape(1, n, 1).astype(np.float32),
        "x_test": x.reshape(1, n, 1).astype(np.float32),
        "y_test": y.reshape(1, n, 1).astype(np.float32),
    }
    initial = [np.full((1, 1, 1), weight, np.float32), np.full((1, 1), bias, np.float32)]
    trainer = engine.StackTrainer(data, DENSE, segments, FROZEN, initial, [0], batch_size=batch_size or n,
                                  saturation_threshold=threshold)
    return trainer.probe()


X = np.array([0.1, 0.4, 0.7, 0.9])
Y = np.array([0.02, 0.05, 0.07, 0.1])


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_sigmoid_mse_output_gradient_keeps_the_saturation_factor():
    weight, bias = 3.0, -2.0
    s = sigmoid(weight * X + bias)
    per_sample = 2 * (s - Y) * s * (1 - s)  # d loss_i / d z_i for loss_i = (s_i - y_i)^2
    result = measure(X, Y, [("mse", "sigmoid")], weight, bias)
    np.testing.assert_allclose(result["output_grad_abs"][0], np.mean(np.abs(per_sample)), rtol=1e-5)
    expected = per_sample / len(X)  # dL/dz_i for L = mean_i loss_i
    kernel_grad, bias_grad = np.sum(expected * X), np.sum(expected)
    np.testing.assert_allclose(result["grad_norm_layer_1"][0], np.hypot(kernel_grad, bias_grad), rtol=1e-5)
    assert result["distance_l2"][0] == 0 and result["distance_linf"][0] == 0  # nothing moved yet


def test_sigmoid_bce_output_gradient_cancels_the_saturation_factor():
    weight, bias = 3.0, -2.0
    s = sigmoid(weight * X + bias)  # inside Keras's clipping [1e-7, 1 - 1e-7]
    expected = s - Y  # per sample: the sigmoid's derivative cancels
    result = measure(X, Y, [("binary_crossentropy", "sigmoid")], weight, bias)
    np.testing.assert_allclose(result["output_grad_abs"][0], np.mean(np.abs(expected)), rtol=1e-5)


def test_deep_saturation_vanishes_for_mse_but_not_for_bce():
    weight, bias = 0.0, -20.0  # sigmoid(-20) ~ 2e-9: far in the flat tail
    mse = measure(X, Y, [("mse", "sigmoid")], weight, bias)
    bce = measure(X, Y, [("binary_crossentropy", "sigmoid")], weight, bias)
    assert mse["output_grad_abs"][0] < 1e-9
    np.testing.assert_allclose(bce["output_grad_abs"][0], np.mean(Y), rtol=1e-4)
    assert mse["output_saturation"][0] == 1.0


def test_saturation_fraction_uses_the_configured_threshold():
    weight, bias = 10.0, -5.0  # z = 10x - 5: [-4, -1, 2, 4]
    z = weight * X + bias
    derivative = sigmoid(z) * (1 - sigmoid(z))  # [0.0177, 0.1966, 0.105, 0.0177]
    for threshold in (0.01, 0.02, 0.2):
        result = measure(X, Y, [("mse", "sigmoid")], weight, bias, threshold)
        assert result["output_saturation"][0] == np.mean(derivative < threshold)
    tanh = measure(X, Y, [("mse", "tanh")], weight, bias, 0.01)
    assert tanh["output_saturation"][0] == np.mean(1 - np.tanh(z) ** 2 < 0.01)
    relu = measure(X, Y, [("mse", "relu")], weight, bias)
    assert relu["output_saturation"][0] == np.mean(z <= 0)  # dead ReLU outputs
    assert np.isnan(relu["hidden_saturation"][0])  # no hidden layer


def test_linear_mse_gradient_scales_linearly_with_the_target_scale():
    norms = {}
    for scale in (0.001, 1.0, 100.0):
        result = measure(X, Y * scale, [("mse", "linear")], 0.0, 0.0)
        norms[scale] = result["grad_norm_layer_1"][0]
    # At zero weights dL/dz_i = -2 y_i / n, so every gradient is proportional to the scale.
    np.testing.assert_allclose(norms[0.001] / norms[1.0], 0.001, rtol=1e-5)
    np.testing.assert_allclose(norms[100.0] / norms[1.0], 100.0, rtol=1e-5)
    np.testing.assert_allclose(norms[1.0], np.hypot(np.sum(2 * Y * X / 4), np.sum(2 * Y / 4)), rtol=1e-5)


def test_standardized_targets_train_in_z_units_and_report_in_original_units():
    weight, bias = 0.5, 0.1
    n = len(X)
    plain = measure(X, Y, [("mse", "linear")], weight, bias)
    shift, scale = Y.mean(), Y.std()
    data = {
        "x_train": X.reshape(1, n, 1).astype(np.float32),
        "y_train": Y.reshape(1, n, 1).astype(np.float32),
        "x_test": X.reshape(1, n, 1).astype(np.float32),
        "y_test": Y.reshape(1, n, 1).astype(np.float32),
        "target_shift": np.array([shift]),
        "target_scale": np.array([scale]),
    }
    initial = [np.full((1, 1, 1), weight, np.float32), np.full((1, 1), bias, np.float32)]
    result = engine.StackTrainer(data, DENSE, [("mse", "linear")], FROZEN, initial, [0], batch_size=n).train(1)
    z_targets = (Y - shift) / scale
    prediction = weight * X + bias
    np.testing.assert_allclose(result.train_loss[0, 0], np.mean((prediction - z_targets) ** 2), rtol=1e-5)
    back = prediction * scale + shift
    np.testing.assert_allclose(result.evals["test_rmse"][-1, 0], np.sqrt(np.mean((back - Y) ** 2)), rtol=1e-5)
    assert plain["test_rmse"][0] != result.evals["test_rmse"][-1, 0]


def test_output_gradient_is_per_sample_whatever_the_batch_size():
    """100 samples in batches of 32 end with a batch of 4. Averaging each step's mean |dL/dz| (each
    scaling as 1 / batch) gave that last batch about 73% of the value; the diagnostic is per sample,
    the mean over the training set of |d loss_i / d z_i|, whatever the batch size."""
    rng = np.random.default_rng(0)
    x, y = rng.random(100), rng.random(100)
    weight, bias = 0.3, -0.2
    per_sample = 2 * (weight * x + bias - y)  # linear + MSE: d loss_i / d z_i = 2 (z_i - y_i)
    for batch_size in (32, 100, 7):
        result = measure(x, y, [("mse", "linear")], weight, bias, batch_size=batch_size)
        np.testing.assert_allclose(result["output_grad_abs"][0], np.mean(np.abs(per_sample)), rtol=1e-5)
