"""The count tests against scipy.stats, which computes the same functions more slowly."""

from __future__ import annotations

import itertools

import pytest
from scipy.stats import binom, poisson

from streamer.stats.counts import binomial_excess_pvalue, poisson_range


@pytest.mark.parametrize("n", [1, 3, 10, 100, 1000, 100_000])
@pytest.mark.parametrize("p0", [0.0, 1e-6, 0.001, 0.01, 0.1, 0.5, 0.99, 1.0])
def test_binomial_excess_pvalue_is_scipys_survival_function(n: int, p0: float) -> None:
    for k in sorted({0, 1, 2, n // 3, n // 2, n - 1, n, n + 1}):
        expected = 1.0 if k <= 0 else float(binom.sf(k - 1, n, p0))
        assert binomial_excess_pvalue(k, n, p0) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_poisson_range_is_scipys_two_sided_range() -> None:
    means = [0.01, 0.3, 1.0, 2.5, 7.0, 20.0, 99.5, 100.0, 1234.0, 1e5]
    for mean, alpha in itertools.product(means, [1e-6, 1e-3, 0.01, 0.05, 0.5]):
        expected = (int(poisson.ppf(alpha / 2, mean)), int(poisson.isf(alpha / 2, mean)))
        assert poisson_range(mean, alpha) == expected, (mean, alpha)
    assert poisson_range(0.0, 0.01) == (0, 0)
