"""How the report and the figures write numbers and words: one format for both.

Every number the report shows, in a table, a caption or a figure's label, goes through
:func:`format_number`; a confidence interval reads ``"mean [low, high]"`` (:func:`format_interval`).
Only the standard library is imported here.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

#: Short names of the losses, for the compact tables.
LOSS_NAMES = {"mse": "MSE", "mae": "MAE", "huber": "Huber", "log_cosh": "log-cosh", "binary_crossentropy": "BCE"}


def format_number(value) -> str:
    """The report's one number format: 4 significant digits (``"1.235e+04"`` beyond that), ``"n/a"`` for NaN.

    Integers are written as they are; ``None`` counts as NaN. Raises ValueError for anything not a number.
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"format_number needs a real number, got {value!r} ({type(value).__name__})")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return "n/a"
    return f"{value:.4g}"


def significant(value, digits: int = 2) -> str:
    """``value`` rounded to ``digits`` significant digits as an author writes it: no exponent,
    thousands separated (``142.5`` -> ``"140"``, ``1.234`` -> ``"1.2"``, ``12345`` -> ``"12,000"``);
    ``"n/a"`` for NaN or None, ``"∞"`` never: an infinite value is ``"n/a"`` too."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    value = float(value)
    if value == 0:
        return "0"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    rounded = round(value, decimals)
    return f"{rounded:,.{max(decimals, 0)}f}"


def format_steps(value) -> str:
    """A number of steps: an integer with thousands separators (``"102,400"``)."""
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{int(round(float(value))):,}"


def format_range(values, digits: int = 2) -> str:
    """The range of the finite ``values`` by :func:`significant`: ``"1.2–2"``, one value alone, ``"n/a"`` for none."""
    finite = sorted(float(v) for v in values if v is not None and math.isfinite(float(v)))
    if not finite:
        return "n/a"
    low, high = significant(finite[0], digits), significant(finite[-1], digits)
    return low if low == high else f"{low}–{high}"


def format_bounds(low, high) -> str:
    """``"[low, high]"`` with both ends formatted by :func:`format_number`."""
    return f"[{format_number(low)}, {format_number(high)}]"


def format_interval(mean, low, high) -> str:
    """``"mean [low, high]"``: a mean and its confidence interval, each by :func:`format_number`."""
    return f"{format_number(mean)} {format_bounds(low, high)}"


def format_count(value) -> str:
    """A count read from a CSV (possibly as a float): as an integer by :func:`format_number`."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and float(value).is_integer():
        return format_number(int(value))
    return format_number(value)


def format_known(value, unknown: str = "unknown") -> str:
    """:func:`format_number`, but ``unknown`` for ``None`` (a quantity that is not known, such as the
    noise sd of real data, rather than one that is not a number)."""
    return unknown if value is None else format_number(value)


def format_counts(values) -> str:
    """Distinct counts, ascending, joined by commas (``"4, 6"``); ``"n/a"`` when there are none."""
    return ", ".join(format_count(n) for n in sorted(set(values))) or "n/a"


def rate_text(rate, count, total) -> str:
    """``"rate (count/total)"``."""
    return f"{format_number(rate)} ({format_count(count)}/{format_count(total)})"


def join_words(words: Sequence[str]) -> str:
    """``"a, b and c"``."""
    words = list(words)
    if not words:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def heading(name: str) -> str:
    """A column heading from a field name: ``"batch_size"`` -> ``"Batch size"``."""
    return name.replace("_", " ").capitalize()


def flag_text(value) -> str:
    """A reach flag of the cells table as text; empty when there is none (CSV reads it as NaN)."""
    return value.strip() if isinstance(value, str) else ""


def loss_name(loss: str) -> str:
    """The short name of a loss (:data:`LOSS_NAMES`), or the label itself."""
    return LOSS_NAMES.get(loss, loss)
