from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency, ks_2samp, norm, wasserstein_distance

from streamer.sketches.quantiles import QuantileSketch
from streamer.stats.hypothesis import (
    chi2_two_sample,
    ks_from_bins,
    wasserstein_from_bins,
    wasserstein_from_sketches,
    wasserstein_noise_from_bins,
)
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
    assert pvalue >= raw.pvalue * 0.95 - 1e-12  # conservative, up to Stephens' approximation


@pytest.mark.parametrize("seed", range(3))
def test_binned_ks_is_exact_when_each_bin_holds_one_value(seed):
    rng = np.random.default_rng(seed)
    reference, window = rng.poisson(4.0, 3000).astype(float), rng.poisson(4.4, 800).astype(float)
    edges = np.arange(-0.5, max(reference.max(), window.max()) + 1.0)  # one integer per bin
    statistic, pvalue = ks_from_bins(binned(reference, edges), binned(window, edges))
    raw = ks_2samp(reference, window, method="asymp")
    assert statistic == pytest.approx(raw.statistic, abs=1e-15)
    assert pvalue == pytest.approx(raw.pvalue, rel=0.05, abs=1e-300)  # Stephens' approximation


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


def _binned_w(reference: np.ndarray, window: np.ndarray, edges: np.ndarray) -> float:
    return wasserstein_from_bins(edges, binned(reference, edges), binned(window, edges),
                                 (reference.min(), reference.max()), (window.min(), window.max()))


def _histogram_quantiles(values: np.ndarray, edges: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Quantile function of ``values`` with every bin's count spread evenly over the bin (tails to min/max)."""
    x = np.concatenate([[min(values.min(), edges[0])], edges, [max(values.max(), edges[-1])]])
    cdf = np.concatenate([[0.0], np.cumsum(binned(values, edges))]) / len(values)
    # An empty bin repeats a CDF knot: np.interp then jumps across the bin, as the quantile function does.
    return np.interp(u, cdf, x)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.0), (0.1, 1.0), (0.5, 1.0), (0.0, 1.3), (3.0, 1.0)])
def test_binned_wasserstein_is_w1_between_the_histograms(seed, shift, scale):
    # W1 = integral over u of |Q_r(u) - Q_w(u)|: the quantile-function form, on a fine grid.
    rng = np.random.default_rng(seed)
    reference, window = rng.normal(0.0, 1.0, 5000), rng.normal(shift, scale, 2000)
    edges, _ = profile_edges(reference)
    u = (np.arange(400_000) + 0.5) / 400_000
    direct = np.mean(np.abs(_histogram_quantiles(reference, edges, u) - _histogram_quantiles(window, edges, u)))
    assert _binned_w(reference, window, edges) == pytest.approx(direct, rel=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_binned_wasserstein_is_w1_between_the_histograms_with_both_tails_filled(seed):
    # Edges from a small third sample: both samples have values in both tails, on both sides of each other.
    rng = np.random.default_rng(seed)
    reference, window = rng.standard_t(3, 4000), rng.normal(0.3, 2.0, 1500)
    edges, _ = profile_edges(rng.normal(0.0, 0.5, 200))
    assert min(binned(reference, edges)[[0, -1]].min(), binned(window, edges)[[0, -1]].min()) > 0
    u = (np.arange(400_000) + 0.5) / 400_000
    direct = np.mean(np.abs(_histogram_quantiles(reference, edges, u) - _histogram_quantiles(window, edges, u)))
    assert _binned_w(reference, window, edges) == pytest.approx(direct, rel=1e-4)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.0), (0.1, 1.0), (0.5, 1.0), (0.0, 1.3)])
def test_binned_wasserstein_is_close_to_the_raw_sample_distance(seed, shift, scale):
    rng = np.random.default_rng(seed)
    reference, window = rng.normal(0.0, 1.0, 5000), rng.normal(shift, scale, 2000)
    edges, _ = profile_edges(reference)
    binned_w, raw_w = _binned_w(reference, window, edges), wasserstein_distance(reference, window)
    # Both lie between per-bin bounds from the CDFs at the edges, the tails closed by the pooled extremes.
    x = np.concatenate([[min(reference.min(), window.min())], edges, [max(reference.max(), window.max())]])
    f_r = np.concatenate([[0.0], np.cumsum(binned(reference, edges))]) / len(reference)
    f_w = np.concatenate([[0.0], np.cumsum(binned(window, edges))]) / len(window)
    lower = np.sum(np.maximum(np.maximum(f_r[:-1], f_w[:-1]) - np.minimum(f_r[1:], f_w[1:]), 0) * np.diff(x))
    upper = np.sum(np.maximum(np.abs(f_r[:-1] - f_w[1:]), np.abs(f_r[1:] - f_w[:-1])) * np.diff(x))
    assert lower <= raw_w <= upper and lower <= binned_w <= upper
    # ... and in practice much closer than those bounds: 0.005 std, about 5 times the typical difference.
    assert binned_w == pytest.approx(raw_w, abs=0.005 * reference.std())


def test_binned_wasserstein_tails_are_spread_to_the_extremes():
    edges = np.array([0.0, 1.0, 2.0])
    reference = np.array([0, 10, 10, 0])  # uniform over [0, 2]
    # three values below 0 down to -3: uniform over [-3, 0); W1(U(0, 2), U(-3, 0)) = 1 - (-1.5)
    assert wasserstein_from_bins(edges, reference, np.array([3, 0, 0, 0]), (0.0, 2.0), (-3.0, -0.5)) == 2.5
    # a window over the whole reference range and one tail: W1 is the integral of |F_r - F_w|
    window = np.array([0, 5, 5, 10])  # half over [0, 2], half over (2, 4]
    # |F_r - F_w| = x / 4 on [0, 2], then (4 - x) / 4 on (2, 4]; F_w <= F_r, so also mean 2 - mean 1
    assert wasserstein_from_bins(edges, reference, window, (0.0, 2.0), (0.0, 4.0)) == pytest.approx(1.0)


def test_binned_wasserstein_is_symmetric_deterministic_and_nan_when_empty():
    rng = np.random.default_rng(8)
    a, b = rng.lognormal(0.0, 0.5, 3000), rng.lognormal(0.1, 0.6, 700)
    edges, _ = profile_edges(a)
    ab, ba = _binned_w(a, b, edges), _binned_w(b, a, edges)
    assert ab == ba == _binned_w(a, b, edges) and ab > 0
    assert _binned_w(a, a, edges) == 0.0
    empty = np.zeros(len(edges) + 1)
    assert math.isnan(wasserstein_from_bins(edges, binned(a, edges), empty, (a.min(), a.max()), (math.inf, -math.inf)))
    with pytest.raises(ValueError):
        wasserstein_from_bins(edges, np.ones(3), np.ones(3), (0.0, 1.0), (0.0, 1.0))


def _ecdf(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(values), grid, side="right") / len(values)


@pytest.mark.parametrize("draw", ["normal", "uniform", "lognormal"])
def test_wasserstein_noise_matches_the_raw_sample_formula(draw):
    rng = np.random.default_rng(4)
    sample = {"normal": rng.normal(0.0, 1.0, 5000), "uniform": rng.uniform(0.0, 1.0, 5000),
              "lognormal": rng.lognormal(0.0, 0.5, 5000)}[draw]
    edges, _ = profile_edges(sample)
    noise = wasserstein_noise_from_bins(edges, binned(sample, edges), (sample.min(), sample.max()))
    grid = np.linspace(sample.min() - 1.0, sample.max() + 1.0, 400_001)
    f = _ecdf(sample, grid)
    direct = math.sqrt(2.0 / math.pi) * np.trapezoid(np.sqrt(f * (1.0 - f)), grid) / math.sqrt(len(sample))
    assert noise == pytest.approx(direct, rel=0.02)


def test_wasserstein_noise_is_the_mean_distance_of_samples_to_their_population():
    rng = np.random.default_rng(6)
    grid = np.linspace(-7.0, 7.0, 100_001)
    distances = [np.trapezoid(np.abs(_ecdf(s, grid) - norm.cdf(grid)), grid) for s in rng.normal(size=(200, 2000))]
    reference = rng.normal(size=2000)
    edges, _ = profile_edges(reference)
    noise = wasserstein_noise_from_bins(edges, binned(reference, edges), (reference.min(), reference.max()))
    assert noise == pytest.approx(np.mean(distances), rel=0.08)  # about 1.29 / sqrt(2000) = 0.029


def test_wasserstein_noise_edge_cases():
    edges = np.array([0.0, 1.0])
    assert math.isnan(wasserstein_noise_from_bins(edges, np.zeros(3), (math.inf, -math.inf)))
    assert wasserstein_noise_from_bins(edges, np.array([0, 5, 0]), (0.5, 0.5)) == pytest.approx(
        math.sqrt(2 / math.pi) * math.pi / 8 / math.sqrt(5))  # spread evenly over the one bin
    with pytest.raises(ValueError):
        wasserstein_noise_from_bins(edges, np.ones(2), (0.0, 1.0))


@pytest.mark.parametrize("n", [20, 99, 100, 200, 1000, 5000, 30000])
@pytest.mark.parametrize("z", [0.8, 1.5, 2.5, 3.0])  # statistic in units of 1/sqrt(n): p from 0.5 to 1e-8
def test_the_p_value_is_within_seven_percent_of_the_finite_sample_law(n: int, z: float) -> None:
    from scipy.stats import kstwo

    shift = round(z * math.sqrt(n) * 2)  # two samples of 2n rows each: effective size n
    reference, window = np.array([n, n]), np.array([n + shift, n - shift])
    statistic, pvalue = ks_from_bins(reference, window)
    assert statistic == pytest.approx(shift / (2 * n))
    assert pvalue == pytest.approx(kstwo.sf(statistic, n), rel=0.07)
