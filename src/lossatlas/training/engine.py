"""The training engine: many trials trained at once as one TensorFlow computation.

A *stack* trains ``K`` segments (each a loss, an output activation and a learning rate) for ``S``
seeds, ``T = K * S`` trials in all, ordered segment-major (trial ``t = k * S + s``). Every trial's
weights are stacked on a leading axis (kernel ``(T, fan_in, fan_out)``, bias ``(T, 1, fan_out)``
inside the engine), the forward pass is a batched matmul, each trial's loss is Keras's own loss
function reduced as the mean over the batch, and the per-trial losses are summed, so each trial's
gradient is exactly its own. One Keras optimizer updates all stacked variables: Adam, SGD and
RMSprop are elementwise, and the learning rate is a ``(T, 1, 1)`` tensor, so one step on the stack
equals ``T`` independent steps, each at its own learning rate. Clipping that would couple trials
(``clipnorm``, ``global_clipnorm``) is computed per trial here; ``clipvalue`` is elementwise and left
to Keras.

Speed: the losses and output activations are applied once per distinct loss and activation over
the whole stack and selected per trial (``tf.where``), so a stack of 25 cells costs little more
than one of a single cell; several epochs run inside one graph call (a ``while`` loop over epochs,
and in it one over the batches); one gather fetches a batch's inputs and targets; diagnostics are
not computed at every step but by a *probe* at the evaluation points (full training set, no update).

Seed ``s`` fixes the data replicate, the initial weights and the batch order of every trial that uses
it, so segments of a stack (and of other stacks with the same dataset family and model) are paired.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

import numpy as np

from lossatlas.core import extensions
from lossatlas.core.schedule import eval_schedule
from lossatlas.core.seeds import derive_seed
from lossatlas.design.study import ModelSpec, OptimizerSpec
from lossatlas.training.backend import keras, tf

OPTIMIZER_CLASSES = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}
#: Per-trial quantities a probe measures at an evaluation point (see :meth:`StackTrainer.probe`).
PROBE_METRICS = (
    "test_rmse",
    "test_mae",
    "validation_rmse",
    "validation_mae",
    "output_grad_abs",
    "output_saturation",
    "hidden_saturation",
    "distance_l2",
    "distance_linf",
)
#: Epochs run by one graph call at most.
EPOCHS_PER_CALL = 25


def loss_function(name: str):
    """Keras's loss ``name``, or the function an import path names (:mod:`lossatlas.core.extensions`)."""
    return extensions.resolve(name) if extensions.is_import_path(name) else keras.losses.get(name)


def activation_function(name: str):
    """Keras's activation ``name``, or the function an import path names (:mod:`lossatlas.core.extensions`)."""
    return extensions.resolve(name) if extensions.is_import_path(name) else keras.activations.get(name)


def activation_derivative(name: str, z):
    """The derivative of output activation ``name`` at pre-activation ``z`` (same shape): in closed
    form for the built-in ones, by automatic differentiation for a custom one."""
    if extensions.is_import_path(name):
        with tf.GradientTape() as tape:
            tape.watch(z)
            value = activation_function(name)(z)
        return tape.gradient(value, z)
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


@dataclasses.dataclass(frozen=True)
class Segment:
    """One cell of a stack: a loss, an output activation and a learning rate (None: the optimizer's)."""

    loss: str
    activation: str
    learning_rate: float | None = None


def as_segment(item) -> Segment:
    """A :class:`Segment` from a Segment or a ``(loss, activation[, learning_rate])`` tuple."""
    return item if isinstance(item, Segment) else Segment(*item)


def make_optimizer(spec: OptimizerSpec, per_trial_clipping: bool = True, learning_rate=None) -> keras.optimizers.Optimizer:
    """Builds the Keras optimizer of ``spec``.

    With ``per_trial_clipping`` (the engine), norm clipping is left out because the engine computes
    it per trial; without it (the single-trial reference path), Keras clips as usual.
    ``learning_rate`` replaces the spec's (a float, or a callable returning a tensor).
    """
    options = {"learning_rate": spec.learning_rate if learning_rate is None else learning_rate}
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


class BatchOrders:
    """The sample order of every epoch, one random permutation per seed and epoch, drawn ahead: when
    a call needs more epochs than are drawn and not yet taken, enough are drawn to hold its epochs and
    at least ``block`` in all (by default, the most one graph call runs).

    Each distinct seed has its own random stream, consumed in epoch order, so the orders of epochs
    ``a..b`` are the same however the epochs are split into calls or blocks; replicates that share a
    seed share their orders. The drawn orders and the random keys they are sorted from stay in
    arrays reused from block to block (a fresh array of this size costs more to map than to fill).
    """

    def __init__(self, seeds: Sequence[int], n_samples: int, block: int = EPOCHS_PER_CALL):
        self.n_samples, self.block = n_samples, block
        unique, self.index = np.unique(np.asarray(seeds, np.int64), return_inverse=True)
        # Distinct seeds in increasing order: each replicate's orders are its stream's, no gather needed.
        self.one_per_stream = np.array_equal(self.index, np.arange(len(unique)))
        self.streams = [np.random.default_rng(derive_seed(int(seed), "batches")) for seed in unique]
        self.drawn = np.empty((len(unique), 0, n_samples), np.int32)  # (distinct seeds, epochs, n)
        self.first = self.last = 0  # the epochs drawn and not yet taken: drawn[:, first:last]
        self.keys: np.ndarray | None = None  # a block's random keys, (distinct seeds, block, n)

    def next(self, epochs: int, out: np.ndarray | None = None) -> np.ndarray:
        """The orders of the next ``epochs`` epochs: int32 ``(epochs, S, n_samples)``, written to
        ``out[:epochs]`` (a new array when ``out`` is None)."""
        available = self.last - self.first
        if available < epochs:
            total = max(self.block, epochs)  # epochs held after the draw
            size = total - available
            streams, n = len(self.streams), self.n_samples
            if self.drawn.shape[1] != total:  # reused when the same size (a large one is let go)
                drawn = np.empty((streams, total, n), np.int32)
                drawn[:, :available] = self.drawn[:, self.first : self.last]
                self.drawn = drawn
            elif available:
                self.drawn[:, :available] = self.drawn[:, self.first : self.last]
            keys = self.keys if self.keys is not None and self.keys.shape[1] == size else np.empty((streams, size, n), np.float32)
            if size == self.block:
                self.keys = keys
            for stream, rows in zip(self.streams, keys):
                stream.random(dtype=np.float32, out=rows)
            _permutations(keys, self.drawn[:, available:total])
            self.first, self.last = 0, total
        orders = self.drawn[:, self.first : self.first + epochs]
        self.first += epochs
        if out is None:
            out = np.empty((epochs, len(self.index), self.n_samples), np.int32)
        out[:epochs] = (orders if self.one_per_stream else orders[self.index]).transpose(1, 0, 2)
        return out[:epochs]


def _permutations(keys: np.ndarray, out: np.ndarray) -> None:
    """Writes ``np.argsort(keys, axis=-1, kind="stable")`` to the int32 array ``out`` for float32
    ``keys`` drawn by NumPy's ``random(dtype=float32)`` (multiples of 2**-24 in [0, 1)), several times
    faster: each key and its position are packed into one integer (the key's 24 bits above the
    position's), so a plain sort of distinct integers orders equal keys by position, as a stable
    sort does. Overwrites ``keys``."""
    n = keys.shape[-1]
    position_bits = max(1, int(n - 1).bit_length())
    scaled = np.multiply(keys, np.float32(2**24), out=keys)
    if 24 + position_bits <= 32:  # packed in place, in out's memory
        packed = out.view(np.uint32)
        np.copyto(packed, scaled, casting="unsafe")
    else:
        packed = scaled.astype(np.uint64)
    dtype = packed.dtype.type
    packed <<= dtype(position_bits)
    packed |= np.arange(n, dtype=dtype)
    packed.sort(axis=-1)
    packed &= dtype((1 << position_bits) - 1)
    if dtype is np.uint64:
        out[...] = packed


def batch_orders(seeds: Sequence[int], n_samples: int, epochs: int) -> np.ndarray:
    """The sample orders of the first ``epochs`` epochs: int32 ``(epochs, S, n_samples)`` (:class:`BatchOrders`)."""
    return BatchOrders(seeds, n_samples).next(epochs)


@dataclasses.dataclass
class StackResult:
    """What a stack's training recorded; ``T`` trials, ``E`` epochs, ``V`` evaluation points.

    Attributes:
        train_loss: ``(E, T)``, each epoch's batch losses weighted by batch size, as ``fit`` reports
            it, in the units the model is trained in.
        eval_epochs: ``(V,)`` the epochs after which the probe ran (0: the initial weights).
        evals: name -> ``(V, T)``: every metric of :meth:`StackTrainer.probe`, and ``update_norm``
            (the norm of the parameter change over the epoch that ended at the evaluation point;
            NaN at epoch 0) and ``train_loss`` (that epoch's; NaN at epoch 0).
        diverged_epoch: ``(T,)`` first epoch (1-based) whose loss or weights were not finite, 0 if none.
        weights: final weights, as :func:`initial_weights` but with ``T`` rows.
    """

    train_loss: np.ndarray
    eval_epochs: np.ndarray
    evals: dict[str, np.ndarray]
    diverged_epoch: np.ndarray
    weights: list[np.ndarray]


def _per_trial_sum(tensor):
    return tf.reduce_sum(tf.reshape(tensor, [tf.shape(tensor)[0], -1]), axis=1)


def _per_trial_max(tensor):
    return tf.reduce_max(tf.reshape(tensor, [tf.shape(tensor)[0], -1]), axis=1)


def _expand(values, like):
    """``values`` ``(T,)`` shaped to broadcast against ``like`` ``(T, ...)``."""
    return tf.reshape(values, [-1] + [1] * (len(like.shape) - 1))


def _clip_per_trial(grads, spec: OptimizerSpec):
    """Keras's clipnorm / global_clipnorm arithmetic, with norms taken per trial (leading axis)."""
    if spec.clipnorm is not None:
        clipped = []
        for grad in grads:
            l2sum = _per_trial_sum(tf.square(grad))
            safe = tf.where(l2sum > 0, l2sum, tf.ones_like(l2sum))
            l2norm = tf.where(l2sum > 0, tf.sqrt(safe), l2sum)
            clipped.append(grad * spec.clipnorm / _expand(tf.maximum(l2norm, spec.clipnorm), grad))
        return clipped
    if spec.global_clipnorm is not None:
        norm = tf.sqrt(tf.add_n([_per_trial_sum(tf.square(grad)) for grad in grads]))
        scale = spec.global_clipnorm * tf.minimum(1.0 / norm, 1.0 / spec.global_clipnorm)
        scale = scale + (norm - norm)
        return [grad * _expand(scale, grad) for grad in grads]
    return grads


def _select(masks: Sequence, values: Sequence):
    """``values[i]`` where ``masks[i]``, nested ``tf.where`` (the last value is the default)."""
    result = values[-1]
    for mask, value in zip(reversed(masks[:-1]), reversed(values[:-1])):
        result = tf.where(mask, value, result)
    return result


class StackTrainer:
    """Trains one stack; build it once, then call :meth:`train` (or :meth:`run` and :meth:`probe`).

    Args:
        data: the dataset's arrays (see :mod:`lossatlas.data.datasets`), replicates ``(S, n, d)``:
            ``x_train, y_train, x_test, y_test`` and, when present, ``x_validation, y_validation``.
            It may carry ``target_shift`` and ``target_scale`` ``(S,)``: the model is then trained on
            ``(y - shift) / scale`` and its predictions are mapped back before the test metrics.
        model: the architecture; ``segments``: one :class:`Segment` (or tuple) per cell.
        optimizer: the optimizer spec (its learning rate is the default of the segments).
        initial: weights as from :func:`initial_weights`; ``seeds``: the ``S`` trial seeds (they fix
            the batch order).
        saturation_threshold: an activation derivative below it counts as saturated.
        epochs_per_call: epochs one graph call runs at most.
        trials: ``(segment, replicate)`` of each trial; by default every segment on every replicate,
            segment-major. (A replicate is one row of the data arrays: a seed of one dataset with one
            preprocessing; a stack can hold several datasets of the same shapes.)
    """

    def __init__(
        self,
        data: dict[str, np.ndarray],
        model: ModelSpec,
        segments: Sequence,
        optimizer: OptimizerSpec,
        initial: Sequence[np.ndarray],
        seeds: Sequence[int],
        batch_size: int = 32,
        jit_compile: bool = False,
        saturation_threshold: float = 0.01,
        epochs_per_call: int = EPOCHS_PER_CALL,
        trials: Sequence[tuple[int, int]] | None = None,
    ):
        n_seeds = data["x_train"].shape[0]
        if len(seeds) != n_seeds or initial[0].shape[0] != n_seeds:
            raise ValueError(f"{len(seeds)} seeds and {initial[0].shape[0]} initial weights for {n_seeds} replicates")
        self.model, self.spec = model, optimizer
        self.segments = [as_segment(segment) for segment in segments]
        self.seeds, self.n_seeds, self.batch_size = list(seeds), n_seeds, batch_size
        self.n_train = data["x_train"].shape[1]
        self.saturation_threshold = saturation_threshold
        self.jit_compile, self.epochs_per_call = jit_compile, epochs_per_call
        self.orders = BatchOrders(self.seeds, self.n_train)
        self.order_rows = np.zeros((epochs_per_call, n_seeds, self.n_train), np.int32)  # one call's orders
        self.epoch = 0
        self.diverged_epoch = np.zeros(0, np.int64)

        y_train = data["y_train"].astype(np.float32)
        self.target_transform = None
        if "target_shift" in data:
            shift = np.asarray(data["target_shift"], np.float32)[:, None, None]
            scale = np.asarray(data["target_scale"], np.float32)[:, None, None]
            y_train = ((y_train - shift) / scale).astype(np.float32)
            self.target_transform = (shift, scale)
        x_train = data["x_train"].astype(np.float32)
        self.x_train, self.y_train = tf.constant(x_train), tf.constant(y_train)
        # The steps read the training set as one table of rows (inputs, then target), replicate by
        # replicate (row s * n + i: sample i of replicate s), so that one gather fetches a batch's
        # inputs and targets of every replicate (a gather costs per row fetched, whatever its width).
        self.n_inputs = x_train.shape[2]
        rows = np.concatenate([x_train, y_train], axis=2)
        self.train_rows = tf.constant(rows.reshape(n_seeds * self.n_train, rows.shape[2]))
        self.row_offsets = tf.constant((np.arange(n_seeds) * self.n_train).astype(np.int32)[:, None])
        self.splits = {"test": (data["x_test"], data["y_test"])}
        if "x_validation" in data:
            self.splits["validation"] = (data["x_validation"], data["y_validation"])
        if trials is None:
            trials = [(k, s) for k in range(len(self.segments)) for s in range(n_seeds)]
        if any(not (0 <= k < len(self.segments) and 0 <= s < n_seeds) for k, s in trials):
            raise ValueError(f"trials must be (segment, replicate) pairs within {len(self.segments)} segments and {n_seeds} replicates")
        weights = [self._expand_initial(np.asarray(array, np.float32), [s for _, s in trials]) for array in initial]
        self._setup(trials, weights, [tf.constant(array) for array in weights])

    # ------------------------------------------------------------------------------------------
    # Set-up (also after keep())
    # ------------------------------------------------------------------------------------------

    @staticmethod
    def _expand_initial(array: np.ndarray, replicates: Sequence[int]) -> np.ndarray:
        """Per-seed weights ``(S, ...)`` as per-trial engine weights ``(T, ...)``, biases ``(T, 1, fan_out)``."""
        per_trial = array[np.asarray(replicates, np.int64)]
        return per_trial[:, None, :] if per_trial.ndim == 2 else per_trial

    def _setup(self, trials: list[tuple[int, int]], weights: Sequence[np.ndarray], initial: Sequence, optimizer_state=None) -> None:
        """Builds the variables, optimizer and graph functions for ``trials`` ``(segment, replicate)``
        with current ``weights`` and ``initial`` weights (engine shapes)."""
        self.trials = list(trials)
        self.n_trials = len(self.trials)
        segment_index = np.array([k for k, _ in self.trials], np.int64)
        replicate = np.array([s for _, s in self.trials], np.int64)
        self.trial_segment, self.trial_replicate = segment_index, replicate
        self.replicate = tf.constant(replicate.astype(np.int32))
        # Trial t trains on replicate t (one segment, every replicate, in order): no gather needed.
        self.one_trial_per_replicate = np.array_equal(replicate, np.arange(self.n_seeds))
        rates = [self.spec.learning_rate if seg.learning_rate is None else seg.learning_rate for seg in self.segments]
        self.learning_rates = np.array([rates[k] for k in segment_index], np.float32)
        learning_rate = tf.constant(self.learning_rates.reshape(-1, 1, 1))

        losses = [self.segments[k].loss for k in segment_index]
        activations = [self.segments[k].activation for k in segment_index]
        self.activation_names = list(dict.fromkeys(activations))
        self.activation_masks = [tf.constant(np.array([a == name for a in activations]).reshape(-1, 1, 1)) for name in self.activation_names]
        # A loss key is (loss, from_logits): binary cross-entropy on a sigmoid output reads the
        # logits, as Keras's does in fit (the sigmoid's output carries its logits there).
        keys = [(loss, loss == "binary_crossentropy" and activation == "sigmoid") for loss, activation in zip(losses, activations)]
        self.loss_keys = list(dict.fromkeys(keys))
        self.loss_masks = [tf.constant(np.array([k == key for k in keys]).reshape(-1, 1)) for key in self.loss_keys]
        self.loss_functions = [loss_function(loss) for loss, _ in self.loss_keys]
        self.hidden_activation = keras.activations.get(self.model.hidden_activation)

        if self.target_transform is not None:
            shift, scale = self.target_transform
            self.output_shift, self.output_scale = tf.constant(shift[replicate]), tf.constant(scale[replicate])
        self.eval_data = {
            name: (tf.constant(x.astype(np.float32)), tf.constant(y.astype(np.float32)[replicate]))
            for name, (x, y) in self.splits.items()
        }
        self.initial = list(initial)
        self.variables = [keras.Variable(array, name=f"w{index}") for index, array in enumerate(weights)]
        self.optimizer = make_optimizer(self.spec, per_trial_clipping=True, learning_rate=lambda: learning_rate)
        self.optimizer.build(self.variables)
        if optimizer_state is not None:
            for variable, value in zip(self.optimizer.variables, optimizer_state):
                variable.assign(value)
        self.diverged_epoch = np.zeros(self.n_trials, np.int64)
        order_spec = tf.TensorSpec([self.epochs_per_call, self.n_seeds, self.n_train], tf.int32)
        self._chunk = tf.function(
            self._train_chunk, input_signature=[order_spec, tf.TensorSpec([], tf.int32)], jit_compile=self.jit_compile,
            autograph=False,
        )
        self._probe = tf.function(self._probe_graph, jit_compile=self.jit_compile, autograph=False)

    def state(self, positions: Sequence[int]) -> dict:
        """The training state of the trials at ``positions``: weights, initial weights, per-trial
        optimizer slots (the optimizer's shared variables, such as its step count, as they are),
        epochs trained and divergence; for :meth:`adopt`."""
        keep = np.asarray(positions, np.int64)
        return {
            "weights": [tf.gather(variable, keep).numpy() for variable in self.variables],
            "initial": [tf.gather(array, keep).numpy() for array in self.initial],
            "optimizer": [
                tf.gather(variable, keep).numpy() if len(variable.shape) and variable.shape[0] == self.n_trials else variable.numpy()
                for variable in self.optimizer.variables
            ],
            "per_trial": [bool(len(v.shape) and v.shape[0] == self.n_trials) for v in self.optimizer.variables],
            "diverged_epoch": self.diverged_epoch[keep],
            "epoch": self.epoch,
        }

    def adopt(self, states: Sequence[dict]) -> None:
        """Takes over the state of trials trained elsewhere (:meth:`state` of other trainers of the
        same model and optimizer, in this trainer's trial order, all at the same epoch): their
        weights, optimizer state and divergence, and the batch orders advanced to that epoch, so
        that training goes on exactly as it would have there. A trainer built for the merged trials
        of several stacks thus continues them as one stack."""
        epochs = {state["epoch"] for state in states}
        if len(epochs) != 1 or self.epoch:
            raise ValueError(f"can adopt the states of trials at one epoch, into a fresh trainer; got epochs {sorted(epochs)}")
        if sum(len(state["diverged_epoch"]) for state in states) != self.n_trials:
            raise ValueError("the adopted states must hold exactly this trainer's trials")
        join = lambda key: [np.concatenate(arrays) for arrays in zip(*(state[key] for state in states))]  # noqa: E731
        optimizer = [np.concatenate(values) if per_trial else values[0]
                     for per_trial, values in zip(states[0]["per_trial"], zip(*(state["optimizer"] for state in states)))]
        self._setup(self.trials, join("weights"), [tf.constant(array) for array in join("initial")], optimizer_state=optimizer)
        self.diverged_epoch = np.concatenate([state["diverged_epoch"] for state in states])
        self.epoch = epochs.pop()
        self.orders.next(self.epoch)  # the streams of the batch orders, where the other trainers left them

    def keep(self, trials: Iterable[int], jit_compile: bool | None = None) -> None:
        """Keeps only the trials at positions ``trials`` (in that order): their weights, their
        optimizer state and their records go on; the others are dropped (a stack whose resolved
        trials need no more steps gets cheaper). The graphs are rebuilt, with XLA or not as
        ``jit_compile`` says (default: as before)."""
        if jit_compile is not None:
            self.jit_compile = jit_compile
        keep = np.asarray(list(trials), np.int64)
        if keep.size == 0 or keep.min() < 0 or keep.max() >= self.n_trials:
            raise ValueError(f"trials to keep must be positions in 0..{self.n_trials - 1}")
        state = self.state(keep)
        self._setup([self.trials[i] for i in keep], state["weights"], [tf.constant(a) for a in state["initial"]],
                    optimizer_state=state["optimizer"])
        self.diverged_epoch = state["diverged_epoch"]

    # ------------------------------------------------------------------------------------------
    # The model
    # ------------------------------------------------------------------------------------------

    def _pre_activation(self, x, hidden_pre_activations=None):
        """Output pre-activation ``z``, ``(T, batch, 1)``, for stacked inputs ``x`` ``(T, batch, d)``.
        Appends each hidden layer's pre-activation to ``hidden_pre_activations`` when given."""
        hidden = x
        n_layers = len(self.variables) // 2
        for layer in range(n_layers):
            hidden = tf.matmul(hidden, self.variables[2 * layer]) + self.variables[2 * layer + 1]
            if layer < n_layers - 1:
                if hidden_pre_activations is not None:
                    hidden_pre_activations.append(hidden)
                hidden = self.hidden_activation(hidden)
        return hidden

    def _output(self, z):
        """Each trial's output activation applied to its pre-activations ``z`` ``(T, batch, 1)``."""
        values = [activation_function(name)(z) for name in self.activation_names]
        return _select(self.activation_masks, values)

    def _sample_losses(self, y, z):
        """Per-sample losses ``(T, batch)``: each trial's Keras loss, its output unaltered (binary
        cross-entropy of a sigmoid output from its logits ``z``, as Keras computes it in fit)."""
        output = self._output(z) if any(not logits for _, logits in self.loss_keys) else None
        values = [
            function(y, z, from_logits=True) if logits else function(y, output)
            for function, (_, logits) in zip(self.loss_functions, self.loss_keys)
        ]
        return _select(self.loss_masks, values)

    def _batch(self, index):
        """The inputs ``(T, batch, d)`` and targets ``(T, batch, 1)`` of each trial for the samples
        ``index`` ``(S, batch)`` of each replicate."""
        if self.jit_compile:
            # XLA fuses the gathers into the ops that read them, and how it rounds depends on that
            # graph: with XLA the batch is fetched from x_train and y_train, two gathers each.
            return tuple(tf.gather(tf.gather(tensor, index, batch_dims=1), self.replicate) for tensor in (self.x_train, self.y_train))
        # gather_nd, not gather: the same rows, fetched in 20-30% less time than by TensorFlow's gather
        # for rows this narrow.
        batch = tf.gather_nd(self.train_rows, (index + self.row_offsets)[..., None])
        if not self.one_trial_per_replicate:
            batch = tf.gather(batch, self.replicate)
        return tf.split(batch, [self.n_inputs, -1], axis=2)

    # ------------------------------------------------------------------------------------------
    # Graph functions
    # ------------------------------------------------------------------------------------------

    def _step(self, index):
        """One optimizer step on the samples ``index`` ``(S, batch)`` of each replicate; returns each
        trial's batch loss times the batch size ``(T,)``."""
        x, y = self._batch(index)
        with tf.GradientTape() as tape:
            trial_losses = tf.reduce_mean(self._sample_losses(y, self._pre_activation(x)), axis=-1)
            total = tf.reduce_sum(trial_losses)
        grads = _clip_per_trial(tape.gradient(total, self.variables), self.spec)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        size = index.shape[1]  # static, but without XLA a runtime value (see _train_chunk)
        return trial_losses * (float(size) if size is not None else tf.cast(tf.shape(index)[1], tf.float32))

    def _train_chunk(self, orders, count):
        """Runs ``count`` epochs (at most ``epochs_per_call``); ``orders[e]`` is epoch ``e``'s ``(S, n)``
        sample order. Returns per epoch ``(epochs_per_call, T)``: the training loss as fit reports it,
        the norm of the epoch's parameter change, and whether every weight and the loss are finite
        (rows past ``count`` are zero)."""
        size = orders.shape[0]
        # Loops on counters, not `for epoch in tf.range(count)`: XLA would take the range's length as
        # a compile-time constant and compile the graph again for every new count. The batches of an
        # epoch run in a loop (one copy of the step in the graph, so it traces and compiles fast).
        # XLA needs static shapes: there the loop runs the full batches and the short last batch, if
        # any, is a second copy of the step after it. Without XLA the loop runs every batch, the last
        # one short (the batch size is then a runtime value). Written as `tf.while_loop`s so that
        # tracing needs no AutoGraph.
        full, rest = divmod(self.n_train, self.batch_size)
        looped = full if self.jit_compile else -(-self.n_train // self.batch_size)

        def epoch_body(epoch, losses, updates, finite):
            start = [tf.identity(variable) for variable in self.variables]
            order = orders[epoch]

            def batch_body(batch, loss_sum):
                first = batch * self.batch_size
                taken = self.batch_size if self.jit_compile else tf.minimum(self.batch_size, self.n_train - first)
                index = tf.slice(order, [0, first], [self.n_seeds, taken])
                return batch + 1, loss_sum + self._step(index)

            _, loss_sum = tf.while_loop(lambda batch, _: batch < looped, batch_body, [tf.constant(0), tf.zeros([self.n_trials])])
            if rest and self.jit_compile:
                loss_sum += self._step(order[:, full * self.batch_size :])
            epoch_loss = loss_sum / float(self.n_train)
            change = tf.add_n([_per_trial_sum(tf.square(v - s)) for v, s in zip(self.variables, start)])
            ok = tf.math.is_finite(epoch_loss)
            for variable in self.variables:
                ok = ok & tf.reduce_all(tf.reshape(tf.math.is_finite(variable), [self.n_trials, -1]), axis=1)
            # This epoch's row is selected, not added as one-hot times the values: 0 * inf is NaN, which
            # would overwrite a diverging trial's earlier epochs of this call.
            row = tf.equal(tf.range(size), epoch)[:, None]
            return (epoch + 1, tf.where(row, epoch_loss, losses), tf.where(row, tf.sqrt(change), updates),
                    finite | (row & ok))

        zeros = tf.zeros([size, self.n_trials])
        initial = [tf.constant(0), zeros, zeros, tf.zeros([size, self.n_trials], tf.bool)]
        _, losses, updates, finite = tf.while_loop(lambda epoch, *_: epoch < count, epoch_body, initial)
        return losses, updates, finite

    def _probe_graph(self):
        """See :meth:`probe`."""
        threshold = self.saturation_threshold
        hidden = []
        x, y = tf.gather(self.x_train, self.replicate), tf.gather(self.y_train, self.replicate)
        with tf.GradientTape() as tape:
            z = self._pre_activation(x, hidden)
            tape.watch(z)
            total = tf.reduce_sum(self._sample_losses(y, z))  # sum over trials and samples
        *grads, dz = tape.gradient(total, [*self.variables, z])
        # Gradient of each trial's mean loss over the training set; dz is per sample: d loss_i / d z_i.
        squares = [_per_trial_sum(tf.square(grad)) / float(self.n_train) ** 2 for grad in grads]
        n_layers = len(self.variables) // 2
        values = {f"grad_norm_layer_{i + 1}": tf.sqrt(squares[2 * i] + squares[2 * i + 1]) for i in range(n_layers)}
        values["output_grad_abs"] = tf.reduce_mean(tf.abs(dz), axis=[1, 2])
        derivative = _select(self.activation_masks, [activation_derivative(name, z) for name in self.activation_names])
        values["output_saturation"] = tf.reduce_mean(tf.cast(derivative < threshold, tf.float32), axis=[1, 2])
        if hidden:
            saturated = [activation_derivative(self.model.hidden_activation, h) < threshold for h in hidden]
            values["hidden_saturation"] = tf.reduce_mean(tf.cast(tf.concat(saturated, axis=2), tf.float32), axis=[1, 2])
        else:
            values["hidden_saturation"] = tf.fill([self.n_trials], np.float32(np.nan))
        differences = [variable - initial for variable, initial in zip(self.variables, self.initial)]
        values["distance_l2"] = tf.sqrt(tf.add_n([_per_trial_sum(tf.square(d)) for d in differences]))
        values["distance_linf"] = tf.reduce_max(tf.stack([_per_trial_max(tf.abs(d)) for d in differences]), axis=0)
        for name, (x_eval, y_eval) in self.eval_data.items():
            prediction = self._output(self._pre_activation(tf.gather(x_eval, self.replicate)))
            if self.target_transform is not None:
                prediction = prediction * self.output_scale + self.output_shift
            error = prediction - y_eval
            values[f"{name}_rmse"] = tf.sqrt(tf.reduce_mean(tf.square(error), axis=[1, 2]))
            values[f"{name}_mae"] = tf.reduce_mean(tf.abs(error), axis=[1, 2])
        return values

    # ------------------------------------------------------------------------------------------
    # Host side
    # ------------------------------------------------------------------------------------------

    def run(self, epochs: int) -> tuple[np.ndarray, np.ndarray]:
        """Trains ``epochs`` more epochs; returns the training loss and the update norm of each,
        ``(epochs, T)`` each, and marks the trials that diverge (:attr:`diverged_epoch`)."""
        losses = np.empty((epochs, self.n_trials), np.float32)
        updates = np.empty((epochs, self.n_trials), np.float32)
        done = 0
        while done < epochs:
            count = min(self.epochs_per_call, epochs - done)
            self.orders.next(count, out=self.order_rows)  # rows past count: an earlier call's, not read
            loss, update, finite = (value.numpy() for value in self._chunk(tf.constant(self.order_rows), tf.constant(count, tf.int32)))
            losses[done : done + count], updates[done : done + count] = loss[:count], update[:count]
            for row in range(count):
                bad = ~finite[row]
                self.diverged_epoch[(self.diverged_epoch == 0) & bad] = self.epoch + row + 1
            self.epoch += count
            done += count
        return losses, updates

    def probe(self) -> dict[str, np.ndarray]:
        """Measures every trial at its current weights, without training; name -> ``(T,)``:

        * ``test_rmse``, ``test_mae`` (and ``validation_rmse``, ``validation_mae`` when the data has a
          validation split): in the original target units.
        * ``grad_norm_layer_{k}`` (``k = 1..L``, the last is the output layer): the norm of the
          gradient of the trial's mean loss over the whole training set with respect to layer
          ``k``'s kernel and bias.
        * ``output_grad_abs``: the mean over the training samples of ``|d loss_i / d z_i|``, the
          derivative of each sample's own loss with respect to its output pre-activation (per
          sample: it does not depend on the batch size).
        * ``output_saturation``: the fraction of training samples whose output activation
          derivative is below ``saturation_threshold`` (a saturated sigmoid or tanh, a dead ReLU);
          ``hidden_saturation``: the same over every hidden unit and sample (NaN without hidden layers).
        * ``distance_l2``, ``distance_linf``: how far the weights are from their initial values
          (Euclidean norm and largest absolute change over all parameters).
        """
        return {name: value.numpy() for name, value in self._probe().items()}

    def weights(self) -> list[np.ndarray]:
        """Current weights, as :func:`initial_weights` returns them but with ``T`` rows."""
        arrays = [variable.numpy() for variable in self.variables]
        return [array[:, 0, :] if index % 2 else array for index, array in enumerate(arrays)]

    def record(self, points: Sequence[int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Trains up to each epoch of ``points`` (absolute, increasing, none before the current
        epoch) and probes there; returns the training loss of every epoch trained ``(E, T)`` and the
        probes, name -> ``(len(points), T)``, with ``train_loss`` and ``update_norm`` of the epoch that
        ended at each point (NaN at a point where no epoch was trained)."""
        if any(b <= a for a, b in zip(points, points[1:])) or (len(points) and points[0] < self.epoch):
            raise ValueError(f"points must increase from the current epoch {self.epoch}, got {list(points)}")
        losses_seen, evals = [], {}
        for point in points:
            if point > self.epoch:
                losses, updates = self.run(point - self.epoch)
                losses_seen.append(losses)
                extra = {"train_loss": losses[-1], "update_norm": updates[-1]}
            else:
                extra = {name: np.full(self.n_trials, np.nan, np.float32) for name in ("train_loss", "update_norm")}
            for name, value in {**self.probe(), **extra}.items():
                evals.setdefault(name, []).append(value)
        train_loss = np.concatenate(losses_seen) if losses_seen else np.empty((0, self.n_trials), np.float32)
        return train_loss, {name: np.stack(values) for name, values in evals.items()}

    def train(self, epochs: int, eval_every: int = 1) -> StackResult:
        """Trains for ``epochs`` epochs from the start, probing at :func:`eval_schedule`."""
        if self.epoch:
            raise ValueError("train() starts from the initial weights; use record() to go on")
        schedule = eval_schedule(epochs, eval_every)
        train_loss, evals = self.record(schedule)
        return StackResult(
            train_loss=train_loss,
            eval_epochs=np.asarray(schedule, np.int64),
            evals=evals,
            diverged_epoch=self.diverged_epoch.copy(),
            weights=self.weights(),
        )
