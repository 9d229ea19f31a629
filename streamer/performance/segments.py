"""Feature-level performance: per feature, labelled rows and their mean error by segment.

A segment is a decile bin of a numeric feature (edges from the reference, so every window is cut the
same way) or one of a categorical feature's top categories, plus ``other`` and ``missing``. The error
of a row is 0/1 (misclassified) for classifiers and the absolute error for regressors, so a segment's
mean error is its error rate or its MAE. Counts and error sums merge by adding.

>>> spec = {"amount": SegmentSpec.numeric([10.0, 20.0]), "country": SegmentSpec.categorical(["DE"])}
>>> perf = SegmentPerformance(spec)
>>> perf.update({"amount": [5.0, 15.0, 25.0, None], "country": ["DE", "FR", "DE", "DE"]}, [1, 0, 0, 1])
>>> [(s["segment"], s["count"], s["error"]) for s in perf.metrics()["amount"]]
[('< 10', 1, 1.0), ('10 .. 20', 1, 0.0), ('>= 20', 1, 0.0), ('missing', 1, 1.0)]
>>> [(s["segment"], s["count"], s["error"]) for s in perf.metrics()["country"]]
[('DE', 3, 0.6666666666666666), ('other', 1, 0.0)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from streamer.errors import SketchMismatchError
from streamer.sketches.categorical import category_of
from streamer.sketches.codec import pack, unpack
from streamer.windows.columns import to_numeric

DECILES = tuple(round(q / 10, 1) for q in range(1, 10))


@dataclass(frozen=True)
class SegmentSpec:
    kind: str  # "numeric" or "categorical"
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @classmethod
    def numeric(cls, edges: Sequence[float]) -> SegmentSpec:
        return cls("numeric", edges=tuple(sorted({float(e) for e in edges})))

    @classmethod
    def categorical(cls, categories: Sequence[str]) -> SegmentSpec:
        return cls("categorical", categories=tuple(categories))

    def names(self) -> list[str]:
        if self.kind == "categorical":
            return [*self.categories, "other", "missing"]
        e = [f"{x:.6g}" for x in self.edges]
        if not e:
            return ["all", "missing"]
        return [f"< {e[0]}", *(f"{a} .. {b}" for a, b in zip(e, e[1:], strict=False)), f">= {e[-1]}", "missing"]

    def index(self, values: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Segment index of each value."""
        size = len(self.names())
        if self.kind == "categorical":
            position = {c: i for i, c in enumerate(self.categories)}
            names = [category_of(v) for v in values]
            return np.array([size - 1 if n is None else position.get(n, size - 2) for n in names], dtype=np.int64)
        x, _ = to_numeric(values)
        index = np.searchsorted(np.asarray(self.edges), x, side="right")
        return np.where(np.isnan(x), size - 1, index).astype(np.int64)

    def to_json(self) -> list[Any]:
        return [self.kind, list(self.edges), list(self.categories)]

    @classmethod
    def from_json(cls, doc: Sequence[Any]) -> SegmentSpec:
        return cls(str(doc[0]), tuple(float(e) for e in doc[1]), tuple(str(c) for c in doc[2]))


def segment_indices(specs: Mapping[str, SegmentSpec], features: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Per row, the segment index of each feature in sorted feature order: a (rows, features) array of
    one byte each (as stored).

    >>> segment_indices({"x": SegmentSpec.numeric([0.0])}, [{"x": -1.0}, {"x": 2.0}, {}]).tolist()
    [[0], [1], [2]]
    """
    names = sorted(specs)
    if not names:
        return np.zeros((len(features), 0), dtype=np.uint8)
    return np.column_stack([specs[n].index(list(map(dict.get, features, repeat(n))))  # type: ignore[arg-type]
                            for n in names]).astype(np.uint8)


def specs_from_columns(columns: Mapping[str, Sequence[Any] | np.ndarray], kinds: Mapping[str, str],
                       top_categories: int = 10) -> dict[str, SegmentSpec]:
    """Deciles of numeric columns and the top categories of categorical ones (a labelled reference's)."""
    specs = {}
    for name, values in columns.items():
        if kinds[name] == "numeric":
            x, _ = to_numeric(values)
            x = x[np.isfinite(x)]
            specs[name] = SegmentSpec.numeric(np.quantile(x, DECILES) if len(x) else [])
        else:
            counts: dict[str, int] = {}
            for v in map(category_of, values):
                if v is not None:
                    counts[v] = counts.get(v, 0) + 1
            top = sorted(counts, key=lambda c: (-counts[c], c))[:top_categories]
            specs[name] = SegmentSpec.categorical(top)
    return specs


class SegmentPerformance:
    def __init__(self, specs: Mapping[str, SegmentSpec]) -> None:
        self.specs = dict(specs)
        self.counts = {n: np.zeros(len(s.names()), dtype=np.int64) for n, s in self.specs.items()}
        self.error_sums = {n: np.zeros(len(s.names()), dtype=np.float64) for n, s in self.specs.items()}

    def update(self, features: Mapping[str, Sequence[Any] | np.ndarray], errors: Sequence[float] | np.ndarray) -> None:
        """Count rows by segment; ``errors`` is each labelled row's error (NaN rows are skipped)."""
        err = np.asarray(errors, dtype=np.float64)
        keep = ~np.isnan(err)
        for name, spec in self.specs.items():
            values = features.get(name)
            if values is None:
                values = [None] * len(err)
            index = spec.index(values)[keep]
            size = len(self.counts[name])
            self.counts[name] += np.bincount(index, minlength=size)
            self.error_sums[name] += np.bincount(index, weights=err[keep], minlength=size)

    def update_indices(self, indices: np.ndarray, errors: Sequence[float] | np.ndarray) -> None:
        """Count rows whose segment index per feature (columns in sorted feature order, as
        :func:`segment_indices` gives them) was taken when the prediction was made."""
        err = np.asarray(errors, dtype=np.float64)
        index = np.asarray(indices, dtype=np.int64).reshape(len(err), len(self.specs))
        keep = ~np.isnan(err)
        for column, name in enumerate(sorted(self.specs)):
            size = len(self.counts[name])
            where = keep & (index[:, column] < size)
            self.counts[name] += np.bincount(index[where, column], minlength=size)
            self.error_sums[name] += np.bincount(index[where, column], weights=err[where], minlength=size)

    def merge(self, other: SegmentPerformance) -> None:
        if other.specs != self.specs:
            raise SketchMismatchError("cannot merge segment performance over different segments")
        for name in self.specs:
            self.counts[name] += other.counts[name]
            self.error_sums[name] += other.error_sums[name]

    def metrics(self) -> dict[str, list[dict[str, Any]]]:
        """Per feature, its non-empty segments with their labelled rows and mean error."""
        out = {}
        for name, spec in self.specs.items():
            counts, sums = self.counts[name], self.error_sums[name]
            out[name] = [{"segment": label, "count": int(n), "error": float(s / n)}
                         for label, n, s in zip(spec.names(), counts, sums, strict=True) if n]
        return out

    def to_bytes(self) -> bytes:
        names = sorted(self.specs)
        blobs = [b for n in names for b in (self.counts[n].astype("<i8").tobytes(),
                                             self.error_sums[n].astype("<f8").tobytes())]
        return pack("segments", 1, {"specs": {n: self.specs[n].to_json() for n in names}}, blobs)

    @classmethod
    def from_bytes(cls, data: bytes) -> SegmentPerformance:
        header, blobs = unpack(data, "segments", 1)
        perf = cls({n: SegmentSpec.from_json(s) for n, s in header["specs"].items()})
        for i, name in enumerate(sorted(perf.specs)):
            perf.counts[name] = np.frombuffer(blobs[2 * i], dtype="<i8").astype(np.int64)
            perf.error_sums[name] = np.frombuffer(blobs[2 * i + 1], dtype="<f8").astype(np.float64)
        return perf

    def __repr__(self) -> str:
        return f"SegmentPerformance(features={len(self.specs)})"


def worst_segments(window: Mapping[str, list[dict[str, Any]]], reference: Mapping[str, list[dict[str, Any]]],
                   limit: int = 5, min_count: int = 30) -> list[dict[str, Any]]:
    """Segments whose mean error rose most above the reference's own error in that segment.

    Segments with fewer than ``min_count`` labelled rows in the window are left out: their error is noise.

    >>> w = {"x": [{"segment": "a", "count": 50, "error": 0.4}, {"segment": "b", "count": 50, "error": 0.1}]}
    >>> r = {"x": [{"segment": "a", "count": 500, "error": 0.1}, {"segment": "b", "count": 500, "error": 0.1}]}
    >>> [(s["feature"], s["segment"], round(s["increase"], 2)) for s in worst_segments(w, r)]
    [('x', 'a', 0.3), ('x', 'b', 0.0)]
    """
    rows = []
    for feature, segments in window.items():
        base = {s["segment"]: s["error"] for s in reference.get(feature, [])}
        for s in segments:
            if s["count"] >= min_count and s["segment"] in base:
                rows.append({"feature": feature, "segment": s["segment"], "count": s["count"], "error": s["error"],
                             "reference_error": base[s["segment"]], "increase": s["error"] - base[s["segment"]]})
    return sorted(rows, key=lambda r: -r["increase"])[:limit]
