"""The fixed bins a reference profile lays over each numeric column.

Two partitions, one nested in the other:

- the **MLRun partition**: 20 equal-width bins over the reference's min..max plus two open tails,
  as MLRun's model monitoring uses, so TVD, Hellinger and KL read the same as there;
- the **fine partition**: the MLRun edges united with the reference's 5%, 10%, ..., 95% quantiles.
  Equal-width bins put almost everything into one or two bins on a skewed column; the quantile
  edges keep every part of the distribution resolved for the KS test.

Every MLRun edge is a fine edge, so window counts kept over the fine partition give the MLRun
counts exactly by summing (:func:`streamer.stats.drift.coarsen`).

>>> import numpy as np
>>> fine, mlrun = edges_from_values(np.arange(0.0, 101.0))
>>> len(mlrun), mlrun[:3].tolist(), len(fine)
(21, [0.0, 5.0, 10.0], 21)
>>> edges_from_values(np.array([3.0, 3.0]))[1].tolist()
[3.0, 3.000000000003]
"""

from __future__ import annotations

import numpy as np

MLRUN_BINS = 20
FINE_QUANTILES = np.round(np.arange(0.05, 0.951, 0.05), 2)


def _mlrun_edges(low: float, high: float) -> np.ndarray:
    # Values that differ only in their last digits give repeated edges: unique them.
    edges = np.unique(np.linspace(low, high, MLRUN_BINS + 1)) if high > low else np.empty(0)
    if len(edges) < 2:
        # A constant column: one narrow bin holds the constant, so any change shows in the tails.
        return np.array([low, low + max(abs(low) * 1e-12, 1e-12)])
    return edges


def _union(mlrun: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    inside = quantiles[(quantiles > mlrun[0]) & (quantiles < mlrun[-1])]
    # Drop quantiles that fall (up to rounding) on an MLRun edge: every MLRun edge must stay a fine edge.
    tolerance = (mlrun[-1] - mlrun[0]) * 1e-9
    nearest = np.abs(inside[:, None] - mlrun[None, :]).min(axis=1) if len(inside) else inside
    return np.unique(np.concatenate([mlrun, inside[nearest > tolerance]]))


def edges_from_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fine edges, MLRun edges) of the finite ``values``."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return np.array([0.0, 1e-12]), np.array([0.0, 1e-12])
    mlrun = _mlrun_edges(float(finite.min()), float(finite.max()))
    return _union(mlrun, np.quantile(finite, FINE_QUANTILES)), mlrun


def edges_from_sketch(minimum: float, maximum: float, quantiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fine edges, MLRun edges) from a sketch's extremes and its FINE_QUANTILES quantiles."""
    mlrun = _mlrun_edges(minimum, maximum)
    return _union(mlrun, np.asarray(quantiles, dtype=np.float64)), mlrun
