from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from streamer.sketches.quantiles import QuantileSketch
from streamer.stats.hypothesis import chi2_two_sample, ks_from_bins, wasserstein_from_sketches
from tests.unit.stats.samples import binned, profile_edges


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
def test_binned_ks_is_a_lower_bound_within_the_largest_bin_share(seed, shift):
    rng = np.random.default_rng(seed)
    reference, window = rng.normal(0.0, 1.0, 5000), rng.normal(shift, 1.0, 700)
    edges, _ = profile_edges(reference)
    r, w = binned(reference, edges), binned(window, edges)
    statistic, pvalue = ks_from_bins(r, w)
    raw = ks_2samp(reference, window, method="asymp")
    bound = max(r.max() / r.sum(), w.max() / w.sum())
    assert statistic <= raw.statistic + 1e-12
    assert raw.statistic - statistic <= bound
    assert pvalue >= raw.pvalue - 1e-12  # conservative


@pytest.mark.parametrize("seed", range(3))
def test_binned_ks_is_exact_when_each_bin_holds_one_value(seed):
    rng = np.random.default_rng(seed)
    reference, window = rng.poisson(4.0, 3000).astype(float), rng.poisson(4.4, 800).astype(float)
    edges = np.arange(-0.5, max(reference.max(), window.max()) + 1.0)  # one integer per bin
    statistic, pvalue = ks_from_bins(binned(reference, edges), binned(window, edges))
    raw = ks_2samp(reference, window, method="asymp")
    assert statistic == pytest.approx(raw.statistic, abs=1e-15)
    assert pvalue == pytest.approx(raw.pvalue, rel=1e-12, abs=1e-300)


def test_binned_ks_edge_cases():
    assert ks_from_bins(np.array([4, 6]), np.array([2, 3])) == (0.0, 1.0)
    assert all(math.isnan(x) for x in ks_from_bins(np.array([4, 6]), np.array([0, 0])))
    statistic, pvalue = ks_from_bins(np.array([1, 0]), np.array([0, 1]))
    assert statistic == 1.0 and math.isnan(pvalue)
    with pytest.raises(ValueError):
        ks_from_bins(np.ones(2), np.ones(3))


def test_chi2_matches_scipy_when_no_bin_is_merged():
    reference, window = np.array([120, 80, 45, 30]), np.array([40, 35, 30, 5])
    statistic, pvalue, dof = chi2_two_sample(reference, window)
    expected = chi2_contingency(np.vstack([reference, window]), correction=False)
    assert (statistic, pvalue, dof) == pytest.approx((expected.statistic, expected.pvalue, expected.dof), rel=1e-12)
    assert chi2_two_sample(reference, window, ordered=True) == (statistic, pvalue, dof)


def test_chi2_pools_rare_categories():
    reference, window = np.array([100, 80, 3, 2, 1, 0]), np.array([50, 60, 2, 0, 1, 0])
    # Column totals 150, 140, 5, 2, 2, 0; a bin needs 5 * 299 / 113 = 13.2 for an expected count of 5
    # in the window row: the three rare ones pool (9), still too few, so the next smallest joins them.
    merged = np.array([[100, 80 + 3 + 2 + 1], [50, 60 + 2 + 0 + 1]])
    expected = chi2_contingency(merged, correction=False)
    result = chi2_two_sample(reference, window)
    assert result == pytest.approx((expected.statistic, expected.pvalue, 1), rel=1e-12)


def test_chi2_joins_adjacent_ordered_bins():
    reference, window = np.array([1, 40, 50, 2, 1]), np.array([0, 30, 45, 3, 0])
    # Need 5 * 172 / 78 = 11.0 per bin: [1 + 70], [95], and the short tail [5 + 1] joins [95].
    merged = np.array([[1 + 40, 50 + 2 + 1], [0 + 30, 45 + 3 + 0]])
    expected = chi2_contingency(merged, correction=False)
    result = chi2_two_sample(reference, window, ordered=True)
    assert result == pytest.approx((expected.statistic, expected.pvalue, 1), rel=1e-12)


@pytest.mark.parametrize("ordered", [False, True])
def test_chi2_on_random_tables(ordered):
    rng = np.random.default_rng(3)
    unmerged = 0
    for _ in range(300):
        k = int(rng.integers(2, 12))
        table = np.vstack([rng.poisson(rng.exponential(30.0, k)), rng.poisson(rng.exponential(10.0, k))])
        statistic, pvalue, dof = chi2_two_sample(table[0], table[1], ordered=ordered)
        assert 0.0 <= pvalue <= 1.0 and 0.0 <= statistic < math.inf and 0 <= dof < k
        rows, columns = table.sum(axis=1), table.sum(axis=0)
        if rows.min() and np.outer(rows, columns).min() / rows.sum() >= 5:  # nothing to merge
            unmerged += 1
            expected = chi2_contingency(table, correction=False)
            assert (statistic, pvalue, dof) == pytest.approx((expected.statistic, expected.pvalue, expected.dof))
    assert unmerged > 10


def test_chi2_degenerate_tables():
    assert chi2_two_sample(np.array([10, 10]), np.array([0, 0])) == (0.0, 1.0, 0)
    assert chi2_two_sample(np.array([10, 0]), np.array([3, 0])) == (0.0, 1.0, 0)
    assert chi2_two_sample(np.array([3, 1]), np.array([2, 2])) == (0.0, 1.0, 0)


def _sketch(values: np.ndarray) -> QuantileSketch:
    sketch = QuantileSketch()
    for chunk in np.array_split(values, 7):
        sketch.update(chunk)
    return sketch


@pytest.mark.parametrize("n", [1, 10, 60, 149])
def test_wasserstein_is_exact_for_small_samples(n):
    rng = np.random.default_rng(n)
    a, b = rng.normal(0.0, 1.0, n), rng.exponential(1.0, n + 3)
    ref, win = _sketch(a), _sketch(b)
    assert ref.is_exact and win.is_exact
    assert wasserstein_from_sketches(ref, win) == pytest.approx(wasserstein_distance(a, b), rel=1e-12)


def test_wasserstein_with_ties_and_empty_sketches():
    a, b = np.array([1.0, 1.0, 2.0, 5.0]), np.array([1.0, 3.0, 3.0])
    assert wasserstein_from_sketches(_sketch(a), _sketch(b)) == pytest.approx(wasserstein_distance(a, b))
    assert math.isnan(wasserstein_from_sketches(_sketch(a), QuantileSketch()))


def test_wasserstein_within_rank_error_for_large_samples():
    # Tolerance: 3 (eps_ref + eps_win) pooled std, about 0.08 here; the error is about 0.01 on average.
    rng = np.random.default_rng(11)
    a, b = rng.normal(0.0, 1.0, 20000), rng.normal(0.2, 1.1, 20000)
    ref, win = _sketch(a), _sketch(b)
    assert not ref.is_exact
    tolerance = 3 * (ref.rank_error + win.rank_error) * np.concatenate([a, b]).std()
    assert abs(wasserstein_from_sketches(ref, win) - wasserstein_distance(a, b)) <= tolerance
