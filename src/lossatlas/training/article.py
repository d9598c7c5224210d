"""The article's three examples, run verbatim through plain ``model.fit``, once per seed.

The code below is the article's, unchanged but for three things a study needs: every example
starts from ``keras.utils.set_random_seed(seed)`` (the article ran once, unseeded), the models are
built with ``keras.Input`` instead of the deprecated ``input_shape`` argument (the same model), ``jit_compile=False`` is explicit (what "auto" picks with op determinism on), and
the trained models are also scored on a held-out test set drawn the same way (the article reported
only its final training loss). Examples 2 and 3 share their data, as in the article.

Article: "Why are gradients missing when using MSE with TensorFlow Keras?" (2025-01-30).
"""

from __future__ import annotations

import numpy as np

from lossatlas.core.source import N_TEST
from lossatlas.training.backend import keras


def _small_data(n):
    X_small = np.random.rand(n, 1)  # Values between 0 and 1
    y_small = 0.1 * X_small + np.random.randn(n, 1) * 0.01  # Smaller values and noise
    y_small = np.clip(y_small, 0, 1)  # Ensure all values are within 0 and 1
    return X_small, y_small


def _large_data(n):
    X = np.random.rand(n, 1) * 10  # Values between 0 and 10
    y = 2 * X + 1 + np.random.randn(n, 1)  # Linear relationship with noise
    return X, y


def _score(model, history, X, y, X_test, y_test):
    train_prediction = model.predict(X, verbose=0)
    test_prediction = model.predict(X_test, verbose=0)
    return {
        "final_loss": float(history.history["loss"][-1]),
        "train_mse": float(np.mean((train_prediction - y) ** 2)),
        "test_mse": float(np.mean((test_prediction - y_test) ** 2)),
        "test_rmse": float(np.sqrt(np.mean((test_prediction - y_test) ** 2))),
    }


def run_examples(seed: int) -> list[dict]:
    """Runs examples 1, 2 and 3 with ``seed``; returns one record per example."""
    keras.utils.set_random_seed(seed)
    X, y = _large_data(100)
    X_test, y_test = _large_data(N_TEST)
    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", jit_compile=False)
    history = model.fit(X, y, epochs=100, verbose=0)
    records = [{"example": "example 1", "seed": seed, **_score(model, history, X, y, X_test, y_test)}]

    keras.utils.set_random_seed(seed)
    X_small, y_small = _small_data(100)
    X_small_test, y_small_test = _small_data(N_TEST)
    for example, loss in (("example 2", "mse"), ("example 3", "binary_crossentropy")):
        model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss=loss, jit_compile=False)
        history = model.fit(X_small, y_small, epochs=100, verbose=0)
        records.append({"example": example, "seed": seed, **_score(model, history, X_small, y_small, X_small_test, y_small_test)})
    return records
