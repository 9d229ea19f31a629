"""Mergeable summary of one numeric column: binned counts, moments, extremes, quantiles.

The bins are fixed by the model's reference profile (``edges``, sorted and strictly increasing)
plus two open tails, so window counts can be compared with the reference exactly::

    counts[0]           values < edges[0]
    counts[i]           edges[i-1] <= values < edges[i]   (the last inner bin includes edges[-1])
    counts[len(edges)]  values > edges[-1]

Without edges (a model still collecting its baseline) only moments, extremes and the quantile
sketch are kept; :meth:`rebinned` later derives counts from the quantile sketch.

>>> import numpy as np
>>> sketch = NumericSketch(edges=np.array([0.0, 1.0, 2.0]))
>>> sketch.update(np.array([-1.0, 0.0, 0.5, 1.5, 2.0, 3.0, np.nan]))
>>> sketch.counts.tolist(), sketch.count, sketch.missing, round(sketch.mean, 4)
([1, 2, 2, 1], 6, 1, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from streamer.errors import SketchMismatchError
from streamer.sketches.codec import pack, unpack
from streamer.sketches.quantiles import QuantileSketch


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of finite ``values`` over ``edges`` plus two open tails (see module docstring)."""
    index = np.searchsorted(edges, values, side="right")
    index[values == edges[-1]] -= 1  # the last inner bin is closed on the right
    return np.bincount(index, minlength=len(edges) + 1).astype(np.int64)


def update_rows(sketches: list[NumericSketch], matrix: np.ndarray) -> None:
    """``sketches[i].update(matrix[i])`` for each row of a float64 ``matrix``, moments of all rows at once.

    The columns of a micro-batch's rows update one sketch each: a row without NaN or infinities (the
    usual case) gets its mean, squared deviations and extremes from one numpy call over the matrix
    instead of five per sketch.

    >>> one, two = NumericSketch(), NumericSketch()
    >>> update_rows([one, two], np.array([[1.0, 2.0, 3.0], [4.0, np.nan, 8.0]]))
    >>> (one.count, one.mean, one.m2, one.min, one.max), (two.count, two.missing, two.mean, two.max)
    ((3, 2.0, 2.0, 1.0, 3.0), (2, 1, 6.0, 8.0))
    """
    whole = np.isfinite(matrix).all(axis=1)
    complete = matrix if whole.all() else matrix[whole]
    stats: Iterator[tuple[np.ndarray, float, float, float, float, np.ndarray | None]] = iter(())
    if len(complete):
        means = complete.mean(axis=1)
        m2s = ((complete - means[:, None]) ** 2).sum(axis=1)
        binned = _bin_counts_of_rows([s.edges for s, w in zip(sketches, whole.tolist(), strict=True) if w], complete)
        stats = zip(complete, means.tolist(), m2s.tolist(), complete.min(axis=1).tolist(),
                    complete.max(axis=1).tolist(), binned, strict=True)
    for sketch, row, is_whole in zip(sketches, matrix, whole.tolist(), strict=True):
        if is_whole:
            finite, mean, m2, low, high, counts = next(stats)
            sketch._add_finite(finite, mean, m2, low, high, counts)  # noqa: SLF001
        else:
            sketch.update(row)


#: Largest rows x values x edges compared at once by :func:`_bin_counts_of_rows` (booleans: bytes of memory).
_BIN_MATRIX_CELLS = 1 << 20


def _bin_counts_of_rows(edges: list[np.ndarray | None], rows: np.ndarray) -> list[np.ndarray | None]:
    """:func:`bin_counts` of each row of ``rows`` over its own edges (None: no bins), in a few calls for all.

    A window's columns are short (a model's share of a micro-batch), so per-column calls were mostly
    call overhead; counting the edges at or below each value over a padded edge matrix is the same as
    ``searchsorted(side="right")``. Long rows (where that matrix would be large) go one by one.
    """
    binned = [i for i, e in enumerate(edges) if e is not None]
    out: list[np.ndarray | None] = [None] * len(edges)
    if not binned:
        return out
    widths = [len(edges[i]) for i in binned]  # type: ignore[arg-type]
    width = max(widths)
    if len(binned) * rows.shape[1] * width > _BIN_MATRIX_CELLS:
        for i in binned:
            out[i] = bin_counts(rows[i], edges[i])  # type: ignore[arg-type]
        return out
    padded = np.full((len(binned), width), np.inf)
    for j, i in enumerate(binned):
        padded[j, : widths[j]] = edges[i]  # type: ignore[index]
    values = rows[binned]
    index = (values[:, :, None] >= padded[:, None, :]).sum(axis=2)
    index -= values == padded[np.arange(len(binned)), np.asarray(widths) - 1][:, None]  # the last inner bin is closed
    counts = np.bincount((index + (np.arange(len(binned)) * (width + 1))[:, None]).ravel(),
                         minlength=len(binned) * (width + 1)).reshape(len(binned), width + 1)
    for j, i in enumerate(binned):
        out[i] = counts[j, : widths[j] + 1]
    return out


class NumericSketch:
    def __init__(self, edges: np.ndarray | None = None, quantile_k: int = 200) -> None:
        self.edges = None if edges is None else np.asarray(edges, dtype=np.float64)
        self.counts = None if self.edges is None else np.zeros(len(self.edges) + 1, dtype=np.int64)
        self.count = 0  # finite values
        self.missing = 0  # null, NaN or infinite
        self.mean = 0.0
        self.m2 = 0.0  # sum of squared deviations from the mean
        self.min = math.inf
        self.max = -math.inf
        self.quantiles = QuantileSketch(quantile_k)
        # Values derived from this sketch alone (a reference's coarse counts, its own sampling noise),
        # kept while it does not change: a reference is compared with every window of its model.
        self.memo: dict[str, Any] = {}

    @property
    def variance(self) -> float:
        return self.m2 / (self.count - 1) if self.count > 1 else float("nan")

    @property
    def std(self) -> float:
        return math.sqrt(self.variance) if self.count > 1 else float("nan")

    def update(self, values: np.ndarray) -> None:
        """Add a batch of float64 values; NaN and infinities count as missing."""
        self.memo.clear()
        finite = values[np.isfinite(values)]
        self.missing += len(values) - len(finite)
        if not len(finite):
            return
        batch_mean = float(finite.mean())
        batch_m2 = float(((finite - batch_mean) ** 2).sum())
        self._add_finite(finite, batch_mean, batch_m2, float(finite.min()), float(finite.max()))

    def _add_finite(self, finite: np.ndarray, mean: float, m2: float, low: float, high: float,
                    counts: np.ndarray | None = None) -> None:
        """Add finite values whose mean, sum of squared deviations, extremes (and bin counts) are computed already."""
        self.memo.clear()
        if self.counts is not None and self.edges is not None:
            self.counts += bin_counts(finite, self.edges) if counts is None else counts
        self._merge_moments(len(finite), mean, m2, low, high)
        self.quantiles.update(finite)

    def _merge_moments(self, n: int, mean: float, m2: float, low: float, high: float) -> None:
        # Chan, Golub and LeVeque's pairwise update: exact for any split of the data.
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        self.min = min(self.min, low)
        self.max = max(self.max, high)

    def merge(self, other: NumericSketch) -> None:
        if (self.edges is None) != (other.edges is None) or (
            self.edges is not None and other.edges is not None and not np.array_equal(self.edges, other.edges)
        ):
            raise SketchMismatchError("cannot merge numeric sketches over different bins")
        if other.quantiles.k != self.quantiles.k:
            raise SketchMismatchError(f"cannot merge quantile sketches with k={self.quantiles.k} and k={other.quantiles.k}")
        self.memo.clear()
        if self.counts is not None and other.counts is not None:
            self.counts += other.counts
        self.missing += other.missing
        if other.count:
            self._merge_moments(other.count, other.mean, other.m2, other.min, other.max)
        self.quantiles.merge(other.quantiles)

    def rebinned(self, edges: np.ndarray) -> NumericSketch:
        """This sketch if its bins are ``edges``, else a copy over ``edges`` counted from the quantile sketch."""
        if self.edges is not None and (self.edges is edges or np.array_equal(self.edges, edges)):
            return self
        copy = NumericSketch.from_bytes(self.to_bytes())
        copy.adopt_edges(edges)
        return copy

    def adopt_edges(self, edges: np.ndarray) -> None:
        """Bin this sketch over ``edges``, its counts so far from the quantile sketch (:meth:`rebinned` in place)."""
        self.memo.clear()
        self.edges = np.asarray(edges, dtype=np.float64)
        if self.count:
            items, weights = self.quantiles.weighted_items()
            counts = np.bincount(
                np.searchsorted(self.edges, items, side="right") - (items == self.edges[-1]),
                weights=weights, minlength=len(self.edges) + 1,
            )
            self.counts = np.rint(counts).astype(np.int64)
        else:
            self.counts = np.zeros(len(self.edges) + 1, dtype=np.int64)

    def to_bytes(self) -> bytes:
        header = {
            "edges": self.edges, "counts": self.counts, "count": self.count, "missing": self.missing,
            "mean": self.mean, "m2": self.m2,
            "min": None if self.count == 0 else self.min, "max": None if self.count == 0 else self.max,
            "k": self.quantiles.k,
        }
        return pack("numeric", 1, header, [self.quantiles.to_bytes()])

    @classmethod
    def from_bytes(cls, data: bytes) -> NumericSketch:
        header, (kll,) = unpack(data, "numeric", 1)
        sketch = cls(None if header["edges"] is None else np.array(header["edges"]), header["k"])
        if header["counts"] is not None:
            sketch.counts = np.array(header["counts"], dtype=np.int64)
        sketch.count, sketch.missing = header["count"], header["missing"]
        sketch.mean, sketch.m2 = header["mean"], header["m2"]
        if sketch.count:
            sketch.min, sketch.max = header["min"], header["max"]
        sketch.quantiles = QuantileSketch.from_bytes(kll, header["k"])
        return sketch

    def __repr__(self) -> str:
        bins = "none" if self.edges is None else len(self.edges) + 1
        return f"NumericSketch(count={self.count}, missing={self.missing}, bins={bins}, mean={self.mean:.4g})"
