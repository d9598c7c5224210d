"""Deterministic synthetic datasets, one file per dataset, with a SHA-256 manifest.

A dataset is a family (the generating process), a target scale and sizes. Replicate ``r`` of a
dataset is drawn from its own random stream keyed by ``(base_seed, family, sizes, r)``, so adding
seeds never changes the data of existing ones, and the scale of the ``target_scale`` family only
multiplies the targets: the inputs and the noise are the same at every scale.

Arrays are float32 and stacked over replicates: ``x_train`` has shape ``(seeds, n_train, 1)``,
``y_train`` ``(seeds, n_train, 1)``, ``x_test`` ``(seeds, n_test, 1)``, ``y_test`` ``(seeds, n_test, 1)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from lossatlas.atomic import atomic_path, write_json
from lossatlas.seeds import derive_seed


@dataclasses.dataclass(frozen=True)
class Family:
    """A generating process: ``y = scale * f(x, noise)``.

    Attributes:
        name: the family's name in configs.
        description: the process in words, for the report.
        target_bounds: bounds of the targets at scale 1 (``-inf``/``inf`` when unbounded); a scale
            ``s`` multiplies them.
        noise_sd: standard deviation of the additive noise at scale 1, in target units.
        scalable: whether the config may set a scale other than 1.
    """

    name: str
    description: str
    target_bounds: tuple[float, float]
    noise_sd: float
    scalable: bool

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Draws ``n`` samples at scale 1; returns float64 arrays ``x`` and ``y`` of shape ``(n, 1)``."""
        if self.name == "seed_large":
            x = rng.random((n, 1)) * 10.0
            y = 2.0 * x + 1.0 + rng.standard_normal((n, 1))
        elif self.name == "seed_small":
            x = rng.random((n, 1))
            y = np.clip(0.1 * x + rng.standard_normal((n, 1)) * 0.01, 0.0, 1.0)
        elif self.name == "target_scale":
            x = rng.random((n, 1))
            y = np.clip(0.2 + 0.6 * x + 0.05 * rng.standard_normal((n, 1)), 0.0, 1.0)
        else:  # pragma: no cover - FAMILIES is the only source of Family objects
            raise ValueError(f"unknown dataset family {self.name!r}")
        return x, y


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "seed_large",
            "x ~ U(0, 10), y = 2x + 1 + N(0, 1) (the article's example 1)",
            (-math.inf, math.inf),
            1.0,
            False,
        ),
        Family(
            "seed_small",
            "x ~ U(0, 1), y = clip(0.1x + 0.01 N(0, 1), 0, 1) (the article's examples 2 and 3)",
            (0.0, 1.0),
            0.01,
            False,
        ),
        Family(
            "target_scale",
            "x ~ U(0, 1), y = s * clip(0.2 + 0.6x + 0.05 N(0, 1), 0, 1): only the target scale s varies",
            (0.0, 1.0),
            0.05,
            True,
        ),
    )
}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One dataset of the config: a family at a scale, with its sizes."""

    label: str
    family: str
    scale: float = 1.0
    n_train: int = 100
    n_test: int = 1000

    @property
    def target_range(self) -> tuple[float, float]:
        low, high = FAMILIES[self.family].target_bounds
        return (low * self.scale, high * self.scale)

    @property
    def noise_sd(self) -> float:
        return FAMILIES[self.family].noise_sd * self.scale


def generate(spec: DatasetSpec, base_seed: int, n_seeds: int) -> dict[str, np.ndarray]:
    """Draws ``n_seeds`` replicates of ``spec``; returns the stacked float32 arrays (see module doc)."""
    family = FAMILIES[spec.family]
    arrays: dict[str, list[np.ndarray]] = {"x_train": [], "y_train": [], "x_test": [], "y_test": []}
    for replicate in range(n_seeds):
        seed = derive_seed(base_seed, "data", spec.family, spec.n_train, spec.n_test, replicate)
        rng = np.random.default_rng(seed)
        for split, n in (("train", spec.n_train), ("test", spec.n_test)):
            x, y = family.draw(rng, n)
            arrays[f"x_{split}"].append(x.astype(np.float32))
            arrays[f"y_{split}"].append((y * spec.scale).astype(np.float32))
    return {name: np.stack(values) for name, values in arrays.items()}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_dataset(spec: DatasetSpec, base_seed: int, n_seeds: int, data_path: Path, manifest_path: Path) -> None:
    """Generates ``spec`` and writes it as a byte-reproducible ``.npz`` plus a JSON manifest.

    The archive's entries carry a fixed timestamp, so the same spec and seeds always give the same
    bytes and the same SHA-256.
    """
    arrays = generate(spec, base_seed, n_seeds)
    array_hashes = {}
    with atomic_path(data_path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array, allow_pickle=False)
                payload = buffer.getvalue()
                array_hashes[name] = _sha256(payload)
                archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), payload)
    manifest = {
        "dataset": spec.label,
        "family": spec.family,
        "description": FAMILIES[spec.family].description,
        "scale": spec.scale,
        "n_train": spec.n_train,
        "n_test": spec.n_test,
        "n_seeds": n_seeds,
        "base_seed": base_seed,
        "noise_sd": spec.noise_sd,
        "file": Path(data_path).name,
        "sha256": _sha256(Path(data_path).read_bytes()),
        "arrays": {name: {"shape": list(arrays[name].shape), "sha256": digest} for name, digest in array_hashes.items()},
    }
    write_json(manifest_path, manifest)


def load_dataset(data_path: Path, manifest_path: Path | None = None) -> dict[str, np.ndarray]:
    """Reads a dataset written by :func:`write_dataset`, checking its SHA-256 against the manifest."""
    data_path = Path(data_path)
    if manifest_path is not None:
        manifest = json.loads(Path(manifest_path).read_text())
        actual = _sha256(data_path.read_bytes())
        if actual != manifest["sha256"]:
            raise ValueError(f"{data_path}: SHA-256 {actual} does not match its manifest {manifest_path}")
    with np.load(data_path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}
