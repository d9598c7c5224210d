"""Deterministic datasets, one file per dataset, with a SHA-256 manifest.

A dataset is a family (the generating process, or a real data set), a target scale, sizes and the
family's parameters. Replicate ``r`` of a dataset is drawn from its own random stream keyed by
``(base_seed, family, n_train, n_test, r)``: the training split first, then the test split, then
the validation split. So adding seeds never changes the data of existing ones, a change of
``n_validation`` changes neither the training nor the test split, and the scale of a scalable
family only multiplies the targets: the inputs and the noise draws are the same at every scale.
The family's parameters are not part of the key either: ``friedman1``'s ``noise`` only scales the
same noise draws.

Arrays are float32 and stacked over replicates (``S`` seeds, ``d`` input features of the family):

* ``x_train`` ``(S, n_train, d)``, ``y_train`` ``(S, n_train, 1)``;
* ``x_test`` ``(S, n_test, d)``, ``y_test`` ``(S, n_test, 1)``;
* ``x_validation`` ``(S, n_validation, d)``, ``y_validation`` ``(S, n_validation, 1)``;

plus the float64 reference of :func:`ols_reference`, ``ols_rmse_validation`` and
``ols_rmse_test``, both ``(S,)``. Inputs are stored as drawn (raw); :func:`standardize_inputs`
standardizes them by the training split.

The ``csv`` family reads a table of the user's own (:func:`read_csv_table`): its path, target column
and feature columns are fields of the :class:`DatasetSpec`; it is split like ``diabetes`` (one random
permutation of the rows per replicate), its file's SHA-256 goes into the manifest, and every problem
of the file is a ValueError naming the file and the column or line.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import hashlib
import io
import json
import math
import numbers
import os
import types
import zipfile
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from lossatlas.core.atomic import atomic_path, write_json
from lossatlas.core.seeds import derive_seed

SPLITS = ("train", "test", "validation")
"""The splits of a replicate, in the order they are drawn from its random stream."""

SIZE_FIELDS = {"train": "n_train", "test": "n_test", "validation": "n_validation"}
"""The :class:`DatasetSpec` field holding each split's size."""

Splits = dict[str, tuple[np.ndarray, np.ndarray]]
"""One replicate at scale 1: split -> ``(x, y)``, float64 of shapes ``(n, d)`` and ``(n, 1)``."""

Draw = Callable[[np.random.Generator, Mapping[str, int], Mapping[str, float]], Splits]
"""A family's draw function: ``draw(rng, sizes, params)`` -> one replicate.

``rng`` is the replicate's stream, ``sizes`` maps each split of :data:`SPLITS` to its number of
rows, ``params`` maps every parameter of the family to its value (defaults filled in). It returns
every split of ``sizes``, with targets at scale 1 (the scale is applied by :func:`generate`)."""


def _frozen(mapping: Mapping) -> Mapping:
    return types.MappingProxyType(dict(mapping))


@dataclasses.dataclass(frozen=True, eq=False)
class Family:
    """A generating process or a real data set: ``y = scale * f(x, noise)``.

    To add a family, write its draw function (for independent samples, a per-split sampler
    ``sample(rng, n, params) -> (x, y)`` wrapped in :func:`iid`; for a fixed table of rows, a
    loader wrapped in :func:`row_split`) and add a ``Family(...)`` to the tuple that builds
    :data:`FAMILIES`. :func:`check_spec`, :func:`generate`, the manifest and the report read
    everything else from these fields.

    Attributes:
        name: the family's name in configs.
        description: the process in words, for the report.
        draw: the draw function (see :data:`Draw`).
        target_bounds: bounds of the targets at scale 1 (``-inf``/``inf`` when unbounded); a scale
            ``s`` multiplies them.
        noise_sd: standard deviation of the additive noise at scale 1, in target units: a number,
            a function of the parameters (``params -> sd``) when a parameter sets it, or ``None``
            when unknown (real data). See :meth:`noise_sd_at`.
        scalable: whether the config may set a scale other than 1.
        n_features: the number of input features ``d``.
        default_sizes: split -> number of rows when the spec does not set it.
        parameters: parameter name -> default value; the only parameters the family accepts.
        param_bounds: parameter name -> inclusive ``(low, high)`` of its valid values (parameters
            not listed take any finite number).
        n_rows: the number of rows of a real data set (the sizes must sum to at most this), or
            ``None`` for a generating process.
        linear: whether the noise-free function is linear in the inputs (up to a clip at the
            target bounds), so that a linear model can reach the noise floor.
        from_file: whether the rows come from a file the spec names (the ``csv`` family): then
            ``n_features``, ``n_rows`` and ``default_sizes`` are placeholders (0) and the spec's own
            :attr:`DatasetSpec.n_features` and sizes, read from the file, hold.
    """

    name: str
    description: str
    draw: Draw
    target_bounds: tuple[float, float]
    noise_sd: float | Callable[[Mapping[str, float]], float] | None
    scalable: bool
    n_features: int
    default_sizes: Mapping[str, int]
    parameters: Mapping[str, float] = dataclasses.field(default_factory=dict)
    param_bounds: Mapping[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    n_rows: int | None = None
    linear: bool = False
    from_file: bool = False

    def __post_init__(self) -> None:
        for name in ("default_sizes", "parameters", "param_bounds"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        if set(self.default_sizes) != set(SPLITS):
            raise ValueError(f"family {self.name}: default_sizes must give {', '.join(SPLITS)}")
        if not set(self.param_bounds) <= set(self.parameters):
            raise ValueError(f"family {self.name}: param_bounds names a parameter it does not take")

    def noise_sd_at(self, params: Mapping[str, float]) -> float | None:
        """The noise standard deviation at scale 1 with ``params`` (all of them), or ``None``."""
        if callable(self.noise_sd):
            return float(self.noise_sd(params))
        return None if self.noise_sd is None else float(self.noise_sd)


def iid(sample: Callable[[np.random.Generator, int, Mapping[str, float]], tuple[np.ndarray, np.ndarray]]) -> Draw:
    """Makes a draw function from a per-split sampler of independent rows.

    ``sample(rng, n, params)`` returns float64 ``x`` ``(n, d)`` and ``y`` ``(n, 1)`` at scale 1;
    the splits are drawn one after the other from the replicate's stream, in :data:`SPLITS` order.
    """

    def draw(rng: np.random.Generator, sizes: Mapping[str, int], params: Mapping[str, float]) -> Splits:
        return {split: sample(rng, sizes[split], params) for split in SPLITS}

    return draw


def row_split(load: Callable[[], tuple[np.ndarray, np.ndarray]]) -> Draw:
    """Makes a draw function that splits a fixed table of rows at random.

    ``load()`` returns the whole table at scale 1, ``x`` ``(rows, d)`` and ``y`` ``(rows, 1)``. A
    replicate is one random permutation of the rows from its stream, cut into the training, test
    and validation splits in that order, so the splits are disjoint and the rows left over are
    unused.
    """

    def draw(rng: np.random.Generator, sizes: Mapping[str, int], params: Mapping[str, float]) -> Splits:
        x, y = load()
        order = rng.permutation(len(x))
        splits, start = {}, 0
        for split in SPLITS:
            rows = order[start : start + sizes[split]]
            splits[split] = (x[rows], y[rows])
            start += sizes[split]
        return splits

    return draw


def _seed_large(rng: np.random.Generator, n: int, params: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    x = rng.random((n, 1)) * 10.0
    return x, 2.0 * x + 1.0 + rng.standard_normal((n, 1))


def _seed_small(rng: np.random.Generator, n: int, params: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    x = rng.random((n, 1))
    return x, np.clip(0.1 * x + rng.standard_normal((n, 1)) * 0.01, 0.0, 1.0)


def _target_scale(rng: np.random.Generator, n: int, params: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    x = rng.random((n, 1))
    return x, np.clip(0.2 + 0.6 * x + 0.05 * rng.standard_normal((n, 1)), 0.0, 1.0)


FRIEDMAN1_RANGE = 30.0
"""The noise-free Friedman #1 function lies in ``[0, 30]``: ``10 sin(pi x1 x2)`` in ``[0, 10]``,
``20 (x3 - 0.5)^2`` in ``[0, 5]``, ``10 x4`` in ``[0, 10]``, ``5 x5`` in ``[0, 5]``."""


def _friedman1(rng: np.random.Generator, n: int, params: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_friedman1  # imported here: reading configs needs no scikit-learn

    random_state = int(rng.integers(2**31))  # one seed per split, drawn from the replicate's stream
    x, y = make_friedman1(n_samples=n, n_features=10, noise=params["noise"], random_state=random_state)
    return x, np.clip(y / FRIEDMAN1_RANGE, 0.0, 1.0)[:, None]


DIABETES_ROWS = 442


@functools.cache
def _diabetes_table() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled diabetes data: raw inputs ``(442, 10)``, targets ``(442, 1)`` in [0, 1]."""
    from sklearn.datasets import load_diabetes  # bundled with scikit-learn: no download

    x, y = load_diabetes(return_X_y=True, scaled=False)
    if x.shape != (DIABETES_ROWS, 10):
        raise ValueError(f"scikit-learn's diabetes data has shape {x.shape}, expected ({DIABETES_ROWS}, 10)")
    y = ((y - y.min()) / (y.max() - y.min()))[:, None]  # min and max over all rows, not per split
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


MAX_CSV_BYTES = 50 * 1024 * 1024
"""The largest CSV file the ``csv`` family reads: 50 MiB (about a million rows of a few numbers). A
larger file is refused when the config is checked; sample its rows into a smaller file first."""

MIN_CSV_ROWS = 10
"""The fewest data rows a CSV file may have (each split then gets at least two rows)."""

CSV_HOLDOUT_SHARE = 0.16
"""The share of a CSV file's rows that each of the validation and the test split gets when the config
does not set the sizes (rounded; training gets the rest): 71, 71 and 300 of 442 rows, the sizes of the
``diabetes`` family."""


@dataclasses.dataclass(frozen=True, eq=False)
class CsvTable:
    """A CSV file read and checked by :func:`read_csv_table`.

    Attributes:
        path: the file, resolved.
        sha256: the SHA-256 of its bytes (it goes into the dataset's manifest).
        size_bytes: its size in bytes.
        target: the target column.
        features: the feature columns, in the order of the file (or of the config's list).
        ignored: the other columns (by default, the columns without a single number).
        x: the inputs, float64 ``(rows, len(features))``, read-only.
        y: the targets as in the file, float64 ``(rows, 1)``, read-only.
    """

    path: Path
    sha256: str
    size_bytes: int
    target: str
    features: tuple[str, ...]
    ignored: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.y)


def resolve_csv_path(path: str, base: str | os.PathLike | None = None) -> Path:
    """The file a ``csv`` spec's ``path`` names, checked: relative paths are taken from ``base`` (the
    working directory by default: the repository when Snakemake runs) and must not leave it, through
    ``..`` or a symbolic link (an absolute path may name any file); the file must exist and be at most
    :data:`MAX_CSV_BYTES`. Raises ValueError starting with ``"path: "`` and naming the file."""
    given = Path(path)
    if given.is_absolute():
        resolved = given.resolve()
    else:
        root = Path.cwd().resolve() if base is None else Path(base).resolve()
        resolved = (root / given).resolve()
        if not resolved.is_relative_to(root):
            raise ValueError(
                f"path: {path} resolves to {resolved}, outside the working directory {root} (through '..' or a "
                "symbolic link); copy the file into the repository, or give its absolute path"
            )
    if not resolved.exists():
        raise ValueError(f"path: file {path} does not exist (looked for {resolved})")
    if not resolved.is_file():
        raise ValueError(f"path: {path} is not a file ({resolved})")
    size = resolved.stat().st_size
    if size > MAX_CSV_BYTES:
        raise ValueError(
            f"path: {path} is {size / 2**20:.1f} MiB, more than the {MAX_CSV_BYTES / 2**20:.0f} MiB a CSV file may have "
            "(lossatlas.data.datasets.MAX_CSV_BYTES); sample its rows into a smaller file"
        )
    return resolved


def _close_names(name: str, choices: list[str]) -> str:
    """``"; did you mean 'a' or 'b'?"`` for the names of ``choices`` close to ``name`` (case aside), or ``""``."""
    folded = {choice.casefold(): choice for choice in choices}
    close = [folded[match] for match in difflib.get_close_matches(name.casefold(), list(folded), n=3, cutoff=0.6)]
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _has_numbers(values: tuple[str, ...]) -> bool:
    """Whether a column holds at least one number (a column of text only is not a feature by default)."""
    try:
        np.array(values, dtype=np.float64)
        return len(values) > 0
    except ValueError:
        return any(_is_float(value) for value in values)


def _column_numbers(name: str, column: str, values: tuple[str, ...], lines: list[int]) -> np.ndarray:
    """The numbers of one column, float64; a ValueError names the file, the line and the column of the
    first value that is empty, text, NaN or infinite."""
    try:
        converted = np.array(values, dtype=np.float64)  # fast path: every value a number
    except ValueError:
        converted = None
    if converted is not None and np.isfinite(converted).all():
        return converted
    numbers_ = np.empty(len(values), dtype=np.float64)
    for index, text in enumerate(values):
        stripped = text.strip()
        try:
            number = float(stripped)
        except ValueError:
            what = "is empty (a missing value)" if not stripped else f"holds the text {stripped!r}, not a number"
            raise ValueError(f"path: {name}, line {lines[index]}, column {column!r} {what}; fix or remove that row, "
                             "or leave the column out of features") from None
        if not math.isfinite(number):
            raise ValueError(f"path: {name}, line {lines[index]}, column {column!r} holds {stripped!r} (NaN or "
                             "infinite); fix or remove that row, or leave the column out of features")
        numbers_[index] = number
    return numbers_


def _read_numeric_csv(text: str, target: str, features: tuple[str, ...] | None):
    """The quick reading of a file without a problem (pandas' C parser): ``(x, y, features, ignored)``
    where every column is numeric and every value used finite, there are enough rows and the target
    varies; None otherwise (the careful reading then finds and names the problem)."""
    import pandas as pd  # imported here: a config without a csv dataset needs no pandas

    try:
        header = next(csv.reader(io.StringIO(text, newline="")), None)
        frame = pd.read_csv(io.StringIO(text), engine="c")
    except (csv.Error, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if header is None or list(frame.columns) != [column.strip() for column in header] or target not in frame.columns:
        return None
    if len(frame) < MIN_CSV_ROWS or not all(pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool
                                            for c in frame.columns):
        return None
    chosen = tuple(c for c in frame.columns if c != target) if features is None else features
    if not chosen or not set(chosen) <= set(frame.columns) or target in chosen or len(set(chosen)) != len(chosen):
        return None
    y = frame[target].to_numpy(np.float64)[:, None]
    x = frame[list(chosen)].to_numpy(np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()) or y.min() == y.max():
        return None
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y, tuple(chosen), tuple(c for c in frame.columns if c != target and c not in chosen)


@functools.lru_cache(maxsize=16)
def _read_csv_cached(path: Path, name: str, stamp: tuple, target: str, features: tuple[str, ...] | None) -> CsvTable:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ValueError(f"path: {name}, line {line}: not UTF-8 text") from None
    fast = _read_numeric_csv(text, target, features)
    if fast is not None:
        x, y, chosen, ignored = fast
        return CsvTable(path, hashlib.sha256(raw).hexdigest(), len(raw), target, chosen, ignored, x, y)
    # the careful reading: every problem named by its line and column
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, lines = [], []
    try:
        header = next(reader, None)
        if header is None:
            raise ValueError(f"path: {name} is empty: it has no header line of column names")
        header = [column.strip() for column in header]
        for position, column in enumerate(header, start=1):
            if not column:
                raise ValueError(f"path: {name}, line 1: column {position} of the header has no name")
            if header.index(column) != position - 1:
                raise ValueError(f"path: {name}, line 1: the header names column {column!r} twice")
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) != len(header):
                raise ValueError(f"path: {name}, line {reader.line_num}: {len(row)} fields, but the header has "
                                 f"{len(header)} columns")
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as error:
        raise ValueError(f"path: {name}, line {reader.line_num}: not valid CSV ({error})") from None
    if target not in header:
        raise ValueError(f"target: {name} has no column {target!r}{_close_names(target, header)} "
                         f"(its columns: {', '.join(header)})")
    columns = dict(zip(header, zip(*rows))) if rows else {column: () for column in header}
    if features is None:
        chosen = tuple(c for c in header if c != target and _has_numbers(columns[c]))
        if not chosen:
            raise ValueError(f"features: {name} has no numeric column besides the target {target!r} "
                             f"(its columns: {', '.join(header)})")
    else:
        for column in features:
            if column not in header:
                raise ValueError(f"features: {name} has no column {column!r}{_close_names(column, header)} "
                                 f"(its columns: {', '.join(header)})")
            if column == target:
                raise ValueError(f"features: {column!r} is the target column; the features are the model's inputs")
            if features.count(column) > 1:
                raise ValueError(f"features: {column!r} is listed twice")
        chosen = tuple(features)
    if len(rows) < MIN_CSV_ROWS:
        raise ValueError(f"path: {name} has {len(rows)} data rows; a CSV file needs at least {MIN_CSV_ROWS} "
                         "(lossatlas.data.datasets.MIN_CSV_ROWS) for its training, validation and test splits")
    y = _column_numbers(name, target, columns[target], lines)[:, None]
    x = np.stack([_column_numbers(name, column, columns[column], lines) for column in chosen], axis=1)
    if y.min() == y.max():
        raise ValueError(f"target: column {target!r} of {name} is constant ({y[0, 0]:g} in every row): there is "
                         "nothing to learn")
    x.setflags(write=False)
    y.setflags(write=False)
    ignored = tuple(c for c in header if c != target and c not in chosen)
    return CsvTable(path, hashlib.sha256(raw).hexdigest(), len(raw), target, chosen, ignored, x, y)


def read_csv_table(path: str, target: str, features=None, base: str | os.PathLike | None = None) -> CsvTable:
    """Reads and checks a CSV file for the ``csv`` family (cached while the file is unchanged).

    The file is UTF-8 with a header line of column names; blank lines are skipped. ``target`` names
    the target column; ``features`` the input columns (by default every other column holding at
    least one number: a column of text only is left out). Every value of these columns must be a
    finite number. Raises ValueError whose message starts with the spec's field (``path``,
    ``target`` or ``features``) and names the file, and the column and line where one is at fault:
    a missing, too large or escaping file (:func:`resolve_csv_path`), a missing or misspelt column
    (with the close names), text, an empty value, NaN or infinity, fewer than :data:`MIN_CSV_ROWS`
    rows, or a constant target.
    """
    resolved = resolve_csv_path(path, base)
    status = resolved.stat()
    features = None if features is None else tuple(features)
    try:
        return _read_csv_cached(resolved, str(path), (status.st_size, status.st_mtime_ns, status.st_ino), target, features)
    except OSError as error:
        raise ValueError(f"path: {path} cannot be read ({error.strerror})") from None


def csv_default_sizes(rows: int) -> dict[str, int]:
    """The split sizes of a CSV file of ``rows`` rows when the config sets none: :data:`CSV_HOLDOUT_SHARE`
    each for validation and test (rounded, at least 1), the rest for training."""
    holdout = max(1, round(rows * CSV_HOLDOUT_SHARE))
    return {"train": rows - 2 * holdout, "test": holdout, "validation": holdout}


def _no_draw(rng: np.random.Generator, sizes: Mapping[str, int], params: Mapping[str, float]) -> Splits:
    raise ValueError("family csv draws from its spec's file: use generate(spec, ...)")


def _csv_draw(spec: DatasetSpec) -> Draw:
    """The draw function of a ``csv`` spec: :func:`row_split` of its file's rows, the targets min-max
    scaled to [0, 1] over all rows (as ``diabetes``), or as they are where ``scale_target`` is False."""

    def load() -> tuple[np.ndarray, np.ndarray]:
        table = spec.table()
        y = table.y
        if spec.scale_target:
            y = (y - y.min()) / (y.max() - y.min())
        return table.x, y

    return row_split(load)



CSV_FAMILY = Family(
    "csv",
    "the user's own table, read from a CSV file (the dataset's path): the target column t and the feature "
    "columns as they are, each replicate a random train/validation/test split of the rows, y = s * (t - min t) / "
    "(max t - min t) with the min and max over all rows, or y = t with scale: null; the noise sd is unknown",
    _no_draw,
    (0.0, 1.0),
    None,
    True,
    0,
    {"train": 0, "test": 0, "validation": 0},
    n_rows=0,
    from_file=True,
)
"""The ``csv`` family: a spec's ``path``, ``target`` and ``features`` name its file and columns; its
input count, rows and default sizes come from the file (:attr:`DatasetSpec.n_features`)."""

FILE_FAMILIES: dict[str, Family] = {CSV_FAMILY.name: CSV_FAMILY}
"""The families whose rows come from a file the spec names."""


class _Families(dict):
    """A dict of families whose lookup by name also finds the file families (:data:`FILE_FAMILIES`),
    which iteration and ``in`` leave out (they have no spec without a file)."""

    def __missing__(self, name: str) -> Family:
        return FILE_FAMILIES[name]


def family_named(name: str) -> Family | None:
    """The family called ``name`` (one of :data:`FAMILIES` or :data:`FILE_FAMILIES`), or None."""
    return FAMILIES.get(name) or FILE_FAMILIES.get(name)

FAMILIES: dict[str, Family] = _Families({
    family.name: family
    for family in (
        Family(
            "seed_large",
            "x ~ U(0, 10), y = 2x + 1 + N(0, 1) (the article's example 1)",
            iid(_seed_large),
            (-math.inf, math.inf),
            1.0,
            False,
            1,
            {"train": 100, "test": 1000, "validation": 100},
            linear=True,
        ),
        Family(
            "seed_small",
            "x ~ U(0, 1), y = clip(0.1x + 0.01 N(0, 1), 0, 1) (the article's examples 2 and 3)",
            iid(_seed_small),
            (0.0, 1.0),
            0.01,
            False,
            1,
            {"train": 100, "test": 1000, "validation": 100},
            linear=True,
        ),
        Family(
            "target_scale",
            "x ~ U(0, 1), y = s * clip(0.2 + 0.6x + 0.05 N(0, 1), 0, 1): only the target scale s varies",
            iid(_target_scale),
            (0.0, 1.0),
            0.05,
            True,
            1,
            {"train": 100, "test": 1000, "validation": 100},
            linear=True,
        ),
        Family(
            "friedman1",
            "Friedman #1 (scikit-learn's make_friedman1): x ~ U(0, 1)^10, of which 5 inputs are informative, "
            "f(x) = 10 sin(pi x1 x2) + 20 (x3 - 0.5)^2 + 10 x4 + 5 x5 in [0, 30], "
            "y = s * clip((f(x) + noise N(0, 1)) / 30, 0, 1) with noise = 1.0 by default (parameter noise), "
            "so the noise sd is noise / 30 * s (approximate near the bounds, where the clip cuts it)",
            iid(_friedman1),
            (0.0, 1.0),
            lambda params: params["noise"] / FRIEDMAN1_RANGE,
            True,
            10,
            {"train": 100, "test": 1000, "validation": 100},
            parameters={"noise": 1.0},
            param_bounds={"noise": (0.0, math.inf)},
        ),
        Family(
            "diabetes",
            "scikit-learn's diabetes data (442 patients, 10 raw features: age, sex, BMI, blood pressure and "
            "6 blood serum measurements; target: disease progression after one year), each replicate a random "
            "train/validation/test split of the patients, y = s * (t - min t) / (max t - min t) with the min "
            "and max over all 442 patients; the noise sd is unknown",
            row_split(_diabetes_table),
            (0.0, 1.0),
            None,
            True,
            10,
            {"train": 300, "test": 71, "validation": 71},
            n_rows=DIABETES_ROWS,
        ),
    )
})
"""The families a config names, by name. Iterating lists those that draw without a file (every one of
them has default sizes); ``FAMILIES[name]`` also answers for the file families of
:data:`FILE_FAMILIES`."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One dataset of the config: a family at a scale, with its sizes and parameters.

    A size left as ``None`` takes the family's default (filled in on construction when the family
    is known). ``params`` accepts a mapping or pairs and is kept as a tuple of ``(name, value)``
    pairs sorted by name, holding only the parameters given; :meth:`param` and :attr:`all_params`
    fill in the family's defaults. Construction does not validate: see :func:`check_spec`.

    A ``csv`` spec also names its file (``path``: relative to the working directory, or absolute),
    its ``target`` column and its ``features`` (None: every other numeric column); its default sizes
    come from the file's rows (:func:`csv_default_sizes`, filled in when the file can be read), and
    ``scale_target`` False keeps its targets as they are in the file (the config's ``scale: null``;
    ``scale`` is then 1) instead of min-max scaling them to ``[0, scale]``.
    """

    label: str
    family: str
    scale: float = 1.0
    n_train: int | None = None
    n_test: int | None = None
    n_validation: int | None = None
    params: tuple[tuple[str, float], ...] = ()
    path: str | None = None
    target: str | None = None
    features: tuple[str, ...] | None = None
    scale_target: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(sorted(dict(self.params).items(), key=lambda pair: str(pair[0]))))
        if self.features is not None and not isinstance(self.features, tuple):
            object.__setattr__(self, "features", tuple(self.features))
        family = family_named(self.family)
        defaults = family.default_sizes if family is not None else None
        if family is not None and family.from_file:
            try:
                defaults = csv_default_sizes(self.table().rows)
            except ValueError:  # check_spec reports it
                defaults = None
        if defaults is not None:
            for split, field in SIZE_FIELDS.items():
                if getattr(self, field) is None:
                    object.__setattr__(self, field, defaults[split])

    def table(self) -> CsvTable:
        """The checked table of a ``csv`` spec's file (:func:`read_csv_table`); ValueError if unusable."""
        if self.path is None:
            raise ValueError(f"path: family {self.family} needs path (the CSV file, relative to the working "
                             "directory or absolute)")
        if self.target is None:
            raise ValueError(f"target: family {self.family} needs target (the name of the target column)")
        return read_csv_table(self.path, self.target, self.features)

    @property
    def n_features(self) -> int:
        """The number of input features: the family's, or the file's feature columns for ``csv``."""
        family = FAMILIES[self.family]
        return len(self.table().features) if family.from_file else family.n_features

    def param(self, name: str) -> float:
        """The value of parameter ``name``: the spec's, else the family's default."""
        family = FAMILIES[self.family]
        if name not in family.parameters:
            raise ValueError(f"{name}: family {self.family} takes no parameter {name}")
        return dict(self.params).get(name, family.parameters[name])

    @property
    def all_params(self) -> dict[str, float]:
        """Every parameter of the family, name -> value, defaults filled in."""
        return {name: self.param(name) for name in FAMILIES[self.family].parameters}

    @property
    def sizes(self) -> dict[str, int]:
        """Split -> number of rows, in :data:`SPLITS` order."""
        return {split: getattr(self, field) for split, field in SIZE_FIELDS.items()}

    @property
    def target_range(self) -> tuple[float, float]:
        """The range the targets lie in: the family's bounds times the scale; for a ``csv`` spec whose
        targets are kept as they are, the least and the largest target of the file."""
        if FAMILIES[self.family].from_file and not self.scale_target:
            y = self.table().y
            return (float(y.min()), float(y.max()))
        low, high = FAMILIES[self.family].target_bounds
        return (low * self.scale, high * self.scale)

    @property
    def noise_sd(self) -> float | None:
        """The noise standard deviation in target units, or ``None`` when unknown (real data)."""
        sd = FAMILIES[self.family].noise_sd_at(self.all_params)
        return None if sd is None else sd * self.scale


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_spec(spec: DatasetSpec) -> None:
    """Raises ValueError if ``spec`` is not a valid dataset; the message starts with the field.

    The field is ``family``, ``scale``, a size field (``n_train``, ``n_test``, ``n_validation``) or
    the name of a parameter, e.g. ``"noise: family diabetes takes no parameter noise"``.
    """
    family = family_named(spec.family)
    if family is None:
        known = sorted([*FAMILIES, *FILE_FAMILIES])
        raise ValueError(f"family: unknown dataset family {spec.family!r} (choose from {', '.join(known)})")
    if not family.from_file:
        for field in ("path", "target", "features"):
            if getattr(spec, field) is not None:
                raise ValueError(f"{field}: family {family.name} reads no file (only {', '.join(FILE_FAMILIES)} does)")
        if not spec.scale_target:
            raise ValueError(f"scale: family {family.name} has no targets to keep as they are (scale: null is for "
                             f"{', '.join(FILE_FAMILIES)} only)")
    if not _is_number(spec.scale) or spec.scale <= 0:
        raise ValueError(f"scale: must be a finite number > 0, not {spec.scale!r}")
    if not spec.scale_target and spec.scale != 1:
        raise ValueError(f"scale: targets kept as they are have scale 1, not {spec.scale!r}")
    if spec.scale != 1 and not family.scalable:
        raise ValueError(f"scale: family {family.name} has a fixed scale of 1")
    for name, value in spec.params:
        if name not in family.parameters:
            accepted = ", ".join(sorted(family.parameters)) or "none"
            raise ValueError(f"{name}: family {family.name} takes no parameter {name} (it takes: {accepted})")
        if not _is_number(value):
            raise ValueError(f"{name}: must be a finite number, not {value!r}")
        low, high = family.param_bounds.get(name, (-math.inf, math.inf))
        if not low <= value <= high:
            raise ValueError(f"{name}: must be in [{low}, {high}] for family {family.name}, not {value!r}")
    if family.from_file:
        spec.table()  # the file's own problems first (its sizes come from it)
    for field in SIZE_FIELDS.values():
        value = getattr(spec, field)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{field}: must be a positive integer, not {value!r}")
    if family.from_file:
        table = spec.table()
        if sum(spec.sizes.values()) > table.rows:
            raise ValueError(
                f"path: {spec.path} has {table.rows} data rows, fewer than the splits need: n_train + n_validation "
                f"+ n_test = {spec.n_train} + {spec.n_validation} + {spec.n_test} = {sum(spec.sizes.values())}"
            )
    elif family.n_rows is not None and sum(spec.sizes.values()) > family.n_rows:
        raise ValueError(
            f"n_train: n_train + n_validation + n_test = {sum(spec.sizes.values())} exceeds the "
            f"{family.n_rows} rows of family {family.name}"
        )


def ols_reference(data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The RMSE of ordinary least squares on the validation and test splits, per replicate.

    For each replicate, a linear model with an intercept is fitted to the training split in
    float64 (``numpy.linalg.lstsq``; the minimum-norm solution when the training split has fewer
    rows than ``d + 1``) and scored on the other splits. The fit is invariant to affine rescaling
    of the inputs (when the training design has full column rank), so the RMSE is the same whether
    or not the inputs were standardized; it is in target units, so it scales with the target scale.

    Args:
        data: the arrays of :func:`generate` (at least ``x_*`` ``(S, n, d)`` and ``y_*``
            ``(S, n, 1)`` of the training, validation and test splits).

    Returns:
        ``{"ols_rmse_validation": (S,), "ols_rmse_test": (S,)}``, float64.
    """
    for split in ("train", "validation", "test"):
        x, y = data.get(f"x_{split}"), data.get(f"y_{split}")
        if x is None or y is None:
            raise ValueError(f"ols_reference: data has no x_{split} or y_{split}")
        if x.ndim != 3 or y.ndim != 3 or y.shape[2] != 1 or x.shape[:2] != y.shape[:2]:
            raise ValueError(
                f"ols_reference: x_{split} {x.shape} and y_{split} {y.shape} are not (S, n, d) and (S, n, 1)"
            )
    n_seeds = data["x_train"].shape[0]

    def design(x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.ones((x.shape[0], 1)), np.asarray(x, dtype=np.float64)], axis=1)

    rmse = {split: np.empty(n_seeds, dtype=np.float64) for split in ("validation", "test")}
    for replicate in range(n_seeds):
        coef, *_ = np.linalg.lstsq(
            design(data["x_train"][replicate]), np.asarray(data["y_train"][replicate], dtype=np.float64), rcond=None
        )
        for split, values in rmse.items():
            error = design(data[f"x_{split}"][replicate]) @ coef - np.asarray(data[f"y_{split}"][replicate], np.float64)
            values[replicate] = math.sqrt(float(np.mean(error**2)))
    return {f"ols_rmse_{split}": values for split, values in rmse.items()}


def standardize_inputs(data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Returns a copy of ``data`` with every split's inputs standardized by the training split.

    Each replicate's inputs ``x_*`` ``(S, n, d)`` become ``(x - mean) / sd`` with the per-feature
    mean and (population) standard deviation of that replicate's ``x_train``, so nothing is learnt
    from the validation or test split; a feature with zero spread in the training split is only
    centred. The result keeps each array's dtype; every other array is copied unchanged.
    """
    if "x_train" not in data:
        raise ValueError("standardize_inputs: data has no x_train")
    train = np.asarray(data["x_train"], dtype=np.float64)
    if train.ndim != 3:
        raise ValueError(f"standardize_inputs: x_train has shape {train.shape}, not (S, n, d)")
    mean = train.mean(axis=1, keepdims=True)
    sd = train.std(axis=1, keepdims=True)
    sd = np.where(sd > 0, sd, 1.0)
    result = {}
    for name, array in data.items():
        if name.startswith("x_"):
            if array.ndim != 3 or array.shape[0] != train.shape[0] or array.shape[2] != train.shape[2]:
                raise ValueError(f"standardize_inputs: {name} has shape {array.shape}, x_train {train.shape}")
            result[name] = ((np.asarray(array, dtype=np.float64) - mean) / sd).astype(array.dtype)
        else:
            result[name] = np.array(array, copy=True)
    return result


def generate(spec: DatasetSpec, base_seed: int, n_seeds: int) -> dict[str, np.ndarray]:
    """Draws ``n_seeds`` replicates of ``spec``; returns the arrays of the module doc.

    Keys, in order: ``x_train``, ``y_train``, ``x_test``, ``y_test``, ``x_validation``,
    ``y_validation`` (float32), ``ols_rmse_validation``, ``ols_rmse_test`` (float64, ``(S,)``).
    Raises ValueError if ``spec`` fails :func:`check_spec` or ``n_seeds`` < 1.
    """
    check_spec(spec)
    if not isinstance(n_seeds, numbers.Integral) or isinstance(n_seeds, bool) or n_seeds < 1:
        raise ValueError(f"n_seeds: must be a positive integer, not {n_seeds!r}")
    family = FAMILIES[spec.family]
    sizes, params, n_features = spec.sizes, spec.all_params, spec.n_features
    draw = _csv_draw(spec) if family.from_file else family.draw
    names = [f"{axis}_{split}" for split in ("train", "test", "validation") for axis in ("x", "y")]
    arrays: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for replicate in range(n_seeds):
        # The key leaves out n_validation and the parameters: they change no training or test row.
        seed = derive_seed(base_seed, "data", spec.family, spec.n_train, spec.n_test, replicate)
        splits = draw(np.random.default_rng(seed), sizes, params)
        for split, n in sizes.items():
            x, y = splits[split]
            if x.shape != (n, n_features) or y.shape != (n, 1):
                raise ValueError(
                    f"family {family.name} drew {split} arrays of shapes {x.shape} and {y.shape}, "
                    f"expected ({n}, {n_features}) and ({n}, 1)"
                )
            arrays[f"x_{split}"].append(x.astype(np.float32))
            arrays[f"y_{split}"].append((y * spec.scale).astype(np.float32))
    stacked = {name: np.stack(values) for name, values in arrays.items()}
    return {**stacked, **ols_reference(stacked)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_dataset(spec: DatasetSpec, base_seed: int, n_seeds: int, data_path: Path, manifest_path: Path) -> None:
    """Generates ``spec`` and writes it as a byte-reproducible ``.npz`` plus a JSON manifest.

    The archive holds every array of :func:`generate`, its entries carry a fixed timestamp, so the
    same spec and seeds always give the same bytes and the same SHA-256. The manifest records the
    spec (sizes and parameters with the family's defaults filled in), the file's SHA-256, and the
    shape, dtype and SHA-256 of each array. Both files are written atomically.
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
        "n_validation": spec.n_validation,
        "params": spec.all_params,
        "n_features": spec.n_features,
        "n_seeds": n_seeds,
        "base_seed": base_seed,
        "noise_sd": spec.noise_sd,
        "file": Path(data_path).name,
        "sha256": _sha256(Path(data_path).read_bytes()),
        "arrays": {
            name: {"shape": list(arrays[name].shape), "dtype": arrays[name].dtype.name, "sha256": digest}
            for name, digest in array_hashes.items()
        },
    }
    if FAMILIES[spec.family].from_file:
        table = spec.table()
        manifest["source"] = {
            "path": spec.path,
            "sha256": table.sha256,
            "size_bytes": table.size_bytes,
            "rows": table.rows,
            "target": table.target,
            "features": list(table.features),
            "ignored_columns": list(table.ignored),
            "target_min": float(table.y.min()),
            "target_max": float(table.y.max()),
            "target_scaled": spec.scale_target,
        }
    write_json(manifest_path, manifest)


def load_dataset(data_path: Path, manifest_path: Path | None = None) -> dict[str, np.ndarray]:
    """Reads a dataset written by :func:`write_dataset`, checking its SHA-256 against the manifest.

    Returns every array of the file (see :func:`generate`), keyed by name.
    """
    data_path = Path(data_path)
    if manifest_path is not None:
        manifest = json.loads(Path(manifest_path).read_text())
        actual = _sha256(data_path.read_bytes())
        if actual != manifest["sha256"]:
            raise ValueError(f"{data_path}: SHA-256 {actual} does not match its manifest {manifest_path}")
    with np.load(data_path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def load_or_rebuild(spec: DatasetSpec, base_seed: int, n_seeds: int, data_path: Path, manifest_path: Path) -> dict[str, np.ndarray]:
    """:func:`load_dataset`, and when the data file is missing, unreadable or fails its manifest's
    SHA-256 (a truncated copy, a disk error), rebuilt from its generator: the rebuilt bytes are
    checked against the manifest and, when they match, written back atomically. Raises ValueError
    only when the rebuild differs from the manifest (the generator or its inputs changed)."""
    import os
    import sys
    import tempfile

    try:
        return load_dataset(data_path, manifest_path)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        expected = json.loads(Path(manifest_path).read_text())["sha256"]
        print(f"{data_path}: {error}; rebuilding it from its generator", file=sys.stderr)
        with tempfile.TemporaryDirectory(dir=Path(data_path).parent) as scratch:
            rebuilt, manifest = Path(scratch) / Path(data_path).name, Path(scratch) / "manifest.json"
            write_dataset(spec, base_seed, n_seeds, rebuilt, manifest)
            actual = _sha256(rebuilt.read_bytes())
            if actual != expected:
                raise ValueError(f"{data_path}: the rebuilt dataset's SHA-256 {actual} differs from its manifest's "
                                 f"{expected}; rebuild it with the workflow (snakemake --forcerun dataset)") from error
            os.replace(rebuilt, data_path)
        return load_dataset(data_path, manifest_path)
