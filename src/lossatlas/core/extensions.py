"""Bring your own loss or output activation: an import path ``package.module:function`` in the config
wherever a loss or an activation name goes (``experiments.<label>.losses``, ``.activations``).

A loss is called as Keras calls its own, ``loss(y_true, y_pred)`` with tensors of shape
``(batch, 1)``, and must return one value per sample ``(batch,)``; an activation maps a tensor to
one of the same shape. Both are checked when the workflow is parsed (importable, callable, and the
shapes on a small probe batch), so ``snakemake -n`` names a bad one; that check imports TensorFlow,
which is why the built-in names need no such check and a config without custom functions never
imports it while parsing. The engine and the ``fit`` reference path call the same function.
"""

from __future__ import annotations

import importlib
import re
from typing import Callable

IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
PROBE_BATCH = 4


def is_import_path(name: str) -> bool:
    """Whether ``name`` is an import path ``module:function`` (not a built-in name)."""
    return bool(IMPORT_PATH.match(str(name)))


def resolve(name: str) -> Callable:
    """The function an import path names; ValueError saying what is wrong."""
    module_name, _, attribute = str(name).partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import module {module_name!r} ({error})") from None
    function = getattr(module, attribute, None)
    if function is None:
        raise ValueError(f"module {module_name!r} has no {attribute!r}")
    if not callable(function):
        raise ValueError(f"{name!r} is not callable")
    return function


def check(name: str, kind: str) -> None:
    """Imports ``name`` and calls it on a probe batch (``kind``: ``"loss"`` or ``"activation"``);
    ValueError when it cannot be imported or called, or returns the wrong shape."""
    import numpy as np

    function = resolve(name)
    importlib.import_module("lossatlas.training.backend")  # TensorFlow, quietly: the backend a custom function computes with

    probe = np.linspace(0.1, 0.9, PROBE_BATCH, dtype=np.float32).reshape(-1, 1)
    try:
        value = function(probe, probe[::-1]) if kind == "loss" else function(probe)
        shape = tuple(np.asarray(value).shape)
    except Exception as error:  # noqa: BLE001 - any failure of user code is reported, with its key
        raise ValueError(f"calling it on a probe batch of {PROBE_BATCH} failed: {type(error).__name__}: {error}") from None
    expected = (PROBE_BATCH,) if kind == "loss" else (PROBE_BATCH, 1)
    if shape != expected:
        what = "one value per sample" if kind == "loss" else "an output of the input's shape"
        raise ValueError(f"must return {what}, shape {expected}; returned shape {shape}")
