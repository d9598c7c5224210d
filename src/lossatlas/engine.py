"""The training engine: many trials trained at once as one TensorFlow computation.

A *stack* trains ``K`` cells (each a loss and an output activation) for ``S`` seeds, ``T = K * S``
trials in all, ordered cell-major (trial ``t = k * S + s``). Every trial's weights are stacked on a
leading axis (kernel ``(T, fan_in, fan_out)``, bias ``(T, fan_out)``), the forward pass is a batched
matmul, each cell's loss is Keras's own loss function reduced as the mean over the batch per trial,
and the per-trial losses are summed, so each trial's gradient is exactly its own. One Keras optimizer
updates all stacked variables: Adam, SGD and RMSprop are elementwise, so one step on the stack equals
``T`` independent steps. Clipping that would couple trials (``clipnorm``, ``global_clipnorm``) is
computed per trial here; ``clipvalue`` is elementwise and left to Keras.

Seed ``s`` fixes the data replicate, the initial weights and the batch order of every trial that uses
it, so cells of a stack (and of other stacks with the same dataset family and model) are paired.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from lossatlas.backend import keras, tf
from lossatlas.config import ModelSpec, OptimizerSpec
from lossatlas.seeds import derive_seed

OPTIMIZER_CLASSES = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}
EPOCH_METRICS = (
    "train_loss",
    "test_rmse",
    "test_mae",
    "update_norm",
    "output_grad_abs",
    "output_saturation",
    "hidden_saturation",
)


def activation_derivative(name: str, z):
    """The derivative of output activation ``name`` at pre-activation ``z`` (same shape)."""
    if name == "linear":
        return tf.ones_like(z)
    if name == "sigmoid":
        value = tf.sigmoid(z)
        return value * (1.0 - value)
    if name == "tanh":
        value = tf.tanh(z)
        return 1.0 - value * value
    if name == "softplus":
        return tf.sigmoid(z)
    if name == "relu":
        return tf.cast(z > 0, z.dtype)
    raise ValueError(f"no derivative known for activation {name!r}")


def make_optimizer(spec: OptimizerSpec, per_trial_clipping: bool = True) -> keras.optimizers.Optimizer:
    """Builds the Keras optimizer of ``spec``.

    With ``per_trial_clipping`` (the engine), norm clipping is left out because the engine computes
    it per trial; without it (the single-trial reference path), Keras clips as usual.
    """
    options = {"learning_rate": spec.learning_rate}
    if spec.clipvalue is not None:
        options["clipvalue"] = spec.clipvalue
    if not per_trial_clipping:
        for name in ("clipnorm", "global_clipnorm"):
            if getattr(spec, name) is not None:
                options[name] = getattr(spec, name)
    return getattr(keras.optimizers, OPTIMIZER_CLASSES[spec.name])(**options)


def trial_seed(base_seed: int, family: str, model: str, replicate: int) -> int:
    """The seed of replicate ``replicate`` for every cell of a (dataset family, model) pair."""
    return derive_seed(base_seed, "trial", family, model, replicate)


def initial_weights(model: ModelSpec, n_inputs: int, seeds: Sequence[int]) -> list[np.ndarray]:
    """Keras's default initialisation (Glorot-uniform kernels, zero biases), one draw per seed.

    Returns ``[kernel_1, bias_1, ..., kernel_L, bias_L]`` with kernels of shape ``(S, fan_in, fan_out)``
    and biases of shape ``(S, fan_out)``, float32.
    """
    weights: list[list[np.ndarray]] = []
    for seed in seeds:
        rng = np.random.default_rng(derive_seed(seed, "init"))
        per_seed, fan_in = [], n_inputs
        for fan_out in model.layer_sizes:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            per_seed.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
            per_seed.append(np.zeros((fan_out,), np.float32))
            fan_in = fan_out
        weights.append(per_seed)
    return [np.stack(arrays) for arrays in zip(*weights)]


def batch_orders(seeds: Sequence[int], n_samples: int, epochs: int) -> np.ndarray:
    """The sample order of every epoch, one random permutation per seed and epoch.

    Returns an int32 array of shape ``(epochs, S, n_samples)``.
    """
    orders = np.empty((epochs, len(seeds), n_samples), np.int32)
    for column, seed in enumerate(seeds):
        keys = np.random.default_rng(derive_seed(seed, "batches")).random((epochs, n_samples), dtype=np.float32)
        orders[:, column, :] = np.argsort(keys, axis=1, kind="stable")  # a random permutation per epoch
    return orders


@dataclasses.dataclass
class StackResult:
    """What a stack's training recorded; ``T`` trials, ``E`` epochs, ``L`` layers.

    Attributes:
        metrics: name -> array ``(E, T)``: ``train_loss`` (the epoch's batch losses weighted by batch
            size, as ``fit`` reports it), ``test_rmse`` and ``test_mae`` (after the epoch, in target
            units), ``update_norm`` (norm of the epoch's total parameter change),
            ``output_grad_abs`` (mean |dL/dz| at the output pre-activation ``z``, averaged over steps),
            ``output_saturation`` (fraction of training samples whose output activation derivative
            is below ``saturation_threshold``: a saturated sigmoid or tanh, a dead ReLU output),
            ``hidden_saturation`` (the same fraction over hidden units; NaN without hidden layers).
            Training-set metrics are averaged over the epoch's steps, in the units the model is
            trained in; test metrics are in the original target units.
        layer_grad_norms: ``(E, T, L)``, each layer's gradient norm (kernel and bias together),
            averaged over the epoch's steps, before clipping.
        diverged_epoch: ``(T,)`` first epoch (1-based) whose loss or weights were not finite, 0 if none.
        weights: final weights, as :func:`initial_weights` but with ``T`` rows.
    """

    metrics: dict[str, np.ndarray]
    layer_grad_norms: np.ndarray
    diverged_epoch: np.ndarray
    weights: list[np.ndarray]


def _per_trial_sum(tensor):
    return tf.reduce_sum(tf.reshape(tensor, [tf.shape(tensor)[0], -1]), axis=1)


def _clip_per_trial(grads, spec: OptimizerSpec):
    """Keras's clipnorm / global_clipnorm arithmetic, with norms taken per trial (leading axis)."""
    def expand(scale, grad):
        return tf.reshape(scale, [-1] + [1] * (len(grad.shape) - 1))

    if spec.clipnorm is not None:
        clipped = []
        for grad in grads:
            l2sum = _per_trial_sum(tf.square(grad))
            safe = tf.where(l2sum > 0, l2sum, tf.ones_like(l2sum))
            l2norm = tf.where(l2sum > 0, tf.sqrt(safe), l2sum)
            clipped.append(grad * spec.clipnorm / expand(tf.maximum(l2norm, spec.clipnorm), grad))
        return clipped
    if spec.global_clipnorm is not None:
        norm = tf.sqrt(tf.add_n([_per_trial_sum(tf.square(grad)) for grad in grads]))
        scale = spec.global_clipnorm * tf.minimum(1.0 / norm, 1.0 / spec.global_clipnorm)
        scale = scale + (norm - norm)
        return [grad * expand(scale, grad) for grad in grads]
    return grads


class StackTrainer:
    """Trains one stack; build it once, then call :meth:`train`.

    Args:
        data: the dataset's arrays (see :mod:`lossatlas.datasets`), replicates ``(S, n, d)``.
        model: the architecture; ``segments``: one ``(loss, activation)`` per cell.
        optimizer: the optimizer spec; ``initial``: weights as from :func:`initial_weights`.
        seeds: the ``S`` trial seeds (they fix the batch order).
        saturation_threshold: an activation derivative below it counts as saturated.

    ``data`` may carry ``target_shift`` and ``target_scale`` ``(S,)``: the model is then trained on
    ``(y - shift) / scale`` and its test predictions are mapped back before the test metrics.
    """

    def __init__(
        self,
        data: dict[str, np.ndarray],
        model: ModelSpec,
        segments: Sequence[tuple[str, str]],
        optimizer: OptimizerSpec,
        initial: Sequence[np.ndarray],
        seeds: Sequence[int],
        batch_size: int = 32,
        jit_compile: bool = False,
        saturation_threshold: float = 0.01,
    ):
        n_seeds = data["x_train"].shape[0]
        if len(seeds) != n_seeds or initial[0].shape[0] != n_seeds:
            raise ValueError(f"{len(seeds)} seeds and {initial[0].shape[0]} initial weights for {n_seeds} replicates")
        self.model, self.segments, self.spec = model, list(segments), optimizer
        self.seeds, self.n_seeds, self.batch_size = list(seeds), n_seeds, batch_size
        self.n_trials = n_seeds * len(self.segments)
        self.n_train = data["x_train"].shape[1]
        repeat = len(self.segments)
        self.saturation_threshold = saturation_threshold
        y_train = data["y_train"]
        self.target_transform = None
        if "target_shift" in data:
            shift = np.asarray(data["target_shift"], np.float32)[:, None, None]
            scale = np.asarray(data["target_scale"], np.float32)[:, None, None]
            y_train = ((y_train - shift) / scale).astype(np.float32)
            self.target_transform = (tf.constant(np.tile(shift, (repeat, 1, 1))), tf.constant(np.tile(scale, (repeat, 1, 1))))
        self.x_train = tf.constant(data["x_train"])
        self.y_train = tf.constant(y_train)
        self.x_test = tf.constant(np.tile(data["x_test"], (repeat, 1, 1)))
        self.y_test = tf.constant(np.tile(data["y_test"], (repeat, 1, 1)))
        self.variables = [
            keras.Variable(np.tile(array, (repeat,) + (1,) * (array.ndim - 1)), name=f"w{index}")
            for index, array in enumerate(initial)
        ]
        self.optimizer = make_optimizer(optimizer, per_trial_clipping=True)
        self.optimizer.build(self.variables)
        self.losses = [keras.losses.get(loss) for loss, _ in self.segments]
        self.activation_names = [activation for _, activation in self.segments]
        self.activations = [keras.activations.get(activation) for activation in self.activation_names]
        self.hidden_activation = keras.activations.get(model.hidden_activation)
        self._epoch = tf.function(self._train_epoch, jit_compile=jit_compile)
        self._evaluate_graph = tf.function(self._evaluate, jit_compile=jit_compile)

    def _pre_activation(self, x, hidden_pre_activations=None):
        """Output pre-activation ``z``, ``(T, batch, 1)``, for stacked inputs ``x`` ``(T, batch, d)``.
        Appends each hidden layer's pre-activation to ``hidden_pre_activations`` when given."""
        weights = self.variables
        hidden = x
        for layer in range(len(weights) // 2):
            kernel, bias = weights[2 * layer], weights[2 * layer + 1]
            hidden = tf.matmul(hidden, kernel) + bias[:, None, :]
            if layer < len(weights) // 2 - 1:
                if hidden_pre_activations is not None:
                    hidden_pre_activations.append(hidden)
                hidden = self.hidden_activation(hidden)
        return hidden

    def _saturation(self, z, hidden_pre_activations):
        """Fractions of saturated output samples ``(T,)`` and hidden units ``(T,)`` for one batch."""
        threshold = self.saturation_threshold
        derivative = tf.concat(
            [
                activation_derivative(name, z[self._rows(index)])
                for index, name in enumerate(self.activation_names)
            ],
            axis=0,
        )
        output = tf.reduce_mean(tf.cast(derivative < threshold, tf.float32), axis=[1, 2])
        if not hidden_pre_activations:
            return output, tf.fill([self.n_trials], np.float32(np.nan))
        hidden = tf.concat(
            [activation_derivative(self.model.hidden_activation, h) < threshold for h in hidden_pre_activations], axis=2
        )
        return output, tf.reduce_mean(tf.cast(hidden, tf.float32), axis=[1, 2])

    def _rows(self, index: int) -> slice:
        """The trials of cell ``index`` (cell-major order)."""
        return slice(index * self.n_seeds, (index + 1) * self.n_seeds)

    def _outputs(self, z) -> list:
        """Each cell's output activation applied to its trials' pre-activations ``z``."""
        return [activation(z[self._rows(index)]) for index, activation in enumerate(self.activations)]

    def _losses(self, outputs, y):
        """Per-trial losses ``(T,)``: each cell's Keras loss, mean over the batch. Each output goes
        to its loss unaltered, so Keras's binary cross-entropy reads its logits in graph mode."""
        return tf.concat(
            [tf.reduce_mean(loss(y[self._rows(index)], output), axis=-1) for index, (loss, output) in enumerate(zip(self.losses, outputs))],
            axis=0,
        )

    def _tile(self, tensor):
        return tf.tile(tensor, [len(self.segments)] + [1] * (len(tensor.shape) - 1))

    def _train_epoch(self, order):
        """One epoch; ``order`` is ``(S, n_train)``. Returns per-trial metrics ``(T,)`` and ``(T, L)``."""
        n_layers = len(self.variables) // 2
        start = [tf.identity(variable) for variable in self.variables]
        loss_sum = tf.zeros([self.n_trials])
        dz_sum = tf.zeros([self.n_trials])
        saturation_sum = tf.zeros([self.n_trials])
        hidden_saturation_sum = tf.zeros([self.n_trials])
        layer_norm_sum = tf.zeros([self.n_trials, n_layers])
        n_steps = 0
        for begin in range(0, self.n_train, self.batch_size):
            index = order[:, begin : begin + self.batch_size]
            size = index.shape[1]
            x = self._tile(tf.gather(self.x_train, index, batch_dims=1))
            y = self._tile(tf.gather(self.y_train, index, batch_dims=1))
            hidden = []
            with tf.GradientTape() as tape:
                z = self._pre_activation(x, hidden)
                tape.watch(z)
                losses = self._losses(self._outputs(z), y)
                total = tf.reduce_sum(losses)
            *grads, dz = tape.gradient(total, [*self.variables, z])
            squares = [_per_trial_sum(tf.square(grad)) for grad in grads]
            layer_norm_sum += tf.sqrt(tf.stack([squares[2 * i] + squares[2 * i + 1] for i in range(n_layers)], axis=1))
            dz_sum += tf.reduce_mean(tf.abs(dz), axis=[1, 2])
            output_saturation, hidden_saturation = self._saturation(z, hidden)
            saturation_sum += output_saturation
            hidden_saturation_sum += hidden_saturation
            grads = _clip_per_trial(grads, self.spec)
            self.optimizer.apply_gradients(zip(grads, self.variables))
            loss_sum += losses * float(size)
            n_steps += 1
        change = tf.add_n([_per_trial_sum(tf.square(v - s)) for v, s in zip(self.variables, start)])
        finite = tf.reduce_all(tf.stack([tf.reduce_all(tf.reshape(tf.math.is_finite(v), [self.n_trials, -1]), axis=1) for v in self.variables]), axis=0)
        return {
            "train_loss": loss_sum / float(self.n_train),
            "update_norm": tf.sqrt(change),
            "output_grad_abs": dz_sum / n_steps,
            "output_saturation": saturation_sum / n_steps,
            "hidden_saturation": hidden_saturation_sum / n_steps,
            "layer_grad_norms": layer_norm_sum / n_steps,
            "finite": finite,
        }

    def _evaluate(self):
        """Test RMSE and MAE per trial ``(T,)``, in target units."""
        predictions = tf.concat(self._outputs(self._pre_activation(self.x_test)), axis=0)
        if self.target_transform is not None:
            shift, scale = self.target_transform
            predictions = predictions * scale + shift
        error = predictions - self.y_test
        return {
            "test_rmse": tf.sqrt(tf.reduce_mean(tf.square(error), axis=[1, 2])),
            "test_mae": tf.reduce_mean(tf.abs(error), axis=[1, 2]),
        }

    def train(self, epochs: int, eval_every: int = 1) -> StackResult:
        """Trains for ``epochs``; test metrics are computed every ``eval_every`` epochs and after the
        last one (NaN in between)."""
        orders = batch_orders(self.seeds, self.n_train, epochs)
        metrics = {name: np.empty((epochs, self.n_trials), np.float32) for name in EPOCH_METRICS}
        layer_norms = np.empty((epochs, self.n_trials, len(self.variables) // 2), np.float32)
        diverged = np.zeros(self.n_trials, np.int64)
        for epoch in range(epochs):
            values = self._epoch(tf.constant(orders[epoch]))
            if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
                values.update(self._evaluate_graph())
            else:
                values.update({name: np.full(self.n_trials, np.nan) for name in ("test_rmse", "test_mae")})
            for name in EPOCH_METRICS:
                metrics[name][epoch] = np.asarray(values[name])
            layer_norms[epoch] = values["layer_grad_norms"].numpy()
            bad = ~(values["finite"].numpy() & np.isfinite(metrics["train_loss"][epoch]))
            diverged[(diverged == 0) & bad] = epoch + 1
        return StackResult(metrics, layer_norms, diverged, [v.numpy() for v in self.variables])
