"""A feature's distribution in the reference and in one window, coarse enough to draw.

Numeric columns use the reference's MLRun bins (20 equal-width bins over the reference range plus
two open tails), categorical columns the union of the top categories; both as counts, so the
dashboard draws the reference against the window without downloading the reference profile.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamer.sketches.categorical import CategoricalSketch
from streamer.sketches.numeric import NumericSketch
from streamer.stats.drift import coarse_counts, memoised, reference_coarse_key

TOP_CATEGORIES = 12


def numeric_distribution(reference: NumericSketch, window: NumericSketch, mlrun_edges: np.ndarray) -> dict[str, Any]:
    """Counts of both over ``mlrun_edges`` (``len(edges) + 1`` bins: the first and last are open tails).

    >>> ref, win = NumericSketch(np.array([0.0, 1.0, 2.0])), NumericSketch(np.array([0.0, 1.0, 2.0]))
    >>> ref.update(np.array([0.5, 1.5, 1.5])); win.update(np.array([1.5, 3.0]))
    >>> numeric_distribution(ref, win, np.array([0.0, 2.0]))
    {'edges': [0.0, 2.0], 'reference': [0, 3, 0], 'window': [0, 1, 1]}
    """
    assert reference.edges is not None and window.edges is not None
    assert reference.counts is not None and window.counts is not None
    key = reference_coarse_key(reference, mlrun_edges)
    edges, reference_counts = memoised(reference, "distribution:" + key, lambda: (
        np.asarray(mlrun_edges, dtype=np.float64).tolist(), coarse_counts(reference, mlrun_edges, key).astype(int).tolist()))
    # Lists copied: a summary is a document of its own, never sharing a list with the next one.
    return {"edges": list(edges), "reference": list(reference_counts),
            "window": coarse_counts(window, mlrun_edges, key).astype(int).tolist()}


def categorical_distribution(reference: CategoricalSketch, window: CategoricalSketch) -> dict[str, Any]:
    """Counts of the most frequent categories of either side; the rest, and "other", summed last.

    >>> ref, win = CategoricalSketch(), CategoricalSketch()
    >>> ref.update(["a"] * 6 + ["b"] * 4); win.update(["a"] * 3 + ["c"] * 5)
    >>> categorical_distribution(ref, win)
    {'categories': ['a', 'c', 'b'], 'reference': [6, 0, 4], 'window': [3, 5, 0], 'rest': [0, 0]}
    """
    both = {name: reference.counts.get(name, 0) + window.counts.get(name, 0)
            for name in set(reference.counts) | set(window.counts)}
    names = sorted(both, key=lambda n: (-both[n], n))[:TOP_CATEGORIES]
    ref = [int(reference.counts.get(n, 0)) for n in names]
    win = [int(window.counts.get(n, 0)) for n in names]
    rest = [int(sum(reference.counts.values()) + reference.other - sum(ref)),
            int(sum(window.counts.values()) + window.other - sum(win))]
    return {"categories": names, "reference": ref, "window": win, "rest": rest}
