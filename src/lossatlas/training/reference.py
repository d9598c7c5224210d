"""The reference path: one trial trained by plain ``keras.Sequential(...).compile(...).fit(...)``.

It starts from the engine's initial weights and feeds ``fit`` the engine's batch order, so the two
must compute the same thing; the equivalence tests compare them.
"""

from __future__ import annotations

import numpy as np

from lossatlas.design.study import ModelSpec, OptimizerSpec
from lossatlas.training.backend import keras, tf
from lossatlas.training.engine import activation_function, loss_function, make_optimizer


def build_model(model: ModelSpec, activation: str, n_inputs: int = 1) -> keras.Sequential:
    """The Keras model of ``model`` with output activation ``activation``."""
    layers = [keras.Input((n_inputs,))]
    layers += [keras.layers.Dense(units, activation=model.hidden_activation) for units in model.hidden_units]
    layers.append(keras.layers.Dense(1, activation=activation_function(activation)))
    return keras.Sequential(layers)


def fit_reference(
    x_train: np.ndarray,
    y_train: np.ndarray,
    model: ModelSpec,
    loss: str,
    activation: str,
    optimizer: OptimizerSpec,
    initial: list[np.ndarray],
    orders: np.ndarray,
    batch_size: int = 32,
    jit_compile: bool = False,
    learning_rate: float | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Trains one trial with ``fit``.

    Args:
        x_train, y_train: ``(n, d)`` and ``(n, 1)``.
        initial: the trial's weights ``[kernel_1, bias_1, ...]`` (no leading trial axis).
        orders: ``(epochs, n)``, the sample order of each epoch.
        learning_rate: replaces the optimizer spec's learning rate when given.

    Returns:
        The final weights and the per-epoch training loss ``(epochs,)`` as ``fit`` reports it.
    """
    epochs, n = orders.shape
    network = build_model(model, activation, x_train.shape[1])
    network.set_weights(initial)
    network.compile(optimizer=make_optimizer(optimizer, per_trial_clipping=False, learning_rate=learning_rate), loss=loss_function(loss), jit_compile=jit_compile)
    flat = orders.reshape(-1)
    batches = tf.data.Dataset.from_tensor_slices((x_train[flat], y_train[flat]))
    # Batch within each epoch, so the last, smaller batch of an epoch is the same as fit's.
    batches = batches.batch(n).flat_map(lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size))
    steps = -(-n // batch_size)
    history = network.fit(batches, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=0)
    return network.get_weights(), np.asarray(history.history["loss"], np.float32)
