from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import chebyshev, jensenshannon
from scipy.stats import entropy

from streamer.stats.divergence import hellinger, jensen_shannon, linf, psi, symmetric_kl, tvd
from tests.unit.stats.samples import binned

ALL = (tvd, hellinger, symmetric_kl, jensen_shannon, psi, linf)


@pytest.fixture(params=[0, 1, 2])
def histograms(request) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counts of two raw samples over the same bins, and their shares computed from the raw sizes."""
    rng = np.random.default_rng(request.param)
    a, b = rng.normal(0.0, 1.0, 3000), rng.normal(0.3, 1.3, 2000)
    edges = np.linspace(-3.0, 3.0, 21)
    p, q = binned(a, edges), binned(b, edges)
    return p, q, p / len(a), q / len(b)


def test_tvd_and_linf_match_direct_formulas(histograms):
    p, q, pa, qa = histograms
    assert tvd(p, q) == pytest.approx(1.0 - np.minimum(pa, qa).sum(), abs=1e-12)
    assert linf(p, q) == pytest.approx(chebyshev(pa, qa), abs=1e-12)


def test_hellinger_matches_the_textbook_form(histograms):
    p, q, pa, qa = histograms
    textbook = math.sqrt(0.5 * ((np.sqrt(pa) - np.sqrt(qa)) ** 2).sum())
    assert hellinger(p, q) == pytest.approx(textbook, abs=1e-9)


def test_jensen_shannon_matches_scipy(histograms):
    p, q, pa, qa = histograms
    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(pa, qa), abs=1e-12)
    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q), abs=1e-12)


def test_symmetric_kl_matches_scipy_without_empty_bins(histograms):
    p, q, pa, qa = histograms
    p, q, pa, qa = p + 1, q + 1, (p + 1) / (p + 1).sum(), (q + 1) / (q + 1).sum()
    assert symmetric_kl(p, q) == pytest.approx(entropy(pa, qa) + entropy(qa, pa), rel=1e-12)


def test_symmetric_kl_with_empty_bins_follows_mlrun():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.0, 0.75])
    # KL(p||q): the empty q share becomes 1e-4; KL(q||p): same for p; 0 log 0 terms drop out.
    direct = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 1e-4)
    direct += 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 1e-4)
    assert symmetric_kl(p, q) == pytest.approx(direct, rel=1e-12)


def test_psi_matches_a_loop(histograms):
    p, q, pa, qa = histograms
    total = 0.0
    for reference, current in zip(pa, qa, strict=True):
        reference, current = reference or 1e-4, current or 1e-4
        total += (current - reference) * math.log(current / reference)
    assert psi(p, q) == pytest.approx(total, rel=1e-12)


def test_counts_and_shares_give_the_same_value(histograms):
    p, q, pa, qa = histograms
    for metric in ALL:
        assert metric(p, q) == pytest.approx(metric(pa, qa), rel=1e-12, abs=1e-15)


def test_identical_histograms_are_at_distance_zero():
    p = np.array([3, 0, 7, 1])
    for metric in ALL:
        assert metric(p, 2 * p) == pytest.approx(0.0, abs=1e-7)


def test_bounded_and_finite_for_disjoint_histograms():
    p, q = np.array([1, 0]), np.array([0, 1])
    assert tvd(p, q) == 1.0 and hellinger(p, q) == 1.0 and linf(p, q) == 1.0
    assert jensen_shannon(p, q) == pytest.approx(math.sqrt(math.log(2)))
    assert math.isfinite(symmetric_kl(p, q)) and math.isfinite(psi(p, q))


def test_empty_histograms_give_nan_and_mismatched_bins_raise():
    for metric in ALL:
        assert math.isnan(metric(np.zeros(3), np.ones(3)))
        assert math.isnan(metric(np.ones(3), np.zeros(3)))
        assert isinstance(metric(np.ones(3), np.arange(3)), float)
        with pytest.raises(ValueError):
            metric(np.ones(3), np.ones(4))
