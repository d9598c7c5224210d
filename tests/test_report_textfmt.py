"""The report's number format (lossatlas.core.textfmt) on plain values: one rule per kind of number,
hand-computed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lossatlas import report
from lossatlas.core import textfmt

NAN, INF = float("nan"), float("inf")

# --- one number ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (7.608882308006287, "7.61"),  # 3 significant digits, trailing zeros dropped
        (0.32440744, "0.324"),
        (96.6629387, "96.7"),
        (12345.6, "12,300"),  # thousands separated, never "1.235e+04"
        (-0.5, "-0.5"),
        (1.0, "1"),
        (0.0, "0"),
        (-0.0, "0"),
        (float("nan"), "n/a"),
        (None, "n/a"),
        (np.float32(0.25), "0.25"),
        (np.int64(20), "20"),
        (3, "3"),
        (102400, "102,400"),  # an integer: exact, as a count
        (102400.0, "102,400"),  # an integer value read from a CSV, too
        (0.001, "0.001"),
        (0.0009996, "0.001"),  # rounds up to 0.001: no power of ten
        (0.00099949, "9.99×10⁻⁴"),  # below 0.001: a power of ten, never "0.000999"
        (1.234e-5, "1.23×10⁻⁵"),
        (1e-5, "1×10⁻⁵"),
        (-2.5e-7, "-2.5×10⁻⁷"),
        (2.5e9 + 0.5, "2.5×10⁹"),  # a billion or more, not integer: a power of ten
        (0.125, "0.125"),
        (9.9996, "10"),  # the carry counts the rounded value's digits
        (2.5, "2.5"),
    ],
)
def test_format_number_measures_with_3_significant_digits(value, text):
    assert textfmt.format_number(value) == text
    assert report.format_number is textfmt.format_number  # the one format, also where the report is imported


@pytest.mark.parametrize(
    "value, kind, text",
    [
        # ratios and effects: 2 significant digits
        (3.521251674387456, "ratio", "3.5"),
        (17.0, "ratio", "17"),
        (142.5, "ratio", "140"),
        (12345.6, "ratio", "12,000"),
        (0.0456, "ratio", "0.046"),
        (0.125, "ratio", "0.13"),  # half away from zero, as an author rounds
        (8.5, "ratio", "8.5"),
        (1.0037, "ratio", "1"),
        # errors: 3 significant digits
        (0.9567, "error", "0.957"),
        (1044.2, "error", "1,040"),
        (101.234568, "error", "101"),
        (0.01234, "error", "0.0123"),
        (12345.0, "error", "12,300"),  # an error is rounded even where its value is a whole number
        (2.5e-5, "error", "2.5×10⁻⁵"),
        # rates: 3 significant digits
        (0.16666, "rate", "0.167"),
        (0.25, "rate", "0.25"),
        (0.0001, "rate", "1×10⁻⁴"),
        (1.0, "rate", "1"),
        # measurements
        (12.54, "measurement", "12.5"),
        (1920.0, "measurement", "1,920"),
        # counts and steps: exact, thousands separated
        (30.0, "count", "30"),
        (1234567, "count", "1,234,567"),
        (2.5, "count", "2.5"),  # not a whole number: measured
        (102400.0, "steps", "102,400"),
        (1919.5, "steps", "1,920"),  # half away from zero
        (8.0, "steps", "8"),
    ],
)
def test_each_kind_has_its_rule(value, kind, text):
    assert textfmt.format_number(value, kind) == text


def test_the_shorthands_are_the_kinds():
    assert textfmt.format_ratio(3.521) == "3.5" and textfmt.format_error(3.521) == "3.52"
    assert textfmt.format_rate(0.16666) == "0.167" and textfmt.format_count(1024.0) == "1,024"
    assert textfmt.format_steps(102400) == "102,400" and textfmt.format_number(3.521, digits=4) == "3.521"


@pytest.mark.parametrize("value", ["1.5", True, [1.0]])
def test_format_number_rejects_what_is_not_a_number(value):
    with pytest.raises(ValueError, match="real number"):
        textfmt.format_number(value)


def test_an_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown kind"):
        textfmt.format_number(1.0, "percent")


# --- never inf or nan ------------------------------------------------------------------------------


def test_infinite_steps_are_not_reached_and_nan_is_na():
    assert textfmt.format_steps(INF) == "not reached"
    assert textfmt.format_steps(INF, cap=102400) == "not reached by 102,400 steps"
    assert textfmt.not_reached(1920.0) == "not reached by 1,920 steps"
    assert textfmt.format_steps(NAN) == "n/a" and textfmt.format_steps(None) == "n/a"
    assert textfmt.format_ratio(INF) == "∞" and textfmt.format_ratio(-INF) == "-∞"
    assert textfmt.format_ratio(INF, infinite="only the remedy reaches it") == "only the remedy reaches it"
    assert textfmt.format_number(NAN, missing="—") == "—"  # a table cell that is simply empty
    assert textfmt.format_count(INF) == "∞"


@pytest.mark.parametrize("kind", [None, *textfmt.KINDS])
@pytest.mark.parametrize("value", [NAN, INF, -INF, None, np.float64("nan"), np.inf, 1e300, 1e-300, -1e-12, 5e-324])
def test_no_kind_ever_writes_inf_nan_or_an_exponent(kind, value):
    texts = [textfmt.format_number(value, kind), textfmt.format_interval(value, value, value, kind),
             textfmt.format_interval(1.0, value, value, kind), textfmt.format_bounds(value, value, kind),
             textfmt.format_known(value, kind=kind), textfmt.significant(value)]
    for text in texts:
        words = text.lower().replace("n/a", "").replace("not reached", "")
        assert "inf" not in words and "nan" not in words and "e+" not in words and "e-" not in words, text


# --- confidence intervals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimate, low, high, kind, text",
    [
        (0.9567, 0.8881, 0.9772, "error", "0.957 [0.888, 0.977]"),  # the bounds to the estimate's decimals
        (142.5, 97.1, 199.6, "ratio", "140 [97, 200]"),  # never fewer than 0 decimals
        (3.521251674387456, 3.3924003413480137, 4.1058044597179535, "ratio", "3.5 [3.4, 4.1]"),
        (1.0, 0.5, 2.25, None, "1.00 [0.50, 2.25]"),  # the estimate keeps its significant zeros
        (7.611, 3.546, 15.13, "error", "7.61 [3.55, 15.13]"),
        (-0.024, -0.03, -0.018, "ratio", "-0.024 [-0.030, -0.018]"),
        (1044.0, 614.7, 1270.0, "error", "1,040 [615, 1,270]"),
        (17.0, 8.5, 17.25, "ratio", "17 [9, 17]"),
        # an interval narrower than the estimate's last digit: the decimals that show its width
        (101.234568, 100.7, 101.5, "error", "101.2 [100.7, 101.5]"),
        (1.0037, 1.0027, 1.0042, "ratio", "1.004 [1.003, 1.004]"),
        # an interval around zero: no more decimals than its width needs
        (0.0004, -0.05, 0.05, "ratio", "0.00 [-0.05, 0.05]"),
        (0.3, -1.2, 1.8, "error", "0.30 [-1.20, 1.80]"),
        (0.0, -1.0, 1.0, None, "0.00 [-1.00, 1.00]"),
        # a tiny estimate: a power of ten, the bounds in the estimate's
        (1.234e-5, 1.1e-5, 1.4e-5, "error", "1.23×10⁻⁵ [1.10×10⁻⁵, 1.40×10⁻⁵]"),
        # what is not finite
        (1.0, NAN, NAN, None, "1.00 [n/a, n/a]"),
        (17.0, 8.5, INF, "ratio", "17 [9, ∞]"),
        (NAN, 8.5, INF, "ratio", "n/a [8.5, ∞]"),
        (INF, INF, INF, "ratio", "∞ [∞, ∞]"),
        # counts and steps: exact, each bound by itself
        (1920.0, 960.0, INF, "steps", "1,920 [960, ∞]"),
        (INF, 960.0, INF, "steps", "not reached [960, ∞]"),
    ],
)
def test_a_confidence_interval_gets_the_decimals_of_its_estimate(estimate, low, high, kind, text):
    assert textfmt.format_interval(estimate, low, high, kind) == text
    main, bounds = textfmt.interval_parts(estimate, low, high, kind)
    assert f"{main} {bounds}" == text
    assert textfmt.format_bounds(low, high, kind, estimate=estimate) == bounds


def test_bounds_alone_are_each_a_number():
    assert textfmt.format_bounds(0.0, 1000.0) == "[0, 1,000]"
    assert textfmt.format_bounds(-INF, INF) == "[-∞, ∞]"
    assert textfmt.format_bounds(0.001, 0.31623, "rate") == "[0.001, 0.316]"


# --- reading back, words -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [("12,300", 12300.0), ("1.23×10⁻⁵", 1.23e-5), ("2.5×10⁹", 2.5e9), ("-0.5", -0.5), ("0.957 [0.888, 0.977]", 0.957),
     ("∞", INF), ("-∞", -INF), ("not reached by 1,920 steps", INF)],
)
def test_parse_number_reads_what_format_number_writes(text, value):
    assert textfmt.parse_number(text) == pytest.approx(value)


def test_parse_number_round_trips_and_gives_nan_for_words():
    for value in (1.234e-5, 0.0031623, 12345.6, -7.5, 102400):
        assert textfmt.parse_number(textfmt.format_number(value)) == pytest.approx(value, rel=5e-3)
    assert math.isnan(textfmt.parse_number("n/a")) and math.isnan(textfmt.parse_number("—"))


def test_significant_keeps_its_zeros_and_ranges():
    assert textfmt.significant(142.5) == "140" and textfmt.significant(1.234) == "1.2"
    assert textfmt.significant(1.0) == "1.0" and textfmt.significant(12345) == "12,000"
    assert textfmt.significant(1.234e-5) == "1.2×10⁻⁵" and textfmt.significant(INF) == "n/a"
    assert textfmt.format_range([1.234, 2.0, NAN]) == "1.2–2.0" and textfmt.format_range([INF]) == "n/a"


def test_counts_rates_and_words():
    assert textfmt.format_count(30.0) == "30" and textfmt.format_counts([6, 4, 6]) == "4, 6"
    assert textfmt.rate_text(0.16666, 1, 6) == "0.167 (1/6)"
    assert textfmt.format_known(None) == "unknown" and textfmt.format_known(0.05) == "0.05"
    assert textfmt.join_words(["a", "b", "c"]) == "a, b and c" and textfmt.join_words([]) == ""
