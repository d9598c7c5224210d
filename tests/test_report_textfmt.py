"""The report's number format (lossatlas.core.textfmt) on plain values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lossatlas import report
from lossatlas.core import textfmt

# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (7.608882308006287, "7.609"),
        (0.32440744, "0.3244"),
        (96.6629387, "96.66"),
        (12345.6, "1.235e+04"),
        (-0.5, "-0.5"),
        (float("nan"), "n/a"),
        (None, "n/a"),
        (np.float32(0.25), "0.25"),
        (np.int64(20), "20"),
        (3, "3"),
    ],
)
def test_format_number(value, text):
    assert textfmt.format_number(value) == text
    assert report.format_number is textfmt.format_number  # the one format, also where the report is imported


@pytest.mark.parametrize("value", ["1.5", True, [1.0]])
def test_format_number_rejects_what_is_not_a_number(value):
    with pytest.raises(ValueError, match="real number"):
        textfmt.format_number(value)


def test_format_interval():
    assert textfmt.format_interval(1.0, 0.5, 2.25) == "1 [0.5, 2.25]"
    assert textfmt.format_interval(1.0, math.nan, math.nan) == "1 [n/a, n/a]"
    assert textfmt.format_count(30.0) == "30" and textfmt.format_count(math.inf) == "inf"
    assert textfmt.format_known(None) == "unknown" and textfmt.format_known(0.05) == "0.05"
    assert textfmt.join_words(["a", "b", "c"]) == "a, b and c" and textfmt.join_words([]) == ""
