"""Per-column drift metrics of a window against the reference, computed from sketches only.

Numeric columns are compared on two partitions of the same bins:

* MLRun's partition (``mlrun_edges``: 20 equal-width bins over the reference min..max plus two open
  tails), a subset of the sketch edges, for the histogram distances MLRun reports (TVD, Hellinger,
  symmetric KL) plus Jensen-Shannon and PSI;
* the sketches' own, finer partition for the binned Kolmogorov-Smirnov test.

The 1-Wasserstein distance, in reference standard deviations (the effect size Evidently thresholds at 0.1
for large references), is reported twice:

* ``wasserstein_binned_norm`` from the exact counts over the fine partition, each bin's count spread
  evenly over the bin and the open tails closed by the sample's min and max
  (:func:`~streamer.stats.hypothesis.wasserstein_from_bins`). Deterministic, and for windows of 1,000
  events or more within 0.005 std of the raw-sample distance in 99% of windows: the effect size of the
  drift decision (:mod:`streamer.stats.decision`);
* ``wasserstein_norm`` from the KLL quantile sketches (:func:`~streamer.stats.hypothesis.wasserstein_from_sketches`),
  which do not depend on the bins but compact at random: it is off, and moves from run to run, by up to
  about 0.03 std.

``reference_noise_norm`` is the expected distance between the reference sample and the distribution it
was drawn from (:func:`~streamer.stats.hypothesis.wasserstein_noise_from_bins`), also in reference
standard deviations: the part of any window's distance that comes from the reference's own sampling
error, however large the window. Every value is a plain ``float`` (``nan`` when undefined, never
infinite), ready for JSON.

>>> import numpy as np
>>> from streamer.sketches.numeric import NumericSketch
>>> edges = np.linspace(0.0, 10.0, 11)
>>> reference, window = NumericSketch(edges), NumericSketch(edges)
>>> reference.update(np.arange(0.0, 10.0, 0.1)); window.update(np.arange(1.0, 11.0, 0.1))
>>> metrics = numeric_drift(reference, window, edges[::5])
>>> round(metrics["tvd"], 4), round(metrics["ks_statistic"], 4), round(metrics["wasserstein_norm"], 3)
(0.1, 0.1, 0.345)
>>> round(metrics["wasserstein_binned_norm"], 3), round(metrics["reference_noise_norm"], 3)
(0.343, 0.108)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from streamer.errors import SketchMismatchError
from streamer.sketches.categorical import CategoricalSketch
from streamer.sketches.numeric import NumericSketch
from streamer.stats.divergence import hellinger, jensen_shannon, linf, psi, symmetric_kl, tvd
from streamer.stats.hypothesis import (
    chi2_two_sample,
    ks_from_bins,
    wasserstein_from_bins,
    wasserstein_noise_from_bins,
    wasserstein_weighted,
)

LARGEST = 1e12  # finite stand-in for an infinite metric value


def clean(value: float) -> float:
    """A plain JSON-able float: ``nan`` stays ``nan``, infinities are clipped to +-:data:`LARGEST`.

    >>> clean(np.float64(2.5)), clean(float("inf")), clean(float("nan"))
    (2.5, 1000000000000.0, nan)
    """
    value = float(value)
    return value if math.isnan(value) else min(max(value, -LARGEST), LARGEST)


def coarsen(counts: np.ndarray, fine_edges: np.ndarray, coarse_edges: np.ndarray) -> np.ndarray:
    """Counts over ``fine_edges`` (two open tails included) summed into the bins of ``coarse_edges``.

    ``coarse_edges`` must be a subset of ``fine_edges`` with the same first and last edge.

    >>> coarsen(np.array([1, 2, 3, 4, 5]), np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 3.0])).tolist()
    [1, 9, 5]
    """
    fine = np.asarray(fine_edges, dtype=np.float64)
    coarse = np.asarray(coarse_edges, dtype=np.float64)
    index = np.searchsorted(fine, coarse)
    if (
        len(coarse) < 1 or len(np.asarray(counts)) != len(fine) + 1 or index.max() >= len(fine)
        or not np.array_equal(fine[index], coarse) or index[0] != 0 or index[-1] != len(fine) - 1
        or np.any(np.diff(index) <= 0)
    ):
        raise SketchMismatchError("coarse edges must be a subset of the fine edges sharing both ends")
    return np.add.reduceat(np.asarray(counts), np.concatenate([[0], index + 1]))


def memoised(sketch: NumericSketch, name: str, compute: Callable[[], Any]) -> Any:
    """``compute()``, kept in the sketch's memo until the sketch changes (a reference never does)."""
    if name not in sketch.memo:
        sketch.memo[name] = compute()
    return sketch.memo[name]


def coarse_key(coarse_edges: np.ndarray) -> str:
    """The memo key of a sketch's counts over ``coarse_edges``."""
    return "coarse:" + np.asarray(coarse_edges, dtype=np.float64).tobytes().hex()


def reference_coarse_key(reference: NumericSketch, coarse_edges: np.ndarray) -> str:
    """:func:`coarse_key`, kept on the reference for the edges array it is compared over.

    A reference is compared over the same MLRun edges at every close; deriving the key (and hashing a
    new string of some 350 characters at each memo lookup) was a few percent of a close.
    """
    cached = reference.memo.get("coarse_key")
    if cached is None or cached[0] is not coarse_edges:
        cached = reference.memo["coarse_key"] = (coarse_edges, coarse_key(coarse_edges))
    return cached[1]  # type: ignore[no-any-return]


def coarse_counts(sketch: NumericSketch, coarse_edges: np.ndarray, key: str | None = None) -> np.ndarray:
    """The sketch's bin counts summed into ``coarse_edges`` (see :func:`coarsen`), memoised on the sketch."""
    assert sketch.counts is not None and sketch.edges is not None
    counts, edges = sketch.counts, sketch.edges
    return memoised(sketch, key or coarse_key(coarse_edges), lambda: coarsen(counts, edges, coarse_edges))


def _largest_share(counts: np.ndarray) -> float:
    total = counts.sum()
    return float(counts.max() / total) if total > 0 else math.nan


def _missing_share(count: int, missing: int) -> float:
    return missing / (count + missing) if count + missing else math.nan


def numeric_drift(reference: NumericSketch, window: NumericSketch, mlrun_edges: np.ndarray) -> dict[str, float]:
    """Drift metrics of one numeric column; both sketches must be binned over the same edges."""
    ref_counts, win_counts = reference.counts, window.counts
    if (
        reference.edges is None or window.edges is None or ref_counts is None or win_counts is None
        or not np.array_equal(reference.edges, window.edges)
    ):
        raise SketchMismatchError("numeric drift needs reference and window sketches over the same edges")
    ref_coarse = coarse_counts(reference, mlrun_edges)
    win_coarse = coarse_counts(window, mlrun_edges)
    ks_statistic, ks_pvalue = ks_from_bins(ref_counts, win_counts)
    std = reference.std
    # The reference's side is computed once per reference, not at every window of its model.
    ref_items, ref_weights = memoised(reference, "weighted_items", reference.quantiles.weighted_items)
    distance = wasserstein_weighted(ref_items, ref_weights, *window.quantiles.weighted_items())
    ref_range, win_range = (reference.min, reference.max), (window.min, window.max)
    binned = wasserstein_from_bins(reference.edges, ref_counts, win_counts, ref_range, win_range)
    edges = reference.edges
    noise = memoised(reference, "noise", lambda: wasserstein_noise_from_bins(edges, ref_counts, ref_range))
    metrics = {
        "tvd": tvd(ref_coarse, win_coarse),
        "hellinger": hellinger(ref_coarse, win_coarse),
        "kl_divergence": symmetric_kl(ref_coarse, win_coarse),
        "js_distance": jensen_shannon(ref_coarse, win_coarse),
        "psi": psi(ref_coarse, win_coarse),
        "ks_statistic": ks_statistic,
        "ks_pvalue": ks_pvalue,
        "ks_error_bound": max(_largest_share(ref_counts), _largest_share(win_counts))
        if reference.count and window.count else math.nan,
        "wasserstein_norm": distance / std if std > 0 else math.nan,  # nan > 0 is False
        "wasserstein_binned_norm": binned / std if std > 0 else math.nan,
        "reference_noise_norm": noise / std if std > 0 else math.nan,
        "count": window.count,
        "missing_share": _missing_share(window.count, window.missing),
        "mean": window.mean if window.count else math.nan,
        "std": window.std,
        "reference_mean": reference.mean if reference.count else math.nan,
        "reference_std": std,
    }
    return {name: clean(value) for name, value in metrics.items()}


def categorical_drift(reference: CategoricalSketch, window: CategoricalSketch) -> dict[str, float]:
    """Drift metrics of one categorical column over the union of categories, "other" a bin of its own.

    ``unseen_share`` is the share of window values in bins the reference never filled: new categories,
    and the "other" bin when the reference had no "other" values.

    >>> reference, window = CategoricalSketch(), CategoricalSketch()
    >>> reference.update(["a"] * 60 + ["b"] * 40); window.update(["a"] * 30 + ["b"] * 50 + ["c"] * 20)
    >>> metrics = categorical_drift(reference, window)
    >>> metrics["tvd"], metrics["linf"], metrics["unseen_share"], metrics["chi2_pvalue"] < 1e-6
    (0.3, 0.3, 0.2, True)
    """
    names = sorted(set(reference.counts) | set(window.counts))
    ref = np.array([reference.counts.get(name, 0) for name in names] + [reference.other], dtype=np.int64)
    win = np.array([window.counts.get(name, 0) for name in names] + [window.other], dtype=np.int64)
    total = win.sum()
    metrics = {
        "tvd": tvd(ref, win),
        "hellinger": hellinger(ref, win),
        "js_distance": jensen_shannon(ref, win),
        "psi": psi(ref, win),
        "linf": linf(ref, win),
        "chi2_pvalue": chi2_two_sample(ref, win, ordered=False)[1],
        "count": window.count,
        "missing_share": _missing_share(window.count, window.missing),
        "unseen_share": win[ref == 0].sum() / total if total else math.nan,
    }
    return {name: clean(value) for name, value in metrics.items()}


def general_drift(per_feature_metrics: dict[str, dict]) -> float:
    """MLRun's ``general_drift``: the mean of (mean Hellinger, mean TVD) over the numeric features.

    Numeric features are those with ``ks_statistic`` in their metrics; ``nan`` values (empty windows)
    are left out of the means, and the result is ``nan`` when no numeric feature has both. MLRun calls
    0.5 "potential detection" and 0.7 "detected" (``HistogramDataDriftApplication``).

    >>> general_drift({"x": {"ks_statistic": 0.1, "hellinger": 0.2, "tvd": 0.1},
    ...                "y": {"ks_statistic": 0.3, "hellinger": 0.4, "tvd": 0.3}, "c": {"tvd": 0.9}})
    0.25
    """
    numeric = [m for m in per_feature_metrics.values() if "ks_statistic" in m]
    pairs = [(m["hellinger"], m["tvd"]) for m in numeric if not (math.isnan(m["hellinger"]) or math.isnan(m["tvd"]))]
    if not pairs:
        return math.nan
    hellingers, tvds = zip(*pairs, strict=True)
    return clean((float(np.mean(hellingers)) + float(np.mean(tvds))) / 2)
