"""Tests for lossatlas.stats.survival on tiny arrays; every expected number is worked out by hand below."""

import numpy as np
import pytest

from lossatlas.stats.survival import censored_median, stagnation, steps_to_threshold

# --- time to threshold -------------------------------------------------------------------------


def test_steps_to_threshold_with_censoring():
    nan = np.nan
    curves = np.array(
        [
            [nan, 0.8, nan, 0.4],  # first <= 0.5 at epoch 4 -> 40 steps
            [0.9, 0.5, 0.3, 0.2],  # 0.5 <= 0.5 at epoch 2 (inclusive) -> 20 steps
            [1.0, 0.9, 0.8, nan],  # never: censored at its last recorded epoch, 3 -> 30 steps
            [nan, nan, nan, nan],  # nothing recorded: censored at 0 steps
        ]
    )
    steps, reached = steps_to_threshold(curves, threshold=0.5, steps_per_epoch=10)
    np.testing.assert_array_equal(steps, [40.0, 20.0, 30.0, 0.0])
    np.testing.assert_array_equal(reached, [True, True, False, False])
    with pytest.raises(ValueError):
        steps_to_threshold(curves, 0.5, steps_per_epoch=0)
    with pytest.raises(ValueError):
        steps_to_threshold(curves[0], 0.5, steps_per_epoch=10)


def test_censored_median_kaplan_meier_by_hand():
    # Times 20 (reached), 30 (censored), 40 (reached), 50 (reached), 60 (censored).
    #   t=20: 5 at risk, 1 reaches: S = 4/5 = 0.8
    #   t=30: censored, 3 remain at risk
    #   t=40: 3 at risk, 1 reaches: S = 0.8 * 2/3 = 0.533
    #   t=50: 2 at risk, 1 reaches: S = 0.533 * 1/2 = 0.267 <= 0.5 -> median 50
    # (the median of the reached times alone, or of all times, would be 40).
    steps = np.array([20.0, 40.0, 30.0, 50.0, 60.0])
    reached = np.array([True, True, False, True, False])
    assert censored_median(steps, reached) == 50.0
    # One of four reaches: S = 3/4 never falls to 1/2 -> inf.
    times = np.array([10.0, 20.0, 30.0, 30.0])
    assert censored_median(times, np.array([True, False, False, False])) == np.inf
    # Exactly half: S(10) = 3/4, S(20) = 3/4 * 2/3 = 1/2 <= 1/2 -> 20.
    assert censored_median(times, np.array([True, True, False, False])) == 20.0
    assert np.isnan(censored_median(np.array([]), np.array([], dtype=bool)))
    with pytest.raises(ValueError):
        censored_median(np.array([1.0, 2.0]), np.array([1, 0]))


# --- stagnation --------------------------------------------------------------------------------


def test_stagnation_cases():
    nan = np.nan
    curves = np.array(
        [
            # window 2 compares the last value with the one 2 recorded epochs before it.
            [1.0, 0.9, 0.899, 0.8985],  # (0.9 - 0.8985) / 0.9 = 0.0017 < 0.01, 0.8985 > 0.55 -> True
            [1.0, 0.5, 0.3, 0.2],  # (0.5 - 0.2) / 0.5 = 0.6 >= 0.01 -> improving, False
            [1.0, 0.54, 0.54, 0.54],  # no improvement, but 0.54 <= 0.5 * 1.1 = 0.55: converged, False
            [nan, nan, nan, 2.0],  # 1 recorded value < window + 1 = 3: not enough evidence, False
            [2.0, nan, 2.0, 2.0],  # recorded 2.0, 2.0, 2.0 (NaN skipped): no improvement -> True
            [0.6, 0.7, 0.8, 0.9],  # got worse ((0.7 - 0.9) / 0.7 < 0.01), above 0.55 -> True
        ]
    )
    result = stagnation(curves, window=2, relative_tolerance=0.01, floor=0.5, margin=0.1)
    np.testing.assert_array_equal(result, [True, False, False, False, True, True])
    assert result.dtype == bool
    # A per-trial floor: raising the first trial's floor to 0.9 makes 0.8985 <= 0.99 converged.
    floors = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.5])
    assert not stagnation(curves, 2, 0.01, floor=floors, margin=0.1)[0]
    with pytest.raises(ValueError):
        stagnation(curves, window=0, relative_tolerance=0.01)
    with pytest.raises(ValueError):
        stagnation(curves, window=2, relative_tolerance=-0.1)
