"""Two-sample tests on binned counts and quantile sketches (a window against its reference).

* :func:`ks_from_bins` - Kolmogorov-Smirnov on cumulative bin counts. Its p-value is that of
  ``scipy.stats.ks_2samp(..., method="asymp")``, the Kolmogorov distribution at the effective size
  ``round(nm/(n+m))`` (Hodges, "The significance probability of the Smirnov two-sample test", Ark. Mat. 3,
  1958); from n = 100 on it is taken from Stephens' approximation
  ``kolmogorov((sqrt(n) + 0.12 + 0.11/sqrt(n)) d)`` (Stephens, "Use of the Kolmogorov-Smirnov,
  Cramer-von Mises and related statistics without extensive tables", JRSS B 32, 1970): within 7% of
  scipy's finite-n law for p down to 1e-8 (and larger, so conservative, below 1e-12), at a thousandth of
  its cost (0.3 us against 0.3 to 36 ms a call).
* :func:`chi2_two_sample` - Pearson's chi-square on the 2 x k table, rare bins merged first
  (Cochran, "Some methods for strengthening the common chi-square tests", Biometrics 10, 1954).
* :func:`wasserstein_from_sketches` - the 1-Wasserstein distance between two KLL sketches.
* :func:`wasserstein_from_bins` - the 1-Wasserstein distance between two binned samples, exact and
  deterministic given the counts.
* :func:`wasserstein_noise_from_bins` - the expected 1-Wasserstein distance between a sample of the
  binned size and the distribution it was drawn from: the sample's own sampling noise.

>>> import numpy as np
>>> statistic, pvalue = ks_from_bins(np.array([10, 20, 30, 40]), np.array([40, 30, 20, 10]))
>>> round(statistic, 4), f"{pvalue:.1e}"
(0.4, '9.9e-08')
>>> stat, pvalue, dof = chi2_two_sample(np.array([50, 50, 1]), np.array([80, 20, 2]))
>>> round(stat, 2), round(pvalue, 5), dof
(18.44, 2e-05, 1)
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import kolmogorov
from scipy.stats import chi2, kstwo

from streamer.sketches.quantiles import QuantileSketch

#: From this effective size on, Stephens' approximation replaces scipy's slow finite-n law.
STEPHENS_MIN_N = 100


@functools.lru_cache(maxsize=8192)
def _kstwo_sf(statistic: float, effective_n: int) -> float:
    """scipy's finite-n law, remembered: at small sizes the binned statistic takes few distinct values
    (multiples of 1/n when both samples have n rows), and one call costs up to milliseconds, so a
    thousand models closing windows of a hundred rows would spend most of their time here.

    >>> _kstwo_sf(0.5, 10) == float(kstwo.sf(0.5, 10))
    True
    """
    return float(kstwo.sf(statistic, effective_n))


def ks_from_bins(reference_counts: np.ndarray, window_counts: np.ndarray) -> tuple[float, float]:
    """KS statistic ``max |F_r - F_w|`` over the bin edges and its asymptotic two-sided p-value.

    The empirical CDFs are only seen at the bin edges, so the statistic is a lower bound of the KS
    statistic on the raw samples; inside a bin either CDF moves by at most that bin's share, so the
    raw statistic exceeds the binned one by at most the largest single-bin share in either sample
    (``ks_error_bound`` in :mod:`streamer.stats.drift`). The two agree exactly when each bin holds at
    most one distinct value of the pooled samples. A smaller statistic means a larger p-value, so the
    binned p-value is conservative: it never alarms more often than the raw-sample test.
    ``(nan, nan)`` when either sample is empty; the p-value is ``nan`` for two single values.

    >>> ks_from_bins(np.array([5, 5]), np.array([5, 5]))
    (0.0, 1.0)
    """
    reference = np.asarray(reference_counts, dtype=np.int64)
    window = np.asarray(window_counts, dtype=np.int64)
    if reference.shape != window.shape:
        raise ValueError(f"counts over different bins: {reference.shape} and {window.shape}")
    n, m = int(reference.sum()), int(window.sum())
    if n <= 0 or m <= 0:
        return math.nan, math.nan
    statistic = float(np.abs(np.cumsum(reference) / n - np.cumsum(window) / m).max())
    statistic = min(max(statistic, 0.0), 1.0)
    effective_n = np.round(n * m / (n + m))  # 0 only for n = m = 1, where the test is undefined
    if not effective_n:
        return statistic, math.nan
    if effective_n < STEPHENS_MIN_N:
        pvalue = _kstwo_sf(statistic, int(effective_n))
    else:
        root_n = math.sqrt(effective_n)
        pvalue = float(kolmogorov((root_n + 0.12 + 0.11 / root_n) * statistic))
    return statistic, min(max(pvalue, 0.0), 1.0)


def _merge_rare(columns: np.ndarray, need: float) -> np.ndarray:
    # Pool the smallest columns until every column left, and the pool, reaches ``need``.
    order = np.argsort(columns, kind="stable")
    pooled, i = 0.0, 0
    while i < len(order) and (columns[order[i]] < need or 0 < pooled < need):
        pooled += columns[order[i]]
        i += 1
    labels = np.empty(len(columns), dtype=np.int64)
    labels[order[:i]] = 0
    labels[order[i:]] = np.arange(1, len(order) - i + 1)
    return labels


def _merge_adjacent(columns: np.ndarray, need: float) -> np.ndarray:
    # Sweep left to right closing a group once it reaches ``need``; a short tail joins the last group.
    labels = np.empty(len(columns), dtype=np.int64)
    group, total = 0, 0.0
    for j, column in enumerate(columns):
        labels[j] = group
        total += column
        if total >= need:
            group, total = group + 1, 0.0
    if 0 < group and (labels == group).any():
        labels[labels == group] = group - 1
    return labels


def chi2_two_sample(
    reference_counts: np.ndarray, window_counts: np.ndarray, min_expected: float = 5.0, ordered: bool = False
) -> tuple[float, float, int]:
    """Pearson's chi-square test of homogeneity on the 2 x k table ``[reference, window]``.

    Bins whose expected count in either row is below ``min_expected`` are merged first: for unordered
    categories the rarest ones are pooled into one bin (``ordered=False``), for ordered bins adjacent
    bins are joined (``ordered=True``). Bins empty in both rows are dropped. No continuity correction:
    equal to ``scipy.stats.chi2_contingency(table, correction=False)`` on the merged table.
    Returns ``(statistic, pvalue, dof)``; ``(0.0, 1.0, 0)`` when fewer than two bins remain or a row
    is empty.

    >>> chi2_two_sample(np.array([3, 1, 1]), np.array([2, 2, 1]))
    (0.0, 1.0, 0)
    >>> chi2_two_sample(np.array([30, 2, 1, 30]), np.array([30, 1, 2, 30]), ordered=True)[2]
    1
    """
    table = np.vstack([np.asarray(reference_counts), np.asarray(window_counts)]).astype(np.float64)
    rows = table.sum(axis=1)
    if rows.min() <= 0:
        return 0.0, 1.0, 0
    total = float(rows.sum())
    columns = table.sum(axis=0)
    need = min_expected * total / float(rows.min())  # column total giving min_expected in the smaller row
    labels = (_merge_adjacent if ordered else _merge_rare)(columns, need)
    merged = np.vstack([np.bincount(labels, weights=row) for row in table])
    merged = merged[:, merged.sum(axis=0) > 0]
    if merged.shape[1] < 2:
        return 0.0, 1.0, 0
    expected = np.outer(rows, merged.sum(axis=0)) / total
    statistic = float(((merged - expected) ** 2 / expected).sum())
    dof = merged.shape[1] - 1
    return statistic, float(np.clip(chi2.sf(statistic, dof), 0.0, 1.0)), dof


def wasserstein_weighted(
    u: np.ndarray, u_weights: np.ndarray, v: np.ndarray, v_weights: np.ndarray
) -> float:
    """``integral |F_u - F_v| dx`` between two weighted samples (``u`` and ``v`` sorted ascending).

    >>> wasserstein_weighted(np.array([0.0, 1.0]), np.array([1.0, 1.0]), np.array([2.0]), np.array([1.0]))
    1.5
    """
    if not len(u) or not len(v):
        return math.nan
    support = np.sort(np.concatenate([u, v]), kind="mergesort")
    u_cdf = np.concatenate([[0.0], np.cumsum(u_weights)]) / float(np.sum(u_weights))
    v_cdf = np.concatenate([[0.0], np.cumsum(v_weights)]) / float(np.sum(v_weights))
    u_at = u_cdf[np.searchsorted(u, support[:-1], side="right")]
    v_at = v_cdf[np.searchsorted(v, support[:-1], side="right")]
    return float(np.sum(np.abs(u_at - v_at) * np.diff(support)))


def wasserstein_from_sketches(ref: QuantileSketch, win: QuantileSketch) -> float:
    """W1 between the weighted empirical distributions retained by two KLL sketches.

    Exact when both sketches are exact (fewer than about ``k`` values each). Otherwise each sketched
    CDF is within the sketch's rank error ``eps`` (:attr:`QuantileSketch.rank_error`) of the true one,
    so the error is at most about ``(eps_ref + eps_win) * (max - min)`` of the pooled values, and in
    practice much smaller: for two samples of 20,000 normal values at ``k=200`` (``eps`` = 0.013) it
    averaged 0.01 std, with 0.04 std the largest of 200 trials (the tests allow ``3 (eps_ref + eps_win)``
    pooled std). KLL compaction is randomised, so the error varies from run to run.
    ``nan`` when either sketch is empty.

    >>> a, b = QuantileSketch(), QuantileSketch()
    >>> a.update(np.array([1.0, 2.0, 3.0])); b.update(np.array([2.0, 3.0, 4.0]))
    >>> wasserstein_from_sketches(a, b)
    1.0
    """
    u, u_weights = ref.weighted_items()
    v, v_weights = win.weighted_items()
    return wasserstein_weighted(u, u_weights, v, v_weights)


def _check_bins(edges: np.ndarray, counts: np.ndarray) -> None:
    if edges.ndim != 1 or len(edges) < 1 or counts.shape != (len(edges) + 1,):
        raise ValueError(f"counts need len(edges) + 1 = {len(edges) + 1} entries, got shape {counts.shape}")


def _abs_linear(left: np.ndarray, right: np.ndarray, width: np.ndarray) -> float:
    # Sum over segments of the integral of |g|, g linear from `left` to `right` over `width`; where g
    # changes sign the segment holds two triangles, (l^2 + r^2) / (2 (|l| + |r|)) of its width.
    both = np.abs(left) + np.abs(right)
    crossing = np.divide(left * left + right * right, 2.0 * both, out=np.zeros_like(both), where=both > 0)
    return float(np.sum(np.where(left * right >= 0, both / 2.0, crossing) * width))


def _abs_linear_segment(left: float, right: float, width: float) -> float:
    # One segment of _abs_linear, in plain floats.
    both = abs(left) + abs(right)
    if left * right >= 0:
        return both / 2.0 * width
    return (left * left + right * right) / (2.0 * both) * width


def _tail_share(share: float, reach: float, distance: float) -> float:
    # Share of a sample beyond `distance` past an edge, its tail `share` spread evenly over `reach`.
    return share * (1.0 - distance / reach) if distance < reach else 0.0


def _tail_gap(reference: tuple[float, float], window: tuple[float, float]) -> float:
    """Integral of |F_r - F_w| over an open tail; each sample's ``(share, reach)`` spread evenly from the edge."""
    total, previous, gap = 0.0, 0.0, reference[0] - window[0]
    for distance in sorted((reference[1], window[1])):
        following = _tail_share(*reference, distance) - _tail_share(*window, distance)
        total += _abs_linear_segment(gap, following, distance - previous)
        previous, gap = distance, following
    return total


def wasserstein_from_bins(
    edges: np.ndarray, reference_counts: np.ndarray, window_counts: np.ndarray,
    reference_range: tuple[float, float], window_range: tuple[float, float],
) -> float:
    """W1 ``integral |F_r - F_w| dx`` between two binned samples, each bin's count spread evenly over it.

    Both count vectors are over ``edges`` plus two open tails; each ``*_range`` is that sample's
    ``(min, max)``, which closes its tails: values below ``edges[0]`` are spread over
    ``[min, edges[0])``, values above ``edges[-1]`` over ``(edges[-1], max]``. Both CDFs are then
    piecewise linear, and so is their difference; the integral of its absolute value is exact, crossings
    of zero inside a segment included. The result is the exact W1 between the two histogram
    distributions, a deterministic function of the counts and the extremes.

    Against W1 on the raw samples: inside every inner bin both the raw and the binned ``|F_r - F_w|``
    run between the same values at the bin's edges, so over a bin both integrals lie between the bin's
    width times the gap between the ranges ``[F_r(a), F_r(b)]`` and ``[F_w(a), F_w(b)]`` and its width
    times ``max(|F_r(a) - F_w(b)|, |F_r(b) - F_w(a)|)``. In practice the two agree far more closely:
    over the fine partition of a 5,000-row reference (about 40 bins) and windows of normal, lognormal or
    uniform values, 99% of the differences were below 0.003 reference standard deviations at 10,000
    values per window, 0.005 at 1,000 and 0.011 at 200, against 0.024, 0.030 and 0.010 for
    :func:`wasserstein_from_sketches` with ``k=200``. The tails are the coarsest part: a window mostly
    beyond the reference's range is taken as spread evenly up to its extreme (for a 3 std shift of a
    normal window the distance comes out about 10% high). ``nan`` when either sample is empty.

    >>> edges = np.array([0.0, 1.0, 2.0])
    >>> wasserstein_from_bins(edges, np.array([0, 10, 0, 0]), np.array([0, 0, 10, 0]), (0.0, 1.0), (1.0, 2.0))
    1.0
    >>> # five values above edges[-1], the largest 4.0: spread over (2, 4], so W1(U(0, 1), U(2, 4)) = 3 - 0.5
    >>> wasserstein_from_bins(edges, np.array([0, 10, 0, 0]), np.array([0, 0, 0, 5]), (0.0, 1.0), (2.5, 4.0))
    2.5
    """
    edges = np.asarray(edges, dtype=np.float64)
    reference = np.asarray(reference_counts, dtype=np.float64)
    window = np.asarray(window_counts, dtype=np.float64)
    _check_bins(edges, reference)
    _check_bins(edges, window)
    n, m = float(reference.sum()), float(window.sum())
    if n <= 0 or m <= 0:
        return math.nan
    gap = np.cumsum(reference[:-1]) / n - np.cumsum(window[:-1]) / m  # F_r - F_w at every edge
    low, high = float(edges[0]), float(edges[-1])
    below = _tail_gap((float(reference[0]) / n, max(low - reference_range[0], 0.0)),
                      (float(window[0]) / m, max(low - window_range[0], 0.0)))
    above = _tail_gap((float(reference[-1]) / n, max(reference_range[1] - high, 0.0)),
                      (float(window[-1]) / m, max(window_range[1] - high, 0.0)))
    return _abs_linear(gap[:-1], gap[1:], np.diff(edges)) + below + above


def _integral_sqrt_f_one_minus_f(u: np.ndarray) -> np.ndarray:
    # An antiderivative of sqrt(u (1 - u)) on [0, 1].
    u = np.clip(u, 0.0, 1.0)
    return (2.0 * u - 1.0) / 4.0 * np.sqrt(u * (1.0 - u)) + np.arcsin(2.0 * u - 1.0) / 8.0


def wasserstein_noise_from_bins(edges: np.ndarray, counts: np.ndarray, value_range: tuple[float, float]) -> float:
    """Expected W1 between a sample of ``n = counts.sum()`` values and the distribution they came from.

    ``sqrt(2 / pi) * integral sqrt(F (1 - F)) dx / sqrt(n)``, with ``F`` the binned sample's piecewise
    linear CDF (as in :func:`wasserstein_from_bins`; ``value_range`` is its ``(min, max)``), standing in for
    the unknown distribution. This is the large-sample mean of ``W1(F_n, F)``: ``sqrt(n) (F_n - F)`` tends
    to a Brownian bridge ``B(F(x))`` and ``E |B(t)| = sqrt(2 t (1 - t) / pi)`` (del Barrio, Gine and
    Matran, "Central limit theorems for the Wasserstein distance between the empirical and the true
    distributions", Ann. Probab. 27, 1999). For a normal sample it is ``1.29 std / sqrt(n)``, for a
    uniform one ``1.09 std / sqrt(n)``. A fixed reference sample is off from its population by this
    much on average, however large the windows compared with it. ``nan`` for an empty sample.

    >>> edges = np.linspace(0.0, 1.0, 101)
    >>> noise = wasserstein_noise_from_bins(edges, np.array([0] + [100] * 100 + [0]), (0.0, 1.0))
    >>> round(noise * math.sqrt(10_000), 4), round(math.sqrt(2 / math.pi) * math.pi / 8, 4)  # uniform(0, 1)
    (0.3133, 0.3133)
    """
    edges = np.asarray(edges, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    _check_bins(edges, counts)
    n = counts.sum()
    if n <= 0:
        return math.nan
    # Knots of the piecewise-linear CDF: the tails closed by the extremes (zero width when not reached).
    x = np.concatenate([[min(value_range[0], edges[0])], edges, [max(value_range[1], edges[-1])]])
    f = np.concatenate([[0.0], np.cumsum(counts)]) / n
    rise, width = np.diff(f), np.diff(x)
    # Over a segment where F rises linearly from a to b: width * (G(b) - G(a)) / (b - a); flat: width * sqrt(a (1 - a)).
    antiderivative = _integral_sqrt_f_one_minus_f(f)
    sloped = np.divide(np.diff(antiderivative), rise, out=np.zeros_like(rise), where=rise > 1e-12)
    flat = np.sqrt(np.clip(f[:-1] * (1.0 - f[:-1]), 0.0, None))
    integral = float(np.sum(np.where(rise > 1e-12, sloped, flat) * width))
    return math.sqrt(2.0 / math.pi) * integral / math.sqrt(n)
