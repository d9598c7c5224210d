"""A custom loss and a custom output activation, named in configs as import paths (the README's
"Extend it" example)."""

import keras


def scaled_mse(y_true, y_pred):
    """MSE on targets and predictions multiplied by 100: one value per sample."""
    return keras.ops.mean(keras.ops.square(100.0 * (y_true - y_pred)), axis=-1)


def soft_clip(x):
    """A bounded output activation: x / (1 + |x|), in (-1, 1)."""
    return x / (1.0 + keras.ops.abs(x))


def per_batch(y_true, y_pred):
    """Wrong on purpose: one value for the whole batch."""
    return keras.ops.mean(keras.ops.square(y_true - y_pred))
