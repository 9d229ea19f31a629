"""Everything one tumbling window of one model knows: a pure aggregation with no Kafka in it.

Initialise with the window's bounds, :meth:`WindowAccumulator.add` batches of rows, read the
sketches. Accumulators merge (a baseline is the merge of the first windows) and round-trip
through :meth:`to_bytes` for the state table.

>>> from streamer.events.rows import PredictionRows
>>> rows = PredictionRows.empty("fraud", "1")
>>> rows.append_row(timestamp_s=5.0, features={"amount": 3.0, "country": "DE"}, prediction=1, latency_ms=12.0)
>>> rows.append_row(timestamp_s=7.0, error="timeout", latency_ms=100.0)
>>> window = WindowAccumulator(0.0, 60.0)
>>> window.add(rows, EMPTY_LAYOUT, max_categories=16)
>>> window.rows, window.errors, sorted(window.features), window.features["amount"].count
(2, 1, ['amount', 'country'], 1)
>>> WindowAccumulator.from_bytes(window.to_bytes()).latency_ms.count
2
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from streamer.errors import SketchMismatchError, StateFormatError
from streamer.events.rows import PredictionRows
from streamer.sketches.categorical import CategoricalSketch
from streamer.sketches.codec import pack, unpack
from streamer.sketches.ddsketch import DDSketch
from streamer.sketches.numeric import NumericSketch
from streamer.windows.columns import EMPTY_LAYOUT, Layout, Sketch, output_columns, update_sketches

__all__ = ["WindowAccumulator", "EMPTY_LAYOUT"]


def _sketch_to_bytes(sketch: Sketch) -> bytes:
    return (b"n" if isinstance(sketch, NumericSketch) else b"c") + sketch.to_bytes()


def _sketch_from_bytes(data: bytes) -> Sketch:
    return NumericSketch.from_bytes(data[1:]) if data[:1] == b"n" else CategoricalSketch.from_bytes(data[1:])


def _latency_from_v1(data: bytes) -> DDSketch:
    old = NumericSketch.from_bytes(data)
    latency = DDSketch()
    items, weights = old.quantiles.weighted_items()
    latency.update(np.repeat(items, weights.astype(np.int64)))
    return latency


class WindowAccumulator:
    def __init__(self, start_s: float, end_s: float) -> None:
        self.start_s = start_s
        self.end_s = end_s
        self.rows = 0
        self.errors = 0
        self.first_event_s = math.inf
        self.last_event_s = -math.inf
        self.latency_ms = DDSketch()  # relative value error 1%: p99 of a heavy tail stays right
        self.features: dict[str, Sketch] = {}
        self.outputs: dict[str, Sketch] = {}
        self.type_mismatches: dict[str, int] = {}
        self.non_finite: dict[str, int] = {}  # NaN or infinity sent as a number, per numeric column
        self.dropped_features = 0  # new feature names past the window's limit, per batch they came in

    def add(self, rows: PredictionRows, layout: Layout, max_categories: int, max_features: int = 500) -> None:
        """Add rows that all fall into this window."""
        if not len(rows):
            return
        self.rows += len(rows)
        self.first_event_s = min(self.first_event_s, min(rows.timestamps_s))
        self.last_event_s = max(self.last_event_s, max(rows.timestamps_s))
        latencies = np.array([math.nan if v is None else v for v in rows.latencies_ms], dtype=np.float64)
        self.latency_ms.update(latencies)
        n_failed = 0
        if any(rows.errors):
            failed = [bool(e) for e in rows.errors]
            n_failed = sum(failed)
        self.errors += n_failed
        if n_failed:
            # A failed request's inputs say nothing about the model's input distribution.
            rows = rows.select([not f for f in failed])
        if not len(rows):
            return
        columns = rows.feature_columns()
        if len(self.features) + len(columns) > max_features:
            columns = self._within_feature_limit(columns, max_features)
        update_sketches(self.features, columns, layout.features, max_categories, self.type_mismatches,
                        self.non_finite)
        update_sketches(self.outputs, output_columns(rows), layout.outputs, max_categories, self.type_mismatches)

    def _within_feature_limit(self, columns: dict[str, list[Any]], max_features: int) -> dict[str, list[Any]]:
        """Known columns and as many new ones as the limit allows: a flood of feature names stays bounded."""
        room = max_features - len(self.features)
        kept = {}
        for name, values in columns.items():
            if name in self.features or room > 0:
                room -= name not in self.features
                kept[name] = values
            else:
                self.dropped_features += 1
        return kept

    def adopt_bins(self, layout: Layout) -> None:
        """Recount numeric sketches that have no bins over the layout's (from their quantile sketches).

        A window opened before its model's baseline was complete is counted without bins; once the
        baseline fixes them, the rows seen so far are recounted once and later rows are counted exactly.
        """
        for sketches, specs in ((self.features, layout.features), (self.outputs, layout.outputs)):
            for name, sketch in sketches.items():
                spec = specs.get(name)
                if isinstance(sketch, NumericSketch) and sketch.edges is None and spec is not None and spec.edges is not None:
                    sketch.adopt_edges(spec.edges)

    def merge(self, other: WindowAccumulator) -> None:
        """Fold ``other`` into this one (bounds widen to cover both)."""
        for mine, theirs in ((self.features, other.features), (self.outputs, other.outputs)):
            for name, sketch in theirs.items():
                if name in mine and type(mine[name]) is not type(sketch):
                    raise SketchMismatchError(f"column {name!r} is numeric in one window, categorical in another")
        self.start_s, self.end_s = min(self.start_s, other.start_s), max(self.end_s, other.end_s)
        self.rows += other.rows
        self.errors += other.errors
        self.first_event_s = min(self.first_event_s, other.first_event_s)
        self.last_event_s = max(self.last_event_s, other.last_event_s)
        self.latency_ms.merge(other.latency_ms)
        for mine, theirs in ((self.features, other.features), (self.outputs, other.outputs)):
            for name, sketch in theirs.items():
                if name not in mine:
                    mine[name] = type(sketch).from_bytes(sketch.to_bytes())
                else:
                    mine[name].merge(sketch)  # type: ignore[arg-type]
        for name, n in other.type_mismatches.items():
            self.type_mismatches[name] = self.type_mismatches.get(name, 0) + n
        self.dropped_features += other.dropped_features
        for name, n in other.non_finite.items():
            self.non_finite[name] = self.non_finite.get(name, 0) + n

    def to_bytes(self) -> bytes:
        names_f, names_o = list(self.features), list(self.outputs)
        header = {
            "start": self.start_s, "end": self.end_s, "rows": self.rows, "errors": self.errors,
            "first": None if self.rows == 0 else self.first_event_s,
            "last": None if self.rows == 0 else self.last_event_s,
            "features": names_f, "outputs": names_o, "mismatches": self.type_mismatches,
            "non_finite": self.non_finite, "dropped_features": self.dropped_features,
        }
        blobs = [self.latency_ms.to_bytes()]
        blobs += [_sketch_to_bytes(self.features[n]) for n in names_f]
        blobs += [_sketch_to_bytes(self.outputs[n]) for n in names_o]
        return pack("window", 2, header, blobs)

    @classmethod
    def from_bytes(cls, data: bytes) -> WindowAccumulator:
        try:
            header, blobs = unpack(data, "window", 2)
            latency = DDSketch.from_bytes(blobs[0] if blobs else b"")
        except StateFormatError:
            # Version 1 (before the upgrade) kept latency in a KLL sketch: carry its weighted items
            # over. Anything else raises here again.
            header, blobs = unpack(data, "window", 1)
            latency = _latency_from_v1(blobs[0] if blobs else b"")
        window = cls(header["start"], header["end"])
        window.rows, window.errors = header["rows"], header["errors"]
        if header["first"] is not None:
            window.first_event_s, window.last_event_s = header["first"], header["last"]
        window.type_mismatches = header["mismatches"]
        window.non_finite = header.get("non_finite", {})
        window.dropped_features = header.get("dropped_features", 0)
        window.latency_ms = latency
        n_features = len(header["features"])
        window.features = {n: _sketch_from_bytes(b) for n, b in zip(header["features"], blobs[1 : 1 + n_features], strict=False)}
        window.outputs = {n: _sketch_from_bytes(b) for n, b in zip(header["outputs"], blobs[1 + n_features :], strict=False)}
        return window

    def __repr__(self) -> str:
        return (f"WindowAccumulator([{self.start_s}, {self.end_s}), rows={self.rows}, errors={self.errors}, "
                f"features={len(self.features)}, outputs={len(self.outputs)})")
