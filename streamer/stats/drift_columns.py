"""The numeric drift metrics of many columns at once: one set of array operations per close.

:func:`numeric_drift_columns` returns, for every (reference, window, MLRun edges) triple, the same
metrics as :func:`streamer.stats.drift.numeric_drift`. A window close used to compute them column by
column, a few dozen small numpy calls each (about 1 ms per feature, most of it call overhead); here the
columns' fine and coarse counts are stacked into 2-D arrays, zero-padded to the widest column, and every
histogram distance, the binned KS statistic and the binned Wasserstein distance are one reduction over
all rows. Zero padding changes no metric: an empty bin in both samples adds nothing to any distance, and
padded edges repeat the last edge, so their segments have no width. Sums taken over a padded row may
differ from the one-column sums in the last bit of a float.

>>> import numpy as np
>>> from streamer.sketches.numeric import NumericSketch
>>> from streamer.stats.drift import numeric_drift
>>> edges = np.linspace(0.0, 10.0, 11)
>>> reference, window = NumericSketch(edges), NumericSketch(edges)
>>> reference.update(np.arange(0.0, 10.0, 0.1)); window.update(np.arange(1.0, 11.0, 0.1))
>>> many = numeric_drift_columns([(reference, window, edges[::5])])[0]
>>> one = numeric_drift(reference, window, edges[::5])
>>> sorted(many) == sorted(one), all(np.isclose(many[k], one[k], rtol=1e-12) for k in one)
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import numpy as np
from scipy.special import kolmogorov, rel_entr

from streamer.errors import SketchMismatchError
from streamer.sketches.numeric import NumericSketch
from streamer.stats.divergence import EMPTY_SHARE
from streamer.stats.drift import LARGEST, coarsen, memoised, reference_coarse_key
from streamer.stats.hypothesis import (
    STEPHENS_MIN_N,
    _kstwo_sf,
    wasserstein_noise_from_bins,
    wasserstein_weighted,
)

Column = tuple[NumericSketch, NumericSketch, np.ndarray]


def _coarse_index(reference: NumericSketch, mlrun_edges: np.ndarray) -> tuple[str, np.ndarray]:
    # The reduceat index of the fine bins into MLRun's, checked once per reference (coarsen checks it).
    key = reference_coarse_key(reference, mlrun_edges)
    assert reference.edges is not None and reference.counts is not None
    fine, counts = reference.edges, reference.counts

    def index() -> np.ndarray:
        coarsen(counts, fine, mlrun_edges)  # raises on edges that are not a subset
        return np.concatenate([[0], np.searchsorted(fine, np.asarray(mlrun_edges, dtype=np.float64)) + 1])

    return key, memoised(reference, "index:" + key, index)


def _stack(rows: Sequence[np.ndarray], width: int) -> np.ndarray:
    out = np.zeros((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _shares(counts: np.ndarray, totals: np.ndarray) -> np.ndarray:
    return counts / np.where(totals > 0, totals, 1.0)[:, None]


def _kl(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    # MLRun's _calc_kl_div per row (see streamer.stats.divergence._kl_mlrun).
    mask = actual > 0
    expected = np.where(expected > 0, expected, EMPTY_SHARE)
    ratio = np.divide(actual, expected, out=np.ones_like(actual), where=mask)
    return np.where(mask, actual * np.log(ratio), 0.0).sum(axis=1)


def _histogram_distances(ref: np.ndarray, win: np.ndarray) -> dict[str, np.ndarray]:
    """TVD, Hellinger, symmetric KL, JS distance and PSI of every row pair (``nan`` where a row is empty)."""
    n, m = ref.sum(axis=1), win.sum(axis=1)
    p, q = _shares(ref, n), _shares(win, m)
    middle = (p + q) / 2
    js = (rel_entr(p, middle).sum(axis=1) + rel_entr(q, middle).sum(axis=1)) / 2
    p_floor, q_floor = np.where(p > 0, p, EMPTY_SHARE), np.where(q > 0, q, EMPTY_SHARE)
    metrics = {
        "tvd": np.minimum(np.abs(p - q).sum(axis=1) / 2, 1.0),
        "hellinger": np.sqrt(np.maximum(1.0 - np.sqrt(p * q).sum(axis=1), 0.0)),
        "kl_divergence": _kl(p, q) + _kl(q, p),
        "js_distance": np.minimum(np.sqrt(np.maximum(js, 0.0)), math.sqrt(math.log(2))),
        # padded bins are empty in both rows: (floor - floor) * log(1) = 0
        "psi": ((q_floor - p_floor) * np.log(q_floor / p_floor)).sum(axis=1),
    }
    empty = (n <= 0) | (m <= 0)
    return {name: np.where(empty, math.nan, value) for name, value in metrics.items()}


def _ks_pvalues(statistic: np.ndarray, n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The p-values of :func:`~streamer.stats.hypothesis.ks_from_bins`, the large sizes in one call."""
    with np.errstate(invalid="ignore", divide="ignore"):
        effective_n = np.round(n * m / (n + m))
    pvalue = np.full(len(statistic), math.nan)
    large = (n > 0) & (m > 0) & (effective_n >= STEPHENS_MIN_N)
    root_n = np.sqrt(effective_n[large])
    pvalue[large] = kolmogorov((root_n + 0.12 + 0.11 / root_n) * statistic[large])
    for i in np.flatnonzero((n > 0) & (m > 0) & (effective_n >= 1) & (effective_n < STEPHENS_MIN_N)):
        pvalue[i] = _kstwo_sf(float(statistic[i]), int(effective_n[i]))
    return np.where(np.isnan(pvalue), pvalue, np.clip(pvalue, 0.0, 1.0))


def _abs_linear_rows(left: np.ndarray, right: np.ndarray, width: np.ndarray) -> np.ndarray:
    # streamer.stats.hypothesis._abs_linear per row.
    both = np.abs(left) + np.abs(right)
    crossing = np.divide(left * left + right * right, 2.0 * both, out=np.zeros_like(both), where=both > 0)
    return np.sum(np.where(left * right >= 0, both / 2.0, crossing) * width, axis=1)


def numeric_drift_columns(columns: Sequence[Column], sketch_wasserstein: bool = True) -> list[dict[str, float]]:
    """:func:`~streamer.stats.drift.numeric_drift` of every ``(reference, window, mlrun_edges)``, at once.

    Each window must be binned over its reference's edges; the columns may have different edges.
    Window coarse counts are left in the window's memo, where the summary's distribution finds them.
    ``sketch_wasserstein=False`` leaves ``wasserstein_norm`` (from the KLL sketches) nan: reading and
    sorting every window's sketch was a fifth of a close, for a metric no rule decides on.
    """
    if not columns:
        return []
    fine_rows_r, fine_rows_w, coarse_r, coarse_w, edge_rows = [], [], [], [], []
    for reference, window, mlrun_edges in columns:
        ref_counts, win_counts = reference.counts, window.counts
        if (
            reference.edges is None or window.edges is None or ref_counts is None or win_counts is None
            or not (reference.edges is window.edges or np.array_equal(reference.edges, window.edges))
        ):
            raise SketchMismatchError("numeric drift needs reference and window sketches over the same edges")
        key, index = _coarse_index(reference, mlrun_edges)
        coarse_r.append(memoised(reference, key, partial(np.add.reduceat, ref_counts, index)))
        coarse_w.append(memoised(window, key, partial(np.add.reduceat, win_counts, index)))
        fine_rows_r.append(ref_counts)
        fine_rows_w.append(win_counts)
        edge_rows.append(reference.edges)
    fine_width = max(len(row) for row in fine_rows_r)
    # Fine counts with the upper tail moved to the last column, so that every row's inner bins and
    # edges line up from the left and padded edges (the last edge repeated) have no width.
    ref_fine, win_fine = _stack(fine_rows_r, fine_width), _stack(fine_rows_w, fine_width)
    edges = np.empty((len(columns), fine_width - 1), dtype=np.float64)
    for i, (row_r, row_w, row_e) in enumerate(zip(fine_rows_r, fine_rows_w, edge_rows, strict=True)):
        if len(row_r) < fine_width:
            ref_fine[i, len(row_r) - 1], ref_fine[i, -1] = 0.0, row_r[-1]
            win_fine[i, len(row_w) - 1], win_fine[i, -1] = 0.0, row_w[-1]
        edges[i, : len(row_e)] = row_e
        edges[i, len(row_e):] = row_e[-1]
    n, m = ref_fine.sum(axis=1), win_fine.sum(axis=1)
    both = (n > 0) & (m > 0)
    safe_n, safe_m = np.where(n > 0, n, 1.0), np.where(m > 0, m, 1.0)
    ref_cdf, win_cdf = np.cumsum(ref_fine, axis=1) / safe_n[:, None], np.cumsum(win_fine, axis=1) / safe_m[:, None]
    ks_statistic = np.where(both, np.clip(np.abs(ref_cdf - win_cdf).max(axis=1), 0.0, 1.0), math.nan)
    ks_pvalue = _ks_pvalues(ks_statistic, n, m)
    gap = ref_cdf[:, :-1] - win_cdf[:, :-1]  # F_r - F_w at every (padded) edge
    inner = _abs_linear_rows(gap[:, :-1], gap[:, 1:], np.diff(edges, axis=1))
    width = max(len(row) for row in coarse_r)
    distances = _histogram_distances(_stack(coarse_r, width), _stack(coarse_w, width))
    # The KLL distance stays one column at a time: pooling the columns costs a sort as large as theirs.
    sketched = []
    for reference, window, _ in columns if sketch_wasserstein else ():
        ref_items, ref_weights = memoised(reference, "weighted_items", reference.quantiles.weighted_items)
        sketched.append(wasserstein_weighted(ref_items, ref_weights, *window.quantiles.weighted_items()))
    sketched = sketched or [math.nan] * len(columns)
    return _column_metrics(columns, distances, ks_statistic, ks_pvalue, inner, np.array(sketched, dtype=np.float64),
                           n, m, ref_fine.max(axis=1), win_fine.max(axis=1))


def _tail_shares(share: np.ndarray, reach: np.ndarray, distance: np.ndarray) -> np.ndarray:
    # streamer.stats.hypothesis._tail_share per row.
    spread = share * (1.0 - np.divide(distance, reach, out=np.ones_like(distance), where=reach > 0))
    return np.where(distance < reach, spread, 0.0)


def _abs_linear_segments(left: np.ndarray, right: np.ndarray, width: np.ndarray) -> np.ndarray:
    # streamer.stats.hypothesis._abs_linear_segment per row.
    both = np.abs(left) + np.abs(right)
    crossing = np.divide(left * left + right * right, 2.0 * both, out=np.zeros_like(both), where=both > 0)
    return np.where(left * right >= 0, both / 2.0, crossing) * width


def _tail_gaps(ref_share: np.ndarray, ref_reach: np.ndarray, win_share: np.ndarray,
               win_reach: np.ndarray) -> np.ndarray:
    """:func:`~streamer.stats.hypothesis._tail_gap` of every row: two segments, to the nearer reach and on."""
    near, far = np.minimum(ref_reach, win_reach), np.maximum(ref_reach, win_reach)
    at_near = _tail_shares(ref_share, ref_reach, near) - _tail_shares(win_share, win_reach, near)
    at_far = _tail_shares(ref_share, ref_reach, far) - _tail_shares(win_share, win_reach, far)
    return _abs_linear_segments(ref_share - win_share, at_near, near) + _abs_linear_segments(at_near, at_far, far - near)


def _column_metrics(columns: Sequence[Column], distances: dict[str, np.ndarray], ks_statistic: np.ndarray,
                    ks_pvalue: np.ndarray, inner: np.ndarray, sketched: np.ndarray, n: np.ndarray, m: np.ndarray,
                    ref_largest: np.ndarray, win_largest: np.ndarray) -> list[dict[str, float]]:
    """Every column's metrics dict, the per-column scalars gathered once and the arithmetic done on arrays."""
    floats = np.array([
        (*memoised(r, "scalars", partial(_reference_scalars, r)), w.counts[0], w.counts[-1],  # type: ignore[index]
         w.min, w.max, w.std, w.mean, w.count, w.missing) for r, w, _ in columns], dtype=np.float64).T
    low, high, ref_below, ref_above, ref_min, ref_max, std, ref_mean, ref_count, noise = floats[:10]
    win_below, win_above, win_min, win_max, win_std, win_mean, win_count, win_missing = floats[10:]
    both = (n > 0) & (m > 0)
    safe_n, safe_m = np.where(n > 0, n, 1.0), np.where(m > 0, m, 1.0)
    with np.errstate(invalid="ignore"):
        below = _tail_gaps(ref_below / safe_n, np.maximum(low - ref_min, 0.0), win_below / safe_m,
                           np.maximum(low - win_min, 0.0))
        above = _tail_gaps(ref_above / safe_n, np.maximum(ref_max - high, 0.0), win_above / safe_m,
                           np.maximum(win_max - high, 0.0))
    spread = std > 0  # false for nan
    safe_std = np.where(spread, std, 1.0)
    total = win_count + win_missing
    metrics = {
        **distances,
        "ks_statistic": ks_statistic,
        "ks_pvalue": ks_pvalue,
        "ks_error_bound": np.where((ref_count > 0) & (win_count > 0),
                                   np.maximum(ref_largest / safe_n, win_largest / safe_m), math.nan),
        "wasserstein_norm": np.where(spread, sketched / safe_std, math.nan),
        "wasserstein_binned_norm": np.where(spread & both, (inner + below + above) / safe_std, math.nan),
        "reference_noise_norm": np.where(spread, noise / safe_std, math.nan),
        "count": win_count,
        "missing_share": np.where(total > 0, win_missing / np.where(total > 0, total, 1.0), math.nan),
        "mean": np.where(win_count > 0, win_mean, math.nan),
        "std": win_std,
        "reference_mean": np.where(ref_count > 0, ref_mean, math.nan),
        "reference_std": std,
    }
    names = list(metrics)
    # clean(): infinities clipped to +-LARGEST, nan kept; then one tolist() per metric, not one float() per value.
    values = [np.clip(v, -LARGEST, LARGEST).tolist() for v in metrics.values()]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def _reference_scalars(r: NumericSketch) -> tuple[float, ...]:
    """The reference's figures :func:`_column_metrics` reads, gathered once per reference (it never changes)."""
    assert r.edges is not None and r.counts is not None
    return (r.edges[0], r.edges[-1], r.counts[0], r.counts[-1], r.min, r.max, r.std, r.mean, r.count, _noise(r))


def _noise(reference: NumericSketch) -> float:
    assert reference.edges is not None and reference.counts is not None
    return wasserstein_noise_from_bins(reference.edges, reference.counts, (reference.min, reference.max))
