"""The label join of one model: pending predictions and pending labels in blocks, matched by ``request_id``.

A label joins the prediction with the same ``request_id`` whichever arrives first (CONTRACT 4.2; any
version). What is waiting is kept in blocks per time bucket (``bucket_seconds`` of the prediction's
event time for predictions, of the label's time for labels), so the worker writes one table entry per
touched block and micro-batch instead of one changelog record per row. A pending prediction keeps only
what scoring needs once its label comes: version, event time, prediction, score and, per monitored
feature, the index of its segment (one byte each) rather than the feature values.

The model's clock is the largest event time seen (predictions and labels alike); a block expires when
the clock has passed its end by ``ttl_seconds``, and the rows still in it are counted as expired
(unmatched), never dropped silently. Rows are therefore kept between ``ttl_seconds`` and
``ttl_seconds + bucket_seconds``.

Cost: a stored pending prediction takes about 32 bytes with a 10-character request id, a 0/1 prediction
and a 4-digit score, plus one byte per monitored feature (42 bytes with 10; ``tests/unit/labels``).
A touched block is rewritten whole, so ``bucket_seconds`` trades the number of table entries against
the bytes rewritten per micro-batch. The request-id index (id to block) is derived from the blocks and
rebuilt on :meth:`JoinStore.load`.

>>> store = JoinStore(bucket_seconds=60, ttl_seconds=600)
>>> store.add_labels(["r2"], [1], [1000.0]).rows
0
>>> joined = store.add_predictions("v1", ["r1", "r2"], [990.0, 995.0], [0, 1], [0.2, 0.9])
>>> joined.rows, joined.labels, joined.times_s
(1, [1], [995.0])
>>> store.add_labels(["r1"], [0], [1200.0]).predictions
[0]
>>> store.pending()
(0, 0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamer.sketches.codec import pack, unpack

PREDICTIONS, LABELS = "p", "l"


@dataclass
class Joined:
    """Joined rows, columnar: each list has one entry per row."""

    versions: list[str] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    times_s: list[float] = field(default_factory=list)  # the prediction's event time: it picks the window
    predictions: list[Any] = field(default_factory=list)
    probas: list[Any] = field(default_factory=list)
    segments: list[tuple[int, ...]] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    label_times_s: list[float] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.request_ids)

    def append(self, request_id: str, prediction: tuple[Any, ...], label: tuple[Any, float]) -> None:
        version, time_s, value, proba, segments = prediction
        self.versions.append(version)
        self.request_ids.append(request_id)
        self.times_s.append(time_s)
        self.predictions.append(value)
        self.probas.append(proba)
        self.segments.append(segments)
        self.labels.append(label[0])
        self.label_times_s.append(label[1])


def _predictions_to_bytes(rows: Mapping[str, tuple[Any, ...]], width: int) -> bytes:
    ids = list(rows)
    versions = sorted({rows[i][0] for i in ids})
    position = {v: k for k, v in enumerate(versions)}
    header = {"ids": ids, "versions": versions, "version_of": [position[rows[i][0]] for i in ids],
              "predictions": [rows[i][2] for i in ids], "probas": [rows[i][3] for i in ids], "width": width}
    times = np.array([rows[i][1] for i in ids], dtype="<f8").tobytes()
    segments = np.array([rows[i][4] for i in ids], dtype=np.uint8).reshape(len(ids), width).tobytes()
    return pack("pending_predictions", 1, header, [times, segments])


def _predictions_from_bytes(data: bytes) -> dict[str, tuple[Any, ...]]:
    header, blobs = unpack(data, "pending_predictions", 1)
    ids, width = header["ids"], int(header["width"])
    times = np.frombuffer(blobs[0], dtype="<f8").tolist()
    segments = np.frombuffer(blobs[1], dtype=np.uint8).reshape(len(ids), width).tolist()
    versions = header["versions"]
    return {rid: (versions[v], t, p, q, tuple(s)) for rid, v, t, p, q, s in zip(
        ids, header["version_of"], times, header["predictions"], header["probas"], segments, strict=True)}


def _labels_to_bytes(rows: Mapping[str, tuple[Any, float]]) -> bytes:
    header = {"ids": list(rows), "labels": [v[0] for v in rows.values()]}
    return pack("pending_labels", 1, header, [np.array([v[1] for v in rows.values()], dtype="<f8").tobytes()])


def _labels_from_bytes(data: bytes) -> dict[str, tuple[Any, float]]:
    header, blobs = unpack(data, "pending_labels", 1)
    times = np.frombuffer(blobs[0], dtype="<f8").tolist()
    return {rid: (label, t) for rid, label, t in zip(header["ids"], header["labels"], times, strict=True)}


class JoinStore:
    def __init__(self, bucket_seconds: float = 60.0, ttl_seconds: float = 86400.0, segment_width: int = 0) -> None:
        if bucket_seconds <= 0 or ttl_seconds <= 0 or not 0 <= segment_width <= 4096:
            raise ValueError("bucket_seconds and ttl_seconds must be > 0, segment_width in 0..4096")
        self.bucket_seconds = bucket_seconds
        self.ttl_seconds = ttl_seconds
        self.segment_width = segment_width
        self.predictions: dict[int, dict[str, tuple[Any, ...]]] = {}
        self.labels: dict[int, dict[str, tuple[Any, float]]] = {}
        self.clock_s = -math.inf
        self.joined_total = 0
        self.expired_predictions = 0
        self.expired_labels = 0
        self._dirty: set[tuple[str, int]] = set()
        # request id -> bucket of its block, per kind: derived from the blocks, rebuilt on load.
        self._where: dict[str, dict[str, int]] = {PREDICTIONS: {}, LABELS: {}}

    def _bucket(self, time_s: float) -> int:
        return int(time_s // self.bucket_seconds)

    def _find(self, kind: str, request_id: str) -> int | None:
        return self._where[kind].get(request_id)

    def add_predictions(self, version: str, request_ids: Sequence[str | None], times_s: Sequence[float],
                        predictions: Sequence[Any], probas: Sequence[Any],
                        segments: Sequence[Sequence[int]] | None = None) -> Joined:
        """Rows of one version; those whose label is waiting join now, the others wait. Rows without a
        request id cannot be joined and are skipped."""
        joined = Joined()
        if segments is not None and any(len(x) != self.segment_width for x in segments):
            raise ValueError(f"segment indices of another width than the store's {self.segment_width}")
        waiting_labels, waiting_predictions = self._where[LABELS], self._where[PREDICTIONS]
        empty: tuple[int, ...] = ()
        if segments is None and self.segment_width:
            raise ValueError(f"0 segment indices for a store of width {self.segment_width}")
        for i, request_id in enumerate(request_ids):
            if request_id is None:
                continue
            row = (version, float(times_s[i]), predictions[i], probas[i],
                   tuple(segments[i]) if segments is not None else empty)
            bucket = waiting_labels.get(request_id)
            if bucket is not None:
                joined.append(request_id, row, self.labels[bucket].pop(request_id))
                del waiting_labels[request_id]
                self._dirty.add((LABELS, bucket))
            elif request_id not in waiting_predictions:  # a repeat keeps the first
                target = int(row[1] // self.bucket_seconds)
                block = self.predictions.get(target)
                if block is None:
                    block = self.predictions[target] = {}
                    self._dirty.add((PREDICTIONS, target))
                block[request_id] = row
                waiting_predictions[request_id] = target
        if len(times_s):
            self.clock_s = max(self.clock_s, float(max(times_s)))
        self._dirty.update((PREDICTIONS, b) for b in {int(float(t) // self.bucket_seconds) for t in times_s}
                           if b in self.predictions)
        self.joined_total += joined.rows
        return joined

    def add_labels(self, request_ids: Sequence[str], labels: Sequence[Any], times_s: Sequence[float]) -> Joined:
        """Labels; those whose prediction is waiting join now, the others wait (a repeat keeps the first)."""
        joined = Joined()
        for request_id, label, time_s in zip(request_ids, labels, times_s, strict=True):
            self.clock_s = max(self.clock_s, float(time_s))
            bucket = self._find(PREDICTIONS, request_id)
            if bucket is not None:
                joined.append(request_id, self.predictions[bucket].pop(request_id), (label, float(time_s)))
                del self._where[PREDICTIONS][request_id]
                self._dirty.add((PREDICTIONS, bucket))
            elif self._find(LABELS, request_id) is None:
                target = self._bucket(float(time_s))
                self.labels.setdefault(target, {})[request_id] = (label, float(time_s))
                self._where[LABELS][request_id] = target
                self._dirty.add((LABELS, target))
        self.joined_total += joined.rows
        return joined

    def expire(self) -> tuple[int, int]:
        """Drop blocks whose end the clock passed by the TTL; (predictions, labels) expired unmatched."""
        counts = []
        blocks: dict[int, dict[str, Any]]
        for kind, blocks in ((PREDICTIONS, self.predictions), (LABELS, self.labels)):  # type: ignore[assignment]
            old = [b for b in blocks if (b + 1) * self.bucket_seconds + self.ttl_seconds < self.clock_s]
            expired = 0
            for bucket in old:
                for request_id in blocks[bucket]:
                    del self._where[kind][request_id]
                expired += len(blocks.pop(bucket))
            counts.append(expired)
            self._dirty.update((kind, b) for b in old)
        self.expired_predictions += counts[0]
        self.expired_labels += counts[1]
        return counts[0], counts[1]

    def pending(self) -> tuple[int, int]:
        return sum(map(len, self.predictions.values())), sum(map(len, self.labels.values()))

    # -- storage: one entry per block, written only when touched ----------------------------------

    def take_dirty(self) -> dict[tuple[str, int], bytes | None]:
        """The blocks changed since the last call, in stored form (``None``: delete the entry)."""
        out: dict[tuple[str, int], bytes | None] = {}
        for kind, bucket in sorted(self._dirty):
            if kind == PREDICTIONS:
                rows = self.predictions.get(bucket)
                if rows is not None and not rows:
                    del self.predictions[bucket]
                out[(kind, bucket)] = _predictions_to_bytes(rows, self.segment_width) if rows else None
            else:
                labels = self.labels.get(bucket)
                if labels is not None and not labels:
                    del self.labels[bucket]
                out[(kind, bucket)] = _labels_to_bytes(labels) if labels else None
        self._dirty.clear()
        return out

    def meta_bytes(self) -> bytes:
        return pack("join_meta", 1, {"bucket_seconds": self.bucket_seconds, "ttl_seconds": self.ttl_seconds,
                                     "segment_width": self.segment_width,
                                     "clock_s": None if math.isinf(self.clock_s) else self.clock_s,
                                     "joined": self.joined_total, "expired_predictions": self.expired_predictions,
                                     "expired_labels": self.expired_labels})

    @classmethod
    def load(cls, meta: bytes, blocks: Mapping[tuple[str, int], bytes]) -> JoinStore:
        header, _ = unpack(meta, "join_meta", 1)
        store = cls(float(header["bucket_seconds"]), float(header["ttl_seconds"]), int(header["segment_width"]))
        store.clock_s = -math.inf if header["clock_s"] is None else float(header["clock_s"])
        store.joined_total = int(header["joined"])
        store.expired_predictions, store.expired_labels = (int(header["expired_predictions"]),
                                                           int(header["expired_labels"]))
        for (kind, bucket), data in blocks.items():
            rows: dict[str, Any] = (_predictions_from_bytes(data) if kind == PREDICTIONS
                                    else _labels_from_bytes(data))
            (store.predictions if kind == PREDICTIONS else store.labels)[bucket] = rows
            store._where[kind].update(dict.fromkeys(rows, bucket))
        return store

    def __repr__(self) -> str:
        predictions, labels = self.pending()
        return f"JoinStore(pending_predictions={predictions}, pending_labels={labels}, joined={self.joined_total})"
