"""Mergeable quantile sketch: a thin wrapper over Apache DataSketches' KLL sketch.

KLL (Karnin, Lang, Liberty, "Optimal Quantile Approximation in Streams", FOCS 2016) keeps
O(k log(n/k)) items. With ``k=200`` the normalized rank error is about 1.65% at 99% confidence for
a single rank (:attr:`rank_error`); below about ``k`` items the sketch is exact.

>>> import numpy as np
>>> sketch = QuantileSketch()
>>> sketch.update(np.arange(1.0, 101.0))
>>> sketch.n, sketch.quantile(0.5), sketch.cdf(50.0)
(100, 50.0, 0.5)
>>> QuantileSketch.from_bytes(sketch.to_bytes()).n
100
"""

from __future__ import annotations

from collections.abc import Sequence

import datasketches
import numpy as np

from streamer.errors import SketchMismatchError, StateFormatError


def _retained(data: bytes, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The retained items of a serialised KLL doubles sketch and their weights, in the sketch's own order.

    Reading the serialised form (DataSketches' KLL layout: an 8-byte preamble, then ``n``, ``min_k``
    and the level count, the level offsets, min and max, and the items level by level; an item of
    level ``h`` weighs ``2**h``) takes about a microsecond where iterating the sketch from Python
    takes about a microsecond per item, and a window close reads every column's sketch. ``None`` for
    a layout this does not know (the caller then iterates), or when the weights do not add up to ``n``.

    >>> sketch = datasketches.kll_doubles_sketch(200)
    >>> sketch.update(np.array([3.0, 1.0, 2.0]))
    >>> [a.tolist() for a in _retained(bytes(sketch.serialize()), 3)]  # the sketch keeps level 0 newest first
    [[2.0, 1.0, 3.0], [1.0, 1.0, 1.0]]
    """
    if len(data) < 20 or data[0] != 5 or data[1] != 1 or data[2] != 15 or data[6] != 8:
        return None
    levels_count = data[18]
    start = 20 + 4 * levels_count + 16
    if levels_count < 1 or len(data) < start or (len(data) - start) % 8:
        return None
    items = np.frombuffer(data, dtype="<f8", offset=start)
    if int.from_bytes(data[8:16], "little") != n:
        return None
    if levels_count == 1:  # every item weighs 1 (a sketch still exact: fewer than about k items)
        return (items, np.ones(len(items))) if len(items) == n else None
    levels = np.frombuffer(data, dtype="<u4", count=levels_count, offset=20).astype(np.int64)
    sizes = np.diff(np.append(levels, levels[0] + len(items)))
    if np.any(sizes < 0):
        return None
    weights = np.repeat(np.exp2(np.arange(levels_count, dtype=np.float64)), sizes)
    return (items, weights) if int(weights.sum()) == n else None


class QuantileSketch:
    def __init__(self, k: int = 200) -> None:
        self.k = k
        self._kll = datasketches.kll_doubles_sketch(k)
        self._items: tuple[np.ndarray, np.ndarray] | None = None  # weighted_items, until the next change

    @property
    def n(self) -> int:
        return int(self._kll.n)

    @property
    def rank_error(self) -> float:
        """Normalized rank error of a single quantile or CDF value (99% confidence)."""
        return 0.0 if self.is_exact else float(self._kll.normalized_rank_error(False))

    @property
    def is_exact(self) -> bool:
        return self.n == self._kll.num_retained

    def update(self, values: np.ndarray) -> None:
        """Add finite float64 values (callers drop missing values first)."""
        if len(values):
            self._kll.update(np.ascontiguousarray(values, dtype=np.float64))
            self._items = None

    def merge(self, other: QuantileSketch) -> None:
        if other.k != self.k:
            raise SketchMismatchError(f"cannot merge KLL sketches with k={self.k} and k={other.k}")
        if other.n:
            self._kll.merge(other._kll)
            self._items = None

    def quantile(self, q: float) -> float:
        return float(self._kll.get_quantile(q, True)) if self.n else float("nan")

    def quantiles(self, qs: Sequence[float] | np.ndarray) -> np.ndarray:
        if not self.n:
            return np.full(len(qs), np.nan)
        return np.asarray(self._kll.get_quantiles(list(qs), True), dtype=np.float64)

    def cdf(self, x: float) -> float:
        """Share of values <= x."""
        return float(self._kll.get_cdf([x], True)[0]) if self.n else float("nan")

    def weighted_items(self) -> tuple[np.ndarray, np.ndarray]:
        """The retained items, sorted, with their weights (summing to :attr:`n`)."""
        if not self.n:
            return np.empty(0), np.empty(0)
        if self._items is None:  # iterating the sketch is slow; a reference's sketch never changes
            retained = _retained(bytes(self._kll.serialize()), self.n)
            if retained is None:  # a layout not read above: ask the sketch item by item
                pairs = np.array(list(self._kll), dtype=np.float64)
                retained = pairs[:, 0], pairs[:, 1]
            items, weights = retained
            if len(items) == self.n:  # every weight 1: sorting the items is enough
                items, weights = np.sort(items), np.ones(len(items))
            else:
                order = np.argsort(items, kind="stable")
                items, weights = items[order], weights[order]
            items.setflags(write=False)
            weights.setflags(write=False)
            self._items = (items, weights)
        return self._items

    def copy(self) -> QuantileSketch:
        return QuantileSketch.from_bytes(self.to_bytes(), self.k)

    def to_bytes(self) -> bytes:
        return bytes(self._kll.serialize())

    @classmethod
    def from_bytes(cls, data: bytes, k: int = 200) -> QuantileSketch:
        sketch = cls(k)
        if data:
            try:
                sketch._kll = datasketches.kll_doubles_sketch.deserialize(data)
            except (RuntimeError, ValueError, IndexError) as exc:
                raise StateFormatError("not a KLL sketch") from exc
            sketch.k = int(sketch._kll.k)
        return sketch

    def __repr__(self) -> str:
        return f"QuantileSketch(k={self.k}, n={self.n})"
