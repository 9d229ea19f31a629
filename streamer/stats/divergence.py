"""Distances between two histograms over the same bins.

Every function takes two count (or probability) vectors ``p`` and ``q`` of the same length,
normalises each to shares and returns a plain ``float``; when either vector sums to zero the
distance is undefined and ``nan`` is returned. ``p`` is the reference where the order matters.

* :func:`tvd`, :func:`hellinger` and :func:`symmetric_kl` follow MLRun's
  ``mlrun/model_monitoring/metrics/histogram_distance.py`` (``TotalVarianceDistance``,
  ``HellingerDistance``, ``KullbackLeiblerDivergence`` with ``zero_scaling=1e-4``).
* :func:`jensen_shannon` is the Jensen-Shannon *distance* of ``scipy.spatial.distance.jensenshannon``
  with the natural logarithm, which Evidently thresholds at 0.1 for categorical columns
  (Lin, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory 37, 1991).
* :func:`psi` is the population stability index with empty shares set to ``1e-4`` as Evidently does
  (Yurdakul, "Statistical properties of population stability index", 2018).

>>> import numpy as np
>>> p, q = np.array([10, 30, 60, 0]), np.array([20, 20, 40, 20])
>>> [round(f(p, q), 4) for f in (tvd, hellinger, symmetric_kl, jensen_shannon, psi, linf)]
[0.3, 0.3518, 1.7111, 0.3048, 1.7104, 0.2]
>>> tvd(np.zeros(3), np.ones(3))
nan
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import rel_entr

EMPTY_SHARE = 1e-4  # MLRun's zero_scaling and Evidently's PSI floor for an empty bin


def shares(counts: np.ndarray) -> np.ndarray | None:
    """``counts`` as float shares summing to one; ``None`` when they sum to zero.

    >>> shares(np.array([1, 3])).tolist(), shares(np.zeros(2))
    ([0.25, 0.75], None)
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total > 0 else None


def _pair(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    if np.shape(p) != np.shape(q):
        raise ValueError(f"histograms over different bins: {np.shape(p)} and {np.shape(q)}")
    p_shares, q_shares = shares(p), shares(q)
    return None if p_shares is None or q_shares is None else (p_shares, q_shares)


def tvd(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance ``sum|p - q| / 2``, in [0, 1]."""
    pair = _pair(p, q)
    if pair is None:
        return math.nan
    return float(min(np.abs(pair[0] - pair[1]).sum() / 2, 1.0))


def hellinger(p: np.ndarray, q: np.ndarray) -> float:
    """Hellinger distance ``sqrt(max(1 - sum sqrt(p q), 0))``, in [0, 1] (MLRun's form)."""
    pair = _pair(p, q)
    if pair is None:
        return math.nan
    return float(math.sqrt(max(1.0 - float(np.sqrt(pair[0] * pair[1]).sum()), 0.0)))


def _kl_mlrun(actual: np.ndarray, expected: np.ndarray, empty: float) -> float:
    # MLRun's _calc_kl_div: 0 log 0 = 0, and an empty expected share becomes ``empty``.
    mask = actual > 0
    expected = np.where(expected[mask] > 0, expected[mask], empty)
    return float((actual[mask] * np.log(actual[mask] / expected)).sum())


def symmetric_kl(p: np.ndarray, q: np.ndarray, empty: float = EMPTY_SHARE) -> float:
    """``KL(p||q) + KL(q||p)`` as MLRun computes it.

    Terms where the first argument's share is zero are dropped (0 log 0 = 0); where only the second
    argument's share is zero it is replaced by ``empty`` (not renormalised), which keeps the value
    finite: at most about ``2 ln(1/empty)`` = 18.4 for the default.

    >>> round(symmetric_kl(np.array([1, 0]), np.array([0, 1])), 4)
    18.4207
    """
    pair = _pair(p, q)
    if pair is None:
        return math.nan
    return _kl_mlrun(pair[0], pair[1], empty) + _kl_mlrun(pair[1], pair[0], empty)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (square root of the divergence, natural log), in [0, sqrt(ln 2)]."""
    pair = _pair(p, q)
    if pair is None:
        return math.nan
    middle = (pair[0] + pair[1]) / 2
    divergence = (rel_entr(pair[0], middle).sum() + rel_entr(pair[1], middle).sum()) / 2
    return float(min(math.sqrt(max(float(divergence), 0.0)), math.sqrt(math.log(2))))


def psi(p: np.ndarray, q: np.ndarray, empty: float = EMPTY_SHARE) -> float:
    """Population stability index ``sum (q - p) ln(q / p)`` with ``p`` the reference.

    Empty shares in either vector are set to ``empty`` (not renormalised), as in Evidently.

    >>> round(psi(np.array([50, 50]), np.array([60, 40])), 4)
    0.0405
    """
    pair = _pair(p, q)
    if pair is None:
        return math.nan
    p, q = (np.where(x > 0, x, empty) for x in pair)
    return float(((q - p) * np.log(q / p)).sum())


def linf(p: np.ndarray, q: np.ndarray) -> float:
    """Largest difference of a single share, ``max|p - q|``."""
    pair = _pair(p, q)
    if pair is None:
        return math.nan
    return float(np.abs(pair[0] - pair[1]).max(initial=0.0))
