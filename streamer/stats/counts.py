"""Exact tests on counts, shared by the operational and data-quality rules.

Every rule that decides from a window's counts asks the same two questions: is the count more than
chance under the baseline rate (a one-sided binomial or Poisson test), and is the effect big enough
to matter (a floor the rule sets). The test keeps small windows quiet (1 error in 3 events is no
evidence); the floor keeps huge windows from alarming on tiny shifts.

>>> f"{binomial_excess_pvalue(1, 3, 0.01):.3f}", f"{binomial_excess_pvalue(30, 100, 0.1):.1e}"
('0.030', '2.4e-08')
>>> poisson_range(100.0, 0.001)
(69, 134)
>>> smoothed_rate(0, 1000)
0.0004995004995004995
"""

from __future__ import annotations

import math

from scipy import special

# scipy.special directly: ``scipy.stats.binom.sf`` and ``poisson.ppf`` compute the same functions
# (tests/unit/stats/test_counts.py checks equality) behind ~100 us of argument handling per call, and
# a window close asks several of these per feature.


def binomial_excess_pvalue(k: int, n: int, p0: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p0): how surprising ``k`` or more hits in ``n`` are."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return float(special.bdtrc(k - 1, n, min(max(p0, 0.0), 1.0)))


def poisson_range(mean: float, alpha: float) -> tuple[int, int]:
    """The two-sided ``1 - alpha`` range of a Poisson count with this mean."""
    if mean <= 0:
        return 0, 0
    return _poisson_ppf(alpha / 2, mean), _poisson_ppf(1.0 - alpha / 2, mean)


def _poisson_ppf(q: float, mean: float) -> int:
    # The smallest k with P(X <= k) >= q, as scipy.stats.poisson.ppf finds it.
    k = max(math.ceil(special.pdtrik(q, mean)), 0)
    return k - 1 if k > 0 and special.pdtr(k - 1, mean) >= q else k


def smoothed_rate(k: int, n: int) -> float:
    """A rate estimated from k of n that is never exactly 0 or 1 (Jeffreys' prior)."""
    return (k + 0.5) / (n + 1.0) if n >= 0 else math.nan
