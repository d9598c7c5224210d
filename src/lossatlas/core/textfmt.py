"""How the report and the figures write numbers and words: one rule for both.

Every number the report shows, in a table, a caption, running text or a figure's label, goes
through :func:`format_number`, told what *kind* of quantity it writes (:data:`KINDS`):

=================== ========================================================= ======================
kind                what                                                      written
=================== ========================================================= ======================
``"ratio"``         ratios and effects: "times lower", "times sooner", slopes 2 significant digits
``"error"``         errors and losses: RMSE, nRMSE, rRMSE, MAE, training loss 3 significant digits
``"rate"``          rates: divergence, stagnation, reach; a learning rate     3 significant digits
``"measurement"``   any other measured or configured value                    3 significant digits
``"count"``         a count (seeds, cells, rows)                              exact: ``"1,024"``
``"steps"``         optimizer steps                                           exact: ``"102,400"``
=================== ========================================================= ======================

Without a kind (``kind=None``, the default) an integer, or a float with an integer value, is
written exactly as a count, and any other number as a measurement (3 significant digits): what a
caller that does not say gets is still the rule.

The style, everywhere:

* Thousands are separated by commas, never by an exponent: ``12345.6`` -> ``"12,300"``,
  ``102400`` -> ``"102,400"``.
* A number standing alone drops trailing zeros (``1.0`` -> ``"1"``, ``0.50`` -> ``"0.5"``); a
  confidence interval keeps them, so that its three numbers align (below).
* A rounded number below 0.001 in size, or of a billion or more, is written as a power of ten with
  a multiplication sign and superscript digits: ``1.234e-5`` -> ``"1.23×10⁻⁵"``,
  ``2.5e9`` -> ``"2.5×10⁹"`` (never ``"0.0000123"`` nor ``"1.23e-05"``); counts and steps are
  always exact.
* A negative number has an ASCII minus (``"-0.5"``), as the table explorer parses it.
* NaN (and ``None``) is ``"n/a"``, or the ``missing`` text a caller passes (``"—"`` for a
  table cell that is simply empty). Never ``"nan"``.
* An infinite number is never ``"inf"``: for steps it is ``"not reached"`` (with the cap, ``"not
  reached by 102,400 steps"``), for any other kind ``"∞"`` (``"-∞"``); a caller that knows what the
  infinity means passes its own words as ``infinite`` (``"only the remedy reaches it"``).
* A confidence interval (:func:`format_interval`) reads ``"estimate [low, high]"``: the estimate
  to its kind's significant digits, and the bounds to the same decimals as the estimate
  (``"0.957 [0.888, 0.977]"``, ``"140 [97, 200]"``). Where the interval contains zero, so that the
  estimate may be close to zero next to it (as a slope of 0.0004 in [-0.05, 0.05]), the decimals
  are at most those that give the interval's width its significant digits (``"0.00 [-0.05, 0.05]"``);
  and where the interval is narrower than the estimate's last digit, the three get as many decimals
  as give its width one significant digit, so that it does not collapse to one number
  (``101.2 [100.7, 101.5]``, not ``"101 [101, 101]"``).
* Rounding is half away from zero, as an author rounds (``8.5`` -> ``"9"``).

The data tables (``results/aggregate/``, ``results/analysis/``) keep full precision: they do not
pass through here. The citable tables next to the report (``results/report/tables/T*.csv``, ``.tex``,
``.md``) are the texts the report shows, so they follow this rule. Only the standard library is
imported here.
"""

from __future__ import annotations

import decimal
import math
import numbers
from typing import Sequence

#: Short names of the losses, for the compact tables.
LOSS_NAMES = {"mse": "MSE", "mae": "MAE", "huber": "Huber", "log_cosh": "log-cosh", "binary_crossentropy": "BCE"}

#: Significant digits of each rounded kind.
SIGNIFICANT = {"ratio": 2, "error": 3, "rate": 3, "measurement": 3}
#: Kinds written exactly, as integers with thousands separators.
EXACT = ("count", "steps")
#: Every kind :func:`format_number` knows.
KINDS = (*SIGNIFICANT, *EXACT)
#: A rounded number smaller than this in size (but not 0), or at least :data:`SCIENTIFIC_FROM`, is
#: written as a power of ten (``"1.23×10⁻⁵"``).
SCIENTIFIC_BELOW = 1e-3
SCIENTIFIC_FROM = 1e9
#: What a NaN (or None) reads by default.
MISSING = "n/a"
#: What an infinite value of a kind other than steps reads by default (``"-∞"`` below zero).
INFINITE = "∞"
#: What an infinite number of steps reads by default.
NOT_REACHED = "not reached"
#: An integer-valued float up to this size is written exactly where no kind is given.
EXACT_LIMIT = 1e15

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_PLAIN = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


def superscript(text: str) -> str:
    """``text`` with its digits and minus signs as superscripts (``"-3"`` -> ``"⁻³"``), as a power of
    ten is written (``"1.23×10⁻⁵"``)."""
    return text.translate(_SUPERSCRIPT)


# --------------------------------------------------------------------------------------------
# The pieces
# --------------------------------------------------------------------------------------------


def _real(value, name: str = "format_number") -> float:
    """``value`` as a float (NaN for None); ValueError for anything that is not a real number."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} needs a real number, got {value!r} ({type(value).__name__})")
    return float(value)


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind of number {kind!r}; known: {', '.join(KINDS)}")


def _exponent(value: float) -> int:
    """The power of ten of a nonzero finite ``value``: ``floor(log10(|value|))``, exactly (on its shortest repr)."""
    return decimal.Decimal(repr(float(value))).adjusted()


_DECIMAL = decimal.Context(prec=400, rounding=decimal.ROUND_HALF_UP)


def _round(value: float, decimals: int) -> float:
    """A finite ``value`` rounded to ``decimals`` decimals (negative: to tens, hundreds, ...), half
    away from zero as an author rounds (``8.5`` -> ``9``, not Python's ``8``), on its shortest repr."""
    return float(decimal.Decimal(repr(float(value))).quantize(decimal.Decimal(1).scaleb(-decimals), context=_DECIMAL))


def _rounded(value: float, digits: int) -> tuple[float, int]:
    """A nonzero finite ``value`` rounded to ``digits`` significant digits and the decimals that
    takes (negative: tens, hundreds, ...); a rounding that carries (``9.996`` -> ``10.0``) counts
    the digits of the rounded value."""
    decimals = digits - 1 - _exponent(value)
    rounded = _round(value, decimals)
    if rounded != 0 and digits - 1 - _exponent(rounded) != decimals:
        decimals = digits - 1 - _exponent(rounded)
        rounded = _round(value, decimals)
    return rounded, decimals


def _strip(text: str) -> str:
    """``text`` without trailing zeros after its decimal point (and without the point left alone)."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def _fixed(value: float, decimals: int) -> str:
    """A finite ``value`` to ``max(decimals, 0)`` decimals, thousands separated, never ``"-0"``."""
    places = max(decimals, 0)
    return f"{_round(value, places) + 0.0:,.{places}f}"


def _is_scientific(rounded: float) -> bool:
    return rounded != 0 and not SCIENTIFIC_BELOW <= abs(rounded) < SCIENTIFIC_FROM


def _power(value: float, exponent: int, places: int, strip: bool) -> str:
    """``value`` as ``mantissa×10ⁿ`` with ``exponent`` n and ``places`` decimals of the mantissa."""
    mantissa = _fixed(float(decimal.Decimal(repr(float(value))).scaleb(-exponent)), places)
    return f"{_strip(mantissa) if strip else mantissa}×10{superscript(str(exponent))}"


def _significant(value: float, digits: int, strip: bool) -> str:
    """A finite ``value`` to ``digits`` significant digits, by the module's style."""
    if value == 0:
        return "0" if strip else f"{0:.{digits - 1}f}"
    rounded, decimals = _rounded(value, digits)
    if _is_scientific(rounded):
        return _power(rounded, _exponent(rounded), digits - 1, strip)
    text = _fixed(rounded, decimals)
    return _strip(text) if strip else text


def _infinite(value: float, kind: str | None, infinite: str | None, cap) -> str:
    if infinite is not None:
        return infinite
    if kind == "steps":
        return not_reached(cap)
    return INFINITE if value > 0 else f"-{INFINITE}"


def not_reached(cap=None) -> str:
    """What an infinite number of steps reads: ``"not reached"``, or with the horizon's cap ``"not
    reached by 102,400 steps"``."""
    if cap is None:
        return NOT_REACHED
    return f"{NOT_REACHED} by {format_number(cap, 'steps')} steps"


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def format_number(value, kind: str | None = None, *, digits: int | None = None, missing: str = MISSING,
                  infinite: str | None = None, cap=None) -> str:
    """The report's one number format (see the module doc for the rule).

    Args:
        value: a real number (Python or NumPy); ``None`` counts as NaN.
        kind: what it is, one of :data:`KINDS` (``None``: an integer value exactly, else 3
            significant digits).
        digits: significant digits, instead of the kind's.
        missing: the text for NaN or None.
        infinite: the text for an infinite value (either sign), instead of the kind's default
            (``"not reached"`` for steps, else ``"∞"``/``"-∞"``).
        cap: for steps, the horizon's cap, named where the value is infinite
            (``"not reached by 102,400 steps"``).
    Raises:
        ValueError: ``value`` is not a real number, or ``kind`` is unknown.
    """
    _check_kind(kind)
    number = _real(value)
    if math.isnan(number):
        return missing
    if math.isinf(number):
        return _infinite(number, kind, infinite, cap)
    if digits is None:
        whole = isinstance(value, numbers.Integral) or (number.is_integer() and abs(number) < EXACT_LIMIT)
        if kind == "steps" or (whole and kind in (None, "count")):
            return f"{int(_round(number, 0)):,}"
        digits = SIGNIFICANT.get(kind, SIGNIFICANT["measurement"])
    return _significant(number, digits, strip=True)


def format_ratio(value, **options) -> str:
    """A ratio or effect (``"times lower"``, ``"times sooner"``, a slope): 2 significant digits."""
    return format_number(value, "ratio", **options)


def format_error(value, **options) -> str:
    """An error or loss (RMSE, nRMSE, rRMSE, MAE, a training loss): 3 significant digits."""
    return format_number(value, "error", **options)


def format_rate(value, **options) -> str:
    """A rate (divergence, stagnation, reach; a learning rate): 3 significant digits."""
    return format_number(value, "rate", **options)


def format_count(value, **options) -> str:
    """A count, possibly read from a CSV as a float: exact, thousands separated (``30.0`` -> ``"30"``)."""
    return format_number(value, "count", **options)


def format_steps(value, cap=None, **options) -> str:
    """A number of steps: an integer with thousands separators (``"102,400"``); ``"not reached"``
    (``"not reached by <cap> steps"``) where it is infinite, ``"n/a"`` for NaN."""
    return format_number(value, "steps", cap=cap, **options)


def significant(value, digits: int = 2) -> str:
    """``value`` rounded to ``digits`` significant digits as an author writes it, keeping the
    trailing zeros that are significant (``142.5`` -> ``"140"``, ``1.234`` -> ``"1.2"``, ``1`` ->
    ``"1.0"``, ``12345`` -> ``"12,000"``, ``1.234e-5`` -> ``"1.2×10⁻⁵"``); ``"n/a"`` for NaN,
    None or an infinite value."""
    number = _real(value, "significant")
    if not math.isfinite(number):
        return MISSING
    return _significant(number, digits, strip=False)


def format_range(values, digits: int = 2) -> str:
    """The range of the finite ``values`` by :func:`significant`: ``"1.2–2.0"``, one value alone, ``"n/a"`` for none."""
    finite = sorted(float(v) for v in values if v is not None and math.isfinite(float(v)))
    if not finite:
        return MISSING
    low, high = significant(finite[0], digits), significant(finite[-1], digits)
    return low if low == high else f"{low}–{high}"


# --------------------------------------------------------------------------------------------
# Confidence intervals
# --------------------------------------------------------------------------------------------


def interval_parts(estimate, low, high, kind: str | None = None, *, digits: int | None = None,
                   missing: str = MISSING, infinite: str = INFINITE) -> tuple[str, str]:
    """An estimate and its confidence interval as two texts, ``("0.957", "[0.888, 0.977]")``
    (:func:`format_interval` joins them with a space).

    The estimate gets its kind's significant digits (``kind=None``: 3, a measurement) and keeps
    its trailing zeros; the bounds get the same decimals (``"1.00 [0.50, 2.25]"``, ``"140 [97,
    200]"``); where the interval contains zero, no more than those that give the interval's width
    its significant digits (an estimate near zero: ``"0.00 [-0.05, 0.05]"``); and at least those that
    give the width one significant digit (``"101.2 [100.7, 101.5]"``, not ``"101 [101, 101]"``). A
    tiny or huge estimate is written as a power of ten and the bounds with its exponent
    (``"1.23×10⁻⁵ [1.10×10⁻⁵, 1.40×10⁻⁵]"``). Counts and steps, and the bounds of an estimate that is
    not finite, are each written by :func:`format_number`.
    A NaN reads ``missing``, an infinite bound ``infinite`` (``"∞"``, ``"-∞"`` below zero).
    """
    _check_kind(kind)
    kind = "measurement" if kind is None else kind
    est, lo, hi = _real(estimate), _real(low), _real(high)

    def end(value: float, written) -> str:
        if math.isnan(value):
            return missing
        if math.isinf(value):
            return f"-{infinite}" if value < 0 and infinite == INFINITE else infinite
        return written(value)

    def alone(value: float) -> str:
        return format_number(value, kind, digits=digits)

    if kind in EXACT or not math.isfinite(est):
        main = format_number(est, kind, digits=digits, missing=missing, infinite=None if kind == "steps" else infinite)
        return main, f"[{end(lo, alone)}, {end(hi, alone)}]"
    places = digits or SIGNIFICANT[kind]
    candidates = []
    if est != 0:
        candidates.append(_rounded(est, places)[1])
    if math.isfinite(lo) and math.isfinite(hi) and lo <= 0 <= hi and hi != lo:  # an estimate that may be near 0
        candidates.append(_rounded(hi - lo, places)[1])
    if not candidates:  # an estimate of 0 with no interval to measure
        return "0", f"[{end(lo, alone)}, {end(hi, alone)}]"
    decimals = min(candidates)
    if math.isfinite(lo) and math.isfinite(hi) and hi > lo:  # never so few that the interval collapses
        decimals = max(decimals, _rounded(hi - lo, 1)[1])
    rounded = _round(est, decimals)
    if _is_scientific(rounded):
        exponent = _exponent(rounded)

        def written(value: float) -> str:
            return _power(value, exponent, max(decimals + exponent, 0), strip=False)

        return written(rounded), f"[{end(lo, written)}, {end(hi, written)}]"

    def fixed(value: float) -> str:
        return _fixed(value, decimals)

    return _fixed(rounded, decimals), f"[{end(lo, fixed)}, {end(hi, fixed)}]"


def format_interval(estimate, low, high, kind: str | None = None, **options) -> str:
    """``"estimate [low, high]"``: an estimate and its confidence interval by :func:`interval_parts`
    (``"0.957 [0.888, 0.977]"``; ratios: ``format_interval(142.5, 97.1, 199.6, "ratio")`` ->
    ``"140 [97, 200]"``)."""
    main, bounds = interval_parts(estimate, low, high, kind, **options)
    return f"{main} {bounds}"


def format_bounds(low, high, kind: str | None = None, *, estimate=None, **options) -> str:
    """``"[low, high]"``: with ``estimate``, the interval of :func:`interval_parts` (the estimate's
    decimals); without, each end by :func:`format_number` of ``kind`` (an infinite end ``"∞"``)."""
    if estimate is not None:
        return interval_parts(estimate, low, high, kind, **options)[1]
    options.setdefault("infinite", None)
    ends = []
    for end in (low, high):
        number = _real(end, "format_bounds")
        if math.isinf(number) and options["infinite"] is None:
            ends.append(INFINITE if number > 0 else f"-{INFINITE}")
        else:
            ends.append(format_number(number, kind, **options))
    return f"[{ends[0]}, {ends[1]}]"


def parse_number(text: str) -> float:
    """The number a text of this module stands for, for sorting: ``"12,300"`` -> 12300,
    ``"1.23×10⁻⁵"`` -> 1.23e-05, ``"∞"`` and ``"not reached…"`` -> inf; NaN for ``"n/a"``, ``"—"``
    or any other text. The first number of an interval is its estimate (``"0.957 [0.888, 0.977]"``)."""
    head = str(text).strip().split(" [")[0].strip()
    if head.startswith(NOT_REACHED):
        return math.inf
    if head in (INFINITE, f"-{INFINITE}"):
        return math.inf if head == INFINITE else -math.inf
    mantissa, _, power = head.replace(",", "").partition("×10")
    try:
        return float(mantissa) * 10.0 ** int(power.translate(_PLAIN)) if power else float(mantissa)
    except ValueError:
        return math.nan


# --------------------------------------------------------------------------------------------
# Counts and words
# --------------------------------------------------------------------------------------------


def format_known(value, unknown: str = "unknown", kind: str | None = None) -> str:
    """:func:`format_number`, but ``unknown`` for ``None`` (a quantity that is not known, such as the
    noise sd of real data, rather than one that is not a number)."""
    return unknown if value is None else format_number(value, kind)


def format_counts(values) -> str:
    """Distinct counts, ascending, joined by commas (``"4, 6"``); ``"n/a"`` when there are none."""
    return ", ".join(format_count(n) for n in sorted(set(values))) or MISSING


def rate_text(rate, count, total) -> str:
    """``"rate (count/total)"``: ``"0.25 (1/4)"``."""
    return f"{format_rate(rate)} ({format_count(count)}/{format_count(total)})"


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
