"""Helpers shared by the drift statistics tests: binning raw samples the way the sketches do."""

from __future__ import annotations

import numpy as np

from streamer.sketches.numeric import NumericSketch


def binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of raw ``values`` with np.histogram over ``edges`` plus the two open tails."""
    inner = np.histogram(values, bins=edges)[0]
    return np.concatenate([[np.sum(values < edges[0])], inner, [np.sum(values > edges[-1])]])


def profile_edges(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fine edges, MLRun edges): 21 equal-width edges over min..max united with the 5%..95% quantiles."""
    mlrun = np.linspace(reference.min(), reference.max(), 21)
    quantiles = np.quantile(reference, np.arange(1, 20) / 20)
    return np.unique(np.concatenate([mlrun, quantiles])), mlrun


def sketch(values: np.ndarray, edges: np.ndarray) -> NumericSketch:
    result = NumericSketch(edges)
    result.update(np.asarray(values, dtype=np.float64))
    return result
