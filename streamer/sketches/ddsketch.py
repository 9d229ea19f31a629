"""Mergeable quantile sketch with a *relative* value error, for latencies (DDSketch).

Masson, Rim, Lee, "DDSketch: a fast and fully-mergeable quantile sketch with relative-error
guarantees", VLDB 2019. A value ``x > 0`` falls into bucket ``i = ceil(log_gamma(x))`` with
``gamma = (1 + alpha) / (1 - alpha)``; every value of a bucket lies within a relative distance
``alpha`` of the bucket's representative ``2 gamma^i / (gamma + 1)``, so any quantile is returned
within ``alpha`` (default 1%) of the exact sample quantile's value, whatever the distribution's skew,
unlike a rank-error sketch (KLL), whose p99 of a heavy tail can be off by a factor. Values at or
below ``min_value`` (default 1e-6, a nanosecond in milliseconds; negative values included) count in a
zero bucket. Buckets are counts, so merging is exact: merged sketches equal one pass over both
streams. At most ``max_buckets`` buckets are kept (2048 cover values from 1e-6 to 1e11 at 1%); past that
the lowest buckets are folded together, which only affects the lowest quantiles (as in the paper).

The exact count, sum, minimum and maximum are kept beside the buckets, and quantiles are clamped
into ``[min, max]``; ``quantile(0.0)`` and ``quantile(1.0)`` are the exact minimum and maximum.

>>> import numpy as np
>>> sketch = DDSketch()
>>> sketch.update(np.arange(1.0, 1001.0))
>>> sketch.count, sketch.max, abs(sketch.quantile(0.5) - 500.0) / 500.0 <= 0.01
(1000, 1000.0, True)
>>> DDSketch.from_bytes(sketch.to_bytes()).quantile(0.99) == sketch.quantile(0.99)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from streamer.errors import SketchMismatchError, StateFormatError
from streamer.sketches.codec import pack, unpack


class DDSketch:
    def __init__(self, relative_accuracy: float = 0.01, max_buckets: int = 2048, min_value: float = 1e-6) -> None:
        if not 0 < relative_accuracy < 1 or max_buckets < 2 or min_value <= 0:
            raise ValueError("need 0 < relative_accuracy < 1, max_buckets >= 2, min_value > 0")
        self.relative_accuracy = relative_accuracy
        self.max_buckets = max_buckets
        self.min_value = min_value
        self._gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._log_gamma = math.log(self._gamma)
        self.offset = 0  # bucket index of counts[0]
        self.counts = np.zeros(0, dtype=np.int64)
        self.zero_count = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def _compatible(self, other: DDSketch) -> bool:
        return (self.relative_accuracy, self.max_buckets, self.min_value) == (
            other.relative_accuracy, other.max_buckets, other.min_value)

    def update(self, values: np.ndarray) -> None:
        """Add a batch of values; NaN and infinities are ignored (callers count them as missing)."""
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        if not len(values):
            return
        self.count += len(values)
        self.sum += float(values.sum())
        self.min, self.max = min(self.min, float(values.min())), max(self.max, float(values.max()))
        positive = values[values > self.min_value]
        self.zero_count += len(values) - len(positive)
        if len(positive):
            index = np.ceil(np.log(positive) / self._log_gamma).astype(np.int64)
            low = int(index.min())
            self._add_counts(low, np.bincount(index - low))

    def _add_counts(self, offset: int, counts: np.ndarray) -> None:
        """Add bucket ``counts`` starting at bucket index ``offset``; folds the lowest past max_buckets."""
        if not len(self.counts):
            new_low, new_high = offset, offset + len(counts)
        else:
            new_low = min(self.offset, offset)
            new_high = max(self.offset + len(self.counts), offset + len(counts))
        merged = np.zeros(new_high - new_low, dtype=np.int64)
        if len(self.counts):
            merged[self.offset - new_low : self.offset - new_low + len(self.counts)] += self.counts
        merged[offset - new_low : offset - new_low + len(counts)] += counts
        if len(merged) > self.max_buckets:
            fold = len(merged) - self.max_buckets
            merged[fold] += merged[:fold].sum()
            merged, new_low = merged[fold:], new_low + fold
        self.counts, self.offset = merged, new_low

    def merge(self, other: DDSketch) -> None:
        if not self._compatible(other):
            raise SketchMismatchError(
                f"cannot merge DDSketches with relative accuracy/buckets/min {self.relative_accuracy}/"
                f"{self.max_buckets}/{self.min_value} and {other.relative_accuracy}/{other.max_buckets}/{other.min_value}")
        if not other.count:
            return
        if len(other.counts):
            self._add_counts(other.offset, other.counts)
        self.zero_count += other.zero_count
        self.count += other.count
        self.sum += other.sum
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)

    def quantiles(self, qs: Sequence[float] | np.ndarray) -> np.ndarray:
        """Values at the quantiles ``qs`` (lower quantile: rank ``q * (count - 1)``); NaN when empty."""
        qs = np.asarray(qs, dtype=np.float64)
        if not self.count:
            return np.full(len(qs), np.nan)
        ranks = qs * (self.count - 1)
        cumulative = self.zero_count + np.cumsum(self.counts)
        position = np.searchsorted(cumulative, ranks, side="right")  # first bucket whose cumulative > rank
        values = 2.0 * np.power(self._gamma, self.offset + position) / (self._gamma + 1.0)
        values = np.where(ranks < self.zero_count, 0.0, values)
        values = np.where(qs >= 1.0, self.max, np.where(qs <= 0.0, self.min, values))
        return np.clip(values, self.min, self.max)

    def quantile(self, q: float) -> float:
        return float(self.quantiles([q])[0])

    def cdf(self, x: float) -> float:
        """Share of values in buckets at or below ``x``'s bucket (within the bucket's relative error)."""
        if not self.count:
            return float("nan")
        if x <= self.min_value:
            return self.zero_count / self.count if x >= 0 else 0.0
        index = math.ceil(math.log(x) / self._log_gamma) - self.offset
        below = int(self.counts[: max(0, index + 1)].sum())
        return (self.zero_count + below) / self.count

    def copy(self) -> DDSketch:
        return DDSketch.from_bytes(self.to_bytes())

    def to_bytes(self) -> bytes:
        """Only non-empty buckets are stored: indices (int32) and counts (int64)."""
        nonzero = np.flatnonzero(self.counts)
        header = {"alpha": self.relative_accuracy, "max_buckets": self.max_buckets, "min_value": self.min_value,
                  "zero": self.zero_count, "count": self.count, "sum": self.sum,
                  "min": self.min if self.count else None, "max": self.max if self.count else None}
        indices = (nonzero + self.offset).astype("<i4").tobytes()
        return pack("ddsketch", 1, header, [indices, self.counts[nonzero].astype("<i8").tobytes()])

    @classmethod
    def from_bytes(cls, data: bytes) -> DDSketch:
        header, blobs = unpack(data, "ddsketch", 1)
        try:
            sketch = cls(header["alpha"], header["max_buckets"], header["min_value"])
            indices = np.frombuffer(blobs[0], dtype="<i4").astype(np.int64)
            counts = np.frombuffer(blobs[1], dtype="<i8").astype(np.int64)
            if len(indices) != len(counts):
                raise ValueError("bucket indices and counts differ in length")
            if len(indices):
                low = int(indices.min())
                dense = np.zeros(int(indices.max()) - low + 1, dtype=np.int64)
                dense[indices - low] = counts
                sketch.offset, sketch.counts = low, dense
            sketch.zero_count, sketch.count, sketch.sum = int(header["zero"]), int(header["count"]), float(header["sum"])
            if sketch.count:
                sketch.min, sketch.max = float(header["min"]), float(header["max"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise StateFormatError(f"not a stored ddsketch: {exc}") from exc
        return sketch

    def __repr__(self) -> str:
        return (f"DDSketch(relative_accuracy={self.relative_accuracy}, count={self.count}, "
                f"buckets={int(np.count_nonzero(self.counts))})")
