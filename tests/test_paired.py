"""Tests for lossatlas.stats.paired (and the interquartile mean of lossatlas.stats.bootstrap) on tiny arrays; every expected number is worked out by hand below."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lossatlas.stats.bootstrap import interquartile_mean
from lossatlas.stats.paired import (
    COMPARISON_KEYS,
    cliffs_delta,
    compare_table,
    hodges_lehmann,
    holm_correct,
    min_attainable_p,
    paired_cohens_d,
    paired_comparison,
    probability_of_improvement,
    wilcoxon_test,
)

# --- interquartile mean ------------------------------------------------------------------------


def test_interquartile_mean_of_one_to_eight():
    # n = 8: floor(8 / 4) = 2 values cut from each end, leaving 3, 4, 5, 6; their mean is 18 / 4 = 4.5.
    assert interquartile_mean(np.arange(1.0, 9.0)) == pytest.approx(4.5)


def test_interquartile_mean_ignores_non_finite_values_and_trims_floor_of_a_quarter():
    # The finite values are 1..8 again, so 4.5.
    assert interquartile_mean([1, 2, 3, 4, 5, 6, 7, 8, np.nan, np.inf]) == pytest.approx(4.5)
    # n = 5: floor(5 / 4) = 1 cut from each end, leaving 2, 3, 4 (the outlier 100 is gone): mean 3.
    assert interquartile_mean([100, 1, 2, 3, 4]) == pytest.approx(3.0)
    assert np.isnan(interquartile_mean([np.nan]))
    with pytest.raises(ValueError):
        interquartile_mean(np.ones((2, 2)))


# --- Wilcoxon ----------------------------------------------------------------------------------


def test_wilcoxon_exact_n6_by_enumeration():
    # d = a - b = [-1, -2, -3, -4, +5, -6]; |d| are distinct, ranks 1..6.
    # R+ = 5, R- = 1 + 2 + 3 + 4 + 6 = 16, statistic T = min = 5.
    # Under H0 each of the 2**6 = 64 sign patterns is equally likely; R+ is the sum of a subset of
    # {1..6}. Subsets with sum <= 5: {} ; {1} ; {2} ; {3} {1,2} ; {4} {1,3} ; {5} {1,4} {2,3} -> 10.
    # Two-sided p = 2 * 10 / 64 = 0.3125.
    a = np.array([9.0, 8.0, 7.0, 6.0, 15.0, 4.0])
    b = np.full(6, 10.0)
    statistic, p_value = wilcoxon_test(a - b)
    assert statistic == 5.0
    assert p_value == pytest.approx(0.3125)


def test_min_attainable_p_and_n5_all_one_sign():
    # n = 5, every difference negative: R+ = 0, reached by 1 of 2**5 = 32 sign patterns, and R- = 0
    # by one more, so p = 2 / 32 = 0.0625 -- the smallest p possible with 5 pairs, above 0.05.
    statistic, p_value = wilcoxon_test(np.array([-1.0, -2.0, -3.0, -4.0, -5.0]))
    assert statistic == 0.0
    assert p_value == pytest.approx(0.0625)
    assert min_attainable_p(5) == pytest.approx(0.0625)
    assert min_attainable_p(6) == pytest.approx(2 / 64)  # 0.03125: n = 6 is the first n below 0.05
    assert all(min_attainable_p(n) > 0.05 for n in range(1, 6))
    assert min_attainable_p(1) == 1.0  # 2 / 2 = 1
    assert np.isnan(min_attainable_p(0))


def test_wilcoxon_pratt_keeps_zero_differences_in_the_ranking():
    # d = [0, 1, 2, 3, 4]. Pratt ranks |d| with the zero included: 0->1, 1->2, 2->3, 3->4, 4->5, then
    # drops the zero's rank: R+ = 2 + 3 + 4 + 5 = 14, R- = 0, T = 0. Flipping the zero's sign changes
    # nothing, so the null distribution is the 2**4 = 16 sign patterns of ranks {2, 3, 4, 5};
    # R+ = 0 and R+ = 14 each occur once: p = 2 / 16 = 0.125 (not the 0.0625 of five nonzero pairs).
    statistic, p_value = wilcoxon_test(np.array([0.0, 1.0, 2.0, 3.0, 4.0]))
    assert statistic == 0.0
    assert p_value == pytest.approx(0.125)


def test_wilcoxon_all_zero_and_empty():
    assert wilcoxon_test(np.zeros(4)) == (0.0, 1.0)
    statistic, p_value = wilcoxon_test(np.array([]))
    assert np.isnan(statistic) and np.isnan(p_value)


# --- Hodges-Lehmann ----------------------------------------------------------------------------


def test_hodges_lehmann_by_hand():
    # d = [1, 2, 10]: Walsh averages (d_i + d_j) / 2 for i <= j: 1, 1.5, 5.5, 2, 6, 10; sorted
    # 1, 1.5, 2, 5.5, 6, 10: median (2 + 5.5) / 2 = 3.75 (the mean is 13 / 3, the median 2).
    assert hodges_lehmann(np.array([1.0, 2.0, 10.0])) == pytest.approx(3.75)
    assert hodges_lehmann(np.array([10.0, 1.0, 2.0])) == pytest.approx(3.75)  # order does not matter
    assert hodges_lehmann(np.array([-4.0])) == -4.0  # one value: its only Walsh average
    assert np.isnan(hodges_lehmann(np.array([])))
    with pytest.raises(ValueError):
        hodges_lehmann(np.array([1.0, np.nan]))
    with pytest.raises(ValueError):
        hodges_lehmann(np.ones((2, 2)))


def test_hodges_lehmann_resists_the_outlier_that_flips_the_mean():
    # Eleven differences of -1 and one of +50: mean (-11 + 50) / 12 = +3.25, yet 11 of 12 seeds favour
    # a. Walsh averages: 66 pairs of -1s give -1, 11 mixed pairs give 24.5, one 50: 66 of the 78 are
    # -1, so the median is -1. The signed-rank test agrees with HL: |d| ranks 6 (eleven ties) and 12,
    # R+ = 12, R- = 66; of the 2**12 = 4096 sign patterns, R+ = 6 a + 12 b <= 12 for (a, b) = (0, 0),
    # (1, 0), (2, 0), (0, 1): 1 + 11 + 55 + 1 = 68, likewise R- <= 12: p = 136 / 4096 = 0.0332.
    d = np.array([-1.0] * 11 + [50.0])
    assert d.mean() == pytest.approx(3.25)
    assert hodges_lehmann(d) == -1.0
    assert wilcoxon_test(d) == (12.0, pytest.approx(136 / 4096))



@pytest.mark.parametrize("n", [3, 8, 10, 13, 14, 20])
def test_wilcoxon_with_ties_or_zeros_equals_scipys_own_test(n):
    """Small samples with ties or zeros take every sign flip through a vectorized statistic (scipy's
    own path applies its statistic one flip at a time, seconds per test at n = 10): the p-value and
    the statistic must be scipy's."""
    generator = np.random.default_rng(n)
    for _ in range(2):
        d = generator.integers(-3, 4, size=n).astype(float)  # many ties and some zeros
        if np.all(d == 0):
            continue
        expected = stats.wilcoxon(d, zero_method="pratt", alternative="two-sided")
        statistic, p_value = wilcoxon_test(d)
        assert statistic == pytest.approx(float(expected.statistic), abs=1e-12)
        assert p_value == pytest.approx(float(expected.pvalue), rel=1e-12, abs=1e-15)

# --- effect sizes ------------------------------------------------------------------------------


def test_cliffs_delta_and_probability_of_improvement_by_hand():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([2.0, 2.0, 1.0, 5.0])
    # Paired, seed by seed: 1<2 better, 2=2 tie (1/2), 3>1 worse, 4<5 better -> (1 + 0.5 + 0 + 1) / 4.
    assert probability_of_improvement(a, b) == pytest.approx(0.625)
    assert probability_of_improvement(a, b, lower_is_better=False) == pytest.approx(0.375)
    # All 16 (a_i, b_j) pairs, b = {2, 2, 1, 5}:
    #   a=1: below 2, 2, 5; tie 1            -> below 3, above 0
    #   a=2: tie 2, 2; above 1; below 5      -> below 1, above 1
    #   a=3: above 2, 2, 1; below 5          -> below 1, above 3
    #   a=4: above 2, 2, 1; below 5          -> below 1, above 3
    # below = 6, above = 7: delta = (6 - 7) / 16 = -0.0625 (unpaired, a slightly worse).
    assert cliffs_delta(a, b) == pytest.approx(-0.0625)
    assert cliffs_delta(a, b, lower_is_better=False) == pytest.approx(0.0625)
    assert np.isnan(cliffs_delta([], b))


def test_paired_cohens_d_by_hand():
    # b - a = [1, 2, 3, 2]: mean 2, deviations -1, 0, 1, 0, variance (1 + 1) / 3 = 2/3 (ddof = 1),
    # sd = sqrt(2/3); d = 2 / sqrt(2/3) = sqrt(6) ~ 2.449, positive because a is lower (better).
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([2.0, 4.0, 6.0, 6.0])
    assert paired_cohens_d(a, b) == pytest.approx(np.sqrt(6))
    assert paired_cohens_d(a, b, lower_is_better=False) == pytest.approx(-np.sqrt(6))
    assert np.isnan(paired_cohens_d(a, a + 1))  # constant differences: sd 0
    assert np.isnan(paired_cohens_d([1.0], [2.0]))  # n < 2


# --- paired_comparison -------------------------------------------------------------------------


def test_paired_comparison_by_hand_with_a_dropped_pair():
    # The fifth pair has a NaN and is dropped; the rest are the Cohen's d example above.
    a = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    b = np.array([2.0, 4.0, 6.0, 6.0, 7.0])
    result = paired_comparison(a, b, seed=3, n_resamples=2000)
    assert set(result) == set(COMPARISON_KEYS)
    assert result["n_pairs"] == 4 and result["n_dropped"] == 1
    assert result["median_a"] == pytest.approx(2.5)  # (2 + 3) / 2
    assert result["median_b"] == pytest.approx(5.0)  # (4 + 6) / 2
    # a - b = [-1, -2, -3, -2], mean -2.
    assert result["mean_difference"] == pytest.approx(-2.0)
    assert result["mean_difference_ci_low"] <= -2.0 <= result["mean_difference_ci_high"]
    assert result["mean_difference_ci_high"] < 0
    # Median of [-1, -2, -3, -2] (sorted -3, -2, -2, -1): -2. Walsh averages: the four values and
    # (-1-2)/2 = -1.5, (-1-3)/2 = -2, (-1-2)/2 = -1.5, (-2-3)/2 = -2.5, (-2-2)/2 = -2, (-3-2)/2 = -2.5;
    # sorted -3, -2.5, -2.5, -2, -2, -2, -2, -1.5, -1.5, -1: median (-2 - 2) / 2 = -2.
    assert result["median_difference"] == -2.0
    assert result["hodges_lehmann"] == -2.0
    # |d| = 1, 2, 3, 2 -> ranks 1, 2.5, 4, 2.5 (tie); every sign negative: R+ = 0, R- = 10, T = 0.
    # 16 sign patterns; R+ = 0 and R+ = 10 once each: p = 2 / 16 = 0.125 = min_attainable_p(4).
    assert result["wilcoxon_statistic"] == 0.0
    assert result["p_value"] == pytest.approx(0.125)
    assert result["min_attainable_p"] == pytest.approx(0.125)
    # a = {1, 2, 3, 4}, b = {2, 4, 6, 6}: a=1 below 4; a=2 tie 2, below 3; a=3 above 1, below 3;
    # a=4 above 1, tie 1, below 2. below = 12, above = 2: (12 - 2) / 16 = 0.625.
    assert result["cliffs_delta"] == pytest.approx(0.625)
    assert result["paired_cohens_d"] == pytest.approx(np.sqrt(6))
    assert result["probability_of_improvement"] == pytest.approx(1.0)  # a < b on all four seeds
    # The bootstrap is seeded: the same seed gives the same interval.
    again = paired_comparison(a, b, seed=3, n_resamples=2000)
    assert again["mean_difference_ci_low"] == result["mean_difference_ci_low"]
    assert again["mean_difference_ci_high"] == result["mean_difference_ci_high"]


def test_paired_comparison_all_equal_and_empty():
    same = paired_comparison([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], n_resamples=100)
    assert same["p_value"] == 1.0 and same["wilcoxon_statistic"] == 0.0
    assert same["mean_difference"] == same["mean_difference_ci_low"] == same["mean_difference_ci_high"] == 0.0
    assert np.isnan(same["paired_cohens_d"])
    assert same["probability_of_improvement"] == 0.5  # three ties, 1/2 each
    empty = paired_comparison([np.nan, 1.0], [2.0, np.inf], n_resamples=100)
    assert empty["n_pairs"] == 0 and empty["n_dropped"] == 2
    for key in COMPARISON_KEYS[2:]:
        assert np.isnan(empty[key]), key


def test_paired_comparison_rejects_bad_input():
    with pytest.raises(ValueError):
        paired_comparison([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        paired_comparison(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError):
        paired_comparison([1.0, 2.0], [1.0, 2.0], n_resamples=0)


# --- Holm --------------------------------------------------------------------------------------


def test_holm_by_hand_with_nan():
    # The NaN is not a test: family m = 3. Sorted p: 0.01, 0.03, 0.04 times m, m-1, m-2 = 3, 2, 1:
    # 0.03, 0.06, 0.04, then running maximum: 0.03, 0.06, 0.06. Back in input order:
    # [0.01 -> 0.03, 0.04 -> 0.06, 0.03 -> 0.06, nan]; only 0.03 <= 0.05 is rejected.
    rejected, adjusted = holm_correct([0.01, 0.04, 0.03, np.nan])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, np.nan])
    np.testing.assert_array_equal(rejected, [True, False, False, False])
    assert rejected.dtype == bool


def test_holm_edge_cases():
    rejected, adjusted = holm_correct([np.nan, np.nan])
    assert not rejected.any() and np.isnan(adjusted).all()
    rejected, adjusted = holm_correct([])
    assert rejected.shape == adjusted.shape == (0,)
    with pytest.raises(ValueError):
        holm_correct([0.5, 1.5])


# --- compare_table -----------------------------------------------------------------------------

OFFSETS = {"x": {"mse": 0.0, "mae": 1.0, "huber": 2.0}, "y": {"mse": 0.0, "mae": 1.0, "huber": 0.0}}


def toy_frame(seeds=range(8)) -> pd.DataFrame:
    """2 datasets x 3 losses x 8 seeds; value = 10 * seed + offset, so the spread across seeds (0..70)
    dwarfs the offsets and only pairing by seed gives constant paired differences."""
    rows = [
        {"dataset": d, "model": "m", "loss": loss, "seed": s, "rmse": 10.0 * s + offset}
        for d, losses in OFFSETS.items()
        for loss, offset in losses.items()
        for s in seeds
    ]
    return pd.DataFrame(rows)


def test_compare_table_pairs_by_seed_and_holm_corrects_the_family():
    frame = toy_frame()
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    table = compare_table(shuffled, ["dataset", "model"], "loss", "rmse", n_resamples=500)
    # 2 groups x C(3, 2) = 3 pairs of levels, levels in sorted order: huber < mae < mse.
    assert len(table) == 6
    assert list(table.columns[:4]) == ["dataset", "model", "level_a", "level_b"]
    assert list(table.columns[4:-2]) == list(COMPARISON_KEYS)
    assert {"hodges_lehmann", "median_difference"} <= set(COMPARISON_KEYS)
    np.testing.assert_array_equal(table["hodges_lehmann"], [1.0, 2.0, 1.0, -1.0, 0.0, 1.0])  # constant d
    assert list(table.columns[-2:]) == ["p_holm", "significant"]
    assert list(zip(table["dataset"], table["level_a"], table["level_b"])) == [
        ("x", "huber", "mae"),
        ("x", "huber", "mse"),
        ("x", "mae", "mse"),
        ("y", "huber", "mae"),
        ("y", "huber", "mse"),
        ("y", "mae", "mse"),
    ]
    # Paired by seed, a - b is the offset difference on every seed, e.g. x: huber - mse = 2 - 0.
    np.testing.assert_array_equal(table["mean_difference"], [1.0, 2.0, 1.0, -1.0, 0.0, 1.0])
    np.testing.assert_array_equal(table["mean_difference_ci_low"], table["mean_difference"])
    np.testing.assert_array_equal(table["mean_difference_ci_high"], table["mean_difference"])
    assert (table["n_pairs"] == 8).all() and (table["n_dropped"] == 0).all()
    # 8 equal nonzero differences: all one sign has probability 1 / 2**8, so p = 2 / 256 = 0.0078125;
    # y huber vs mse differs by 0 on every seed: p = 1.
    np.testing.assert_allclose(table["p_value"], [2 / 256] * 4 + [1.0, 2 / 256])
    # Holm over the whole family of m = 6 (not per group, which would give 3 * 2/256 = 0.0234):
    # the five equal p's times 6, 5, 4, 3, 2 = 0.046875, ..., 0.015625, running max 0.046875 for all
    # five; the p = 1 times 1 stays 1. So five rejections at 0.05 and one not.
    np.testing.assert_allclose(table["p_holm"], [0.046875] * 4 + [1.0, 0.046875])
    np.testing.assert_array_equal(table["significant"], [True] * 4 + [False, True])
    # x huber vs mse, a_i = 10 i + 2, b_j = 10 j: a_i < b_j iff j > i (28 of 64 pairs), a_i > b_j iff
    # j <= i (36): Cliff's delta = (28 - 36) / 64 = -0.125; huber is worse on every seed: PoI = 0.
    row = table.iloc[1]
    assert row["cliffs_delta"] == pytest.approx(-0.125)
    assert row["probability_of_improvement"] == 0.0
    # Same answer whatever the row order.
    in_order = compare_table(frame, ["dataset", "model"], "loss", "rmse", n_resamples=500)
    pd.testing.assert_frame_equal(table, in_order)


def test_compare_table_counts_a_missing_seed_as_dropped():
    frame = toy_frame()
    frame = frame[~((frame["dataset"] == "x") & (frame["loss"] == "mae") & (frame["seed"] == 3))]
    table = compare_table(frame, ["dataset"], "loss", "rmse", n_resamples=200)
    x = table[table["dataset"] == "x"].set_index(["level_a", "level_b"])
    assert x.loc[("huber", "mae"), "n_pairs"] == 7 and x.loc[("huber", "mae"), "n_dropped"] == 1
    assert x.loc[("mae", "mse"), "n_dropped"] == 1
    assert x.loc[("huber", "mse"), "n_pairs"] == 8 and x.loc[("huber", "mse"), "n_dropped"] == 0


def test_compare_table_rejects_bad_frames():
    frame = toy_frame(range(2))
    with pytest.raises(ValueError, match="lacks"):
        compare_table(frame.drop(columns="seed"), ["dataset"], "loss", "rmse")
    with pytest.raises(ValueError, match="repeat"):
        compare_table(pd.concat([frame, frame.iloc[:1]]), ["dataset"], "loss", "rmse")
    with pytest.raises(ValueError, match="distinct"):
        compare_table(frame, ["loss"], "loss", "rmse")
