"""Tests for lossatlas.stats.bootstrap on tiny arrays; expected numbers are worked out by hand below, and the
vectorized bootstraps are checked against the single-cell functions and against brute-force loops
over the very same resamples."""

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtr, ndtri

from lossatlas.core.seeds import derive_seed
from lossatlas.stats.bootstrap import (
    SEED_SUMMARY_KEYS,
    bootstrap_curve_band_many,
    bootstrap_curve_ci,
    bootstrap_mean_ci,
    bootstrap_mean_ci_many,
    interquartile_mean,
    seed_summary,
    seed_summary_many,
)

nan, inf = np.nan, np.inf


# --- seed_summary: every statistic over the same (finite) values -----------------------------------


def test_seed_summary_drops_inf_for_every_statistic():
    summary = seed_summary([1.0, 2.0, 3.0, inf], n_resamples=2000, seed=5)
    assert set(summary) == set(SEED_SUMMARY_KEYS)
    # Finite values 1, 2, 3: mean 6 / 3 = 2; median 2; IQM cuts floor(3 / 4) = 0 from each end: 2.
    assert summary["mean"] == pytest.approx(2.0)
    assert summary["median"] == 2.0  # np.median over all four values would give (2 + 3) / 2 = 2.5
    assert summary["iqm"] == pytest.approx(2.0)
    assert summary["n_finite"] == 3 and summary["n_nonfinite"] == 1
    # Resampled means of {1, 2, 3} lie in [1, 3]; the interval is bootstrap_mean_ci's, same seed.
    assert 1.0 <= summary["ci_low"] <= 2.0 <= summary["ci_high"] <= 3.0
    np.testing.assert_allclose((summary["mean"], summary["ci_low"], summary["ci_high"]), bootstrap_mean_ci([1.0, 2.0, 3.0], 2000, 5), rtol=1e-12)


def test_seed_summary_drops_nan_and_keeps_the_outlier():
    summary = seed_summary([1.0, 2.0, nan, 4.0, 100.0], n_resamples=2000, seed=0)
    # Finite values 1, 2, 4, 100: mean 107 / 4 = 26.75; median (2 + 4) / 2 = 3 (np.median with the
    # NaN would be NaN); IQM cuts floor(4 / 4) = 1 from each end, leaving 2, 4: mean 3.
    assert summary["mean"] == pytest.approx(26.75)
    assert summary["median"] == 3.0
    assert summary["iqm"] == pytest.approx(3.0)
    assert summary["n_finite"] == 4 and summary["n_nonfinite"] == 1
    assert summary["ci_low"] <= 26.75 <= summary["ci_high"]


def test_seed_summary_edge_cases():
    empty = seed_summary([nan, -inf], n_resamples=100, seed=0)
    assert empty["n_finite"] == 0 and empty["n_nonfinite"] == 2
    for key in ("mean", "ci_low", "ci_high", "median", "iqm"):
        assert np.isnan(empty[key]), key
    one = seed_summary([7.0], n_resamples=100, seed=0)
    assert one["mean"] == one["median"] == one["iqm"] == 7.0
    assert np.isnan(one["ci_low"]) and np.isnan(one["ci_high"])  # one value: no interval
    with pytest.raises(ValueError):
        seed_summary(np.ones((2, 2)), n_resamples=100, seed=0)
    with pytest.raises(ValueError):
        seed_summary([1.0, 2.0], n_resamples=0, seed=0)


def test_interquartile_mean_in_stats():
    # n = 8: floor(8 / 4) = 2 cut from each end, leaving 3, 4, 5, 6: mean 4.5 (NaN ignored).
    assert interquartile_mean([8, 7, 6, 5, 4, 3, 2, 1, nan]) == pytest.approx(4.5)
    with pytest.raises(ValueError):
        interquartile_mean(np.ones((2, 2)))


def test_seed_summary_many_matches_seed_summary_row_by_row():
    values = np.array([[1.0, 2.0, 3.0, inf, nan], [1.0, 2.0, nan, 4.0, 100.0], [nan] * 5, [5.0, 5.0, 5.0, 5.0, 5.0]])
    many = seed_summary_many(values, n_resamples=500, seed=3)
    assert set(many) == set(SEED_SUMMARY_KEYS)
    np.testing.assert_array_equal(many["n_finite"], [3, 4, 0, 5])
    np.testing.assert_array_equal(many["n_nonfinite"], [2, 1, 5, 0])
    np.testing.assert_array_equal(many["median"], [2.0, 3.0, nan, 5.0])  # as worked out above
    np.testing.assert_allclose(many["iqm"], [2.0, 3.0, nan, 5.0])
    mean, low, high = bootstrap_mean_ci_many(values, n_resamples=500, seed=3)
    np.testing.assert_array_equal(many["mean"], mean)
    np.testing.assert_array_equal(many["ci_low"], low)
    np.testing.assert_array_equal(many["ci_high"], high)
    for index, row in enumerate(values):  # the same definitions as the one-cell seed_summary
        single = seed_summary(row, n_resamples=500, seed=3)
        for key in ("median", "iqm", "n_finite", "n_nonfinite"):
            np.testing.assert_array_equal(many[key][index], single[key])
    with pytest.raises(ValueError):
        seed_summary_many(np.ones(3), n_resamples=100, seed=0)


# --- bootstrap_mean_ci_many ----------------------------------------------------------------------


def random_rows(seed=0, shape=(9, 6)):
    """Rows with 6, 5 and 4 finite values (three groups), NaN or inf marking the missing ones."""
    values = np.random.default_rng(seed).lognormal(size=shape)
    values[3:6, 2] = nan
    values[6:, 0] = inf
    values[6:, 4] = nan
    return values


def test_bootstrap_mean_ci_many_degenerate_rows():
    values = np.array([[1.0, nan, nan], [2.0, 2.0, nan], [nan, nan, nan], [3.0, inf, 3.0], [4.0, 4.0, 4.0]])
    mean, low, high = bootstrap_mean_ci_many(values, n_resamples=100, seed=0)
    assert mean.shape == low.shape == high.shape == (5,)
    # One finite value: its mean, no interval. All finite values equal: the value itself. None: NaN.
    np.testing.assert_array_equal(mean, [1.0, 2.0, nan, 3.0, 4.0])
    np.testing.assert_array_equal(low, [nan, 2.0, nan, 3.0, 4.0])
    np.testing.assert_array_equal(high, [nan, 2.0, nan, 3.0, 4.0])
    empty = bootstrap_mean_ci_many(np.empty((0, 4)), n_resamples=100, seed=0)
    assert all(part.shape == (0,) for part in empty)


def test_bootstrap_mean_ci_many_equals_bootstrap_mean_ci_with_the_group_seed():
    # Rows with k finite values share the resamples of default_rng(derive_seed(seed, "mean_ci", k));
    # bootstrap_mean_ci with that seed draws the same (n_resamples, k) index matrix, so each row's
    # BCa interval is the single-cell one (scipy's), up to the rounding of the resample means'
    # sums (a matrix product here, a gather and a mean there) and one choice: a resample that draws
    # every seed once has the sample's mean exactly, and counts as a tie here, while in scipy it
    # falls on either side by a last bit of its sum (which moves the bias correction a little).
    values = random_rows()
    mean, low, high = bootstrap_mean_ci_many(values, n_resamples=999, seed=11)
    for row, m, lo, hi in zip(values, mean, low, high):
        finite = row[np.isfinite(row)]
        expected = bootstrap_mean_ci(finite, n_resamples=999, seed=derive_seed(11, "mean_ci", finite.size))
        np.testing.assert_allclose((m, lo, hi), expected, rtol=0.05)
        assert lo < m < hi
    exact = [np.allclose((m, lo, hi), bootstrap_mean_ci(row[np.isfinite(row)], 999, derive_seed(11, "mean_ci", np.isfinite(row).sum())), rtol=1e-12)
             for row, m, lo, hi in zip(values, mean, low, high)]
    assert np.mean(exact) >= 0.75  # most rows have no such resample's tie to resolve


def test_bootstrap_mean_ci_many_is_bca_by_hand():
    # Efron's BCa, written out for one row of three values and 200 resamples drawn as documented.
    x = np.array([0.5, 1.0, 4.0])
    n, n_resamples, alpha = 3, 200, 0.025
    indices = np.random.default_rng(derive_seed(4, "mean_ci", n)).integers(0, n, (n_resamples, n))
    theta_b = x[indices].mean(axis=1)
    theta = x.mean()  # 5.5 / 3
    z0 = ndtri((np.sum(theta_b < theta) + np.sum(theta_b <= theta)) / (2 * n_resamples))
    jackknife = np.array([(x.sum() - value) / (n - 1) for value in x])  # 2.5, 2.25, 0.75
    u = (n - 1) * (jackknife.mean() - jackknife)
    a = np.sum(u**3) / n**3 / (6 * (np.sum(u**2) / n**2) ** 1.5)
    z = ndtri(alpha)
    levels = [ndtr(z0 + (z0 + q) / (1 - a * (z0 + q))) for q in (z, -z)]
    expected_low, expected_high = np.quantile(theta_b, levels)
    mean, low, high = bootstrap_mean_ci_many(x[None, :], n_resamples=n_resamples, seed=4)
    assert mean[0] == pytest.approx(5.5 / 3)
    assert low[0] == pytest.approx(expected_low, rel=1e-12)
    assert high[0] == pytest.approx(expected_high, rel=1e-12)


def test_bootstrap_mean_ci_many_falls_back_to_the_percentile_interval():
    # With two resamples, BCa's bias correction z0 is +-inf for many rows and its interval undefined
    # (NaN); bootstrap_mean_ci then takes the percentile interval, and so must the vectorized one.
    values = np.random.default_rng(1).lognormal(size=(40, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bca = stats.bootstrap((values,), np.mean, n_resamples=2, axis=-1, vectorized=True, method="BCa",
                              rng=np.random.default_rng(derive_seed(0, "mean_ci", 4)))
    assert np.isnan(bca.confidence_interval.low).sum() > 10  # the fallback is exercised (22 of 40 rows)
    mean, low, high = bootstrap_mean_ci_many(values, n_resamples=2, seed=0)
    assert np.all(np.isfinite(low) & np.isfinite(high))
    for row, m, lo, hi in zip(values, mean, low, high):
        np.testing.assert_allclose((m, lo, hi), bootstrap_mean_ci(row, n_resamples=2, seed=derive_seed(0, "mean_ci", 4)), rtol=1e-12)


def test_bootstrap_mean_ci_many_ignores_chunking_and_row_order():
    values = random_rows(seed=2, shape=(12, 6))
    whole = bootstrap_mean_ci_many(values, n_resamples=500, seed=1)
    one_row_per_chunk = bootstrap_mean_ci_many(values, n_resamples=500, seed=1, chunk_bytes=1)
    for a, b in zip(whole, one_row_per_chunk):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    order = np.random.default_rng(0).permutation(len(values))
    shuffled = bootstrap_mean_ci_many(values[order], n_resamples=500, seed=1)
    for a, b in zip(whole, shuffled):
        np.testing.assert_allclose(a[order], b, rtol=1e-12)


def test_bootstrap_mean_ci_many_interval_shrinks_with_more_seeds():
    # Both rows are half 0s, half 1s (mean 0.5, sd 0.5); the interval's width goes as 1 / sqrt(n):
    # about 2 * 1.96 * 0.5 / sqrt(10) = 0.62 for n = 10 and 0.196 for n = 100.
    few = np.full(100, nan)
    few[:10] = np.tile([0.0, 1.0], 5)
    many = np.tile([0.0, 1.0], 50)
    mean, low, high = bootstrap_mean_ci_many(np.stack([few, many]), n_resamples=2000, seed=0)
    np.testing.assert_allclose(mean, [0.5, 0.5])
    assert np.all(low < 0.5) and np.all(high > 0.5)
    width = high - low
    assert width[1] < width[0] / 2
    assert width[0] == pytest.approx(0.62, abs=0.1) and width[1] == pytest.approx(0.196, abs=0.04)


def test_bootstrap_mean_ci_many_rejects_bad_input():
    with pytest.raises(ValueError):
        bootstrap_mean_ci_many(np.ones(4), n_resamples=10, seed=0)
    with pytest.raises(ValueError):
        bootstrap_mean_ci_many(np.ones((2, 4)), n_resamples=0, seed=0)
    with pytest.raises(ValueError):
        bootstrap_mean_ci_many(np.ones((2, 4)), n_resamples=10, seed=0, confidence=1.0)
    with pytest.raises(ValueError):
        bootstrap_mean_ci_many(np.ones((2, 4)), n_resamples=10, seed=0, chunk_bytes=0)


# --- bootstrap_curve_band_many -------------------------------------------------------------------


def brute_force_band(curve, indices, confidence=0.95):
    """The percentile band of one (S, E) curve over the resamples ``indices`` (R, S), by loops."""
    n_resamples, n_epochs = len(indices), curve.shape[1]
    means = np.empty((n_resamples, n_epochs))
    for r in range(n_resamples):
        for e in range(n_epochs):
            means[r, e] = sum(curve[s, e] for s in indices[r]) / len(indices[r])
    alpha = (1 - confidence) / 2
    return np.quantile(means, alpha, axis=0), np.quantile(means, 1 - alpha, axis=0)


def toy_curves():
    """Five curves of 3 seeds x 2 epochs: two complete, one with a seed to drop (a NaN at epoch 2),
    one with a single complete seed and one with none."""
    return np.array(
        [
            [[1.0, 10.0], [3.0, 30.0], [8.0, 20.0]],
            [[2.0, 2.0], [4.0, 1.0], [6.0, 0.5]],
            [[1.0, 4.0], [5.0, nan], [3.0, 2.0]],  # seed 1 left out: seeds 0 and 2 remain
            [[nan, 1.0], [7.0, 9.0], [inf, 1.0]],  # only seed 1 remains
            [[nan, 1.0], [nan, 2.0], [1.0, nan]],  # none remains
        ]
    )


def test_bootstrap_curve_band_many_against_brute_force():
    curves = toy_curves()
    mean, low, high = bootstrap_curve_band_many(curves, n_resamples=40, seed=9)
    assert mean.shape == low.shape == high.shape == (5, 2)
    # Means over the seeds kept: curve 0 (1 + 3 + 8) / 3 = 4 and (10 + 30 + 20) / 3 = 20;
    # curve 2 (1 + 3) / 2 = 2 and (4 + 2) / 2 = 3; curve 3 is its one seed, 7 and 9.
    np.testing.assert_allclose(mean[[0, 2, 3]], [[4.0, 20.0], [2.0, 3.0], [7.0, 9.0]])
    assert np.all(np.isnan(mean[4]))
    assert np.all(np.isnan(low[3:])) and np.all(np.isnan(high[3:]))  # fewer than two seeds
    three = np.random.default_rng(derive_seed(9, "curve_band", 3)).integers(0, 3, (40, 3))
    two = np.random.default_rng(derive_seed(9, "curve_band", 2)).integers(0, 2, (40, 2))
    for index, (curve, indices) in enumerate([(curves[0], three), (curves[1], three), (curves[2][[0, 2]], two)]):
        expected_low, expected_high = brute_force_band(curve, indices)
        np.testing.assert_allclose(low[index], expected_low, rtol=1e-12)
        np.testing.assert_allclose(high[index], expected_high, rtol=1e-12)
        assert np.all(low[index] <= mean[index]) and np.all(mean[index] <= high[index])


def test_bootstrap_curve_band_many_equals_bootstrap_curve_ci_with_the_group_seed():
    curves = np.random.default_rng(3).normal(size=(6, 5, 4))
    curves[4:, 1, 2] = nan  # two curves lose seed 1
    mean, low, high = bootstrap_curve_band_many(curves, n_resamples=300, seed=2)
    for index, curve in enumerate(curves):
        kept = np.all(np.isfinite(curve), axis=1).sum()
        expected = bootstrap_curve_ci(curve, n_resamples=300, seed=derive_seed(2, "curve_band", kept))
        for got, want in zip((mean[index], low[index], high[index]), expected):
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_bootstrap_curve_band_many_ignores_chunking_and_row_order():
    curves = np.random.default_rng(4).normal(size=(10, 4, 3))
    curves[7:, 0, 1] = nan
    whole = bootstrap_curve_band_many(curves, n_resamples=200, seed=0)
    one_curve_per_chunk = bootstrap_curve_band_many(curves, n_resamples=200, seed=0, chunk_bytes=1)
    for a, b in zip(whole, one_curve_per_chunk):
        np.testing.assert_array_equal(a, b)
    order = np.random.default_rng(1).permutation(len(curves))
    shuffled = bootstrap_curve_band_many(curves[order], n_resamples=200, seed=0)
    for a, b in zip(whole, shuffled):
        np.testing.assert_array_equal(a[order], b)


def test_bootstrap_curve_band_many_rejects_bad_input():
    with pytest.raises(ValueError):
        bootstrap_curve_band_many(np.ones((3, 4)), n_resamples=10, seed=0)
    with pytest.raises(ValueError):
        bootstrap_curve_band_many(np.ones((2, 3, 4)), n_resamples=0, seed=0)
    with pytest.raises(ValueError):
        bootstrap_curve_band_many(np.ones((2, 3, 4)), n_resamples=10, seed=0, confidence=0.0)
