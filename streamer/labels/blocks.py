"""Stored form of the label join's shard blocks (:mod:`streamer.labels.join`): columnar, compact, versioned.

A block holds one shard's pending predictions (``p_*``: 64-bit request-id hash, event time, expiry,
version index, prediction, score, segment indices, source record) and pending labels (``l_*``: hash,
time, expiry, label, source record), and its applied-offset fences (:mod:`streamer.labels.fences`). A
row's source record is the ``topic:partition`` (an index into the block's ``sources``) and offset it
came in, so that a joined pair can be judged new or replayed by the records it feeds. Numeric columns are raw little-endian arrays; predictions, scores and labels are JSON arrays
appended without decoding (:class:`JsonColumn`).
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import orjson

from streamer.errors import StateFormatError
from streamer.labels.fences import Fences

_EMPTY_IDS = np.zeros(0, dtype="<u8")
_LENGTH = struct.Struct("<I")


class JsonColumn:
    """A column of JSON values kept as its stored JSON array until a row is read or dropped: appending
    splices bytes, so a block that only grows is never decoded.

    >>> column = JsonColumn(b"[1,2]")
    >>> column.extend(["a"])
    >>> column.to_bytes(), column.items()
    (b'[1,2,"a"]', [1, 2, 'a'])
    """

    def __init__(self, data: bytes = b"[]") -> None:
        self._data: bytes | None = data
        self._items: list[Any] | None = None

    def items(self) -> list[Any]:
        if self._items is None:
            self._items = orjson.loads(self._data or b"[]")
            self._data = None
        return self._items

    def extend(self, values: list[Any]) -> None:
        if self._items is not None:
            self._items += values
            return
        new = orjson.dumps(values)
        if self._data == b"[]":
            self._data = new
        elif new != b"[]":
            self._data = (self._data or b"[")[:-1] + b"," + new[1:]

    def keep(self, flags: list[bool]) -> None:
        self._items = [v for v, k in zip(self.items(), flags, strict=True) if k]

    def to_bytes(self) -> bytes:
        return self._data if self._items is None and self._data is not None else orjson.dumps(self._items)


class Block:
    """The pending rows of one shard, columnar: predictions ``p_*`` and labels ``l_*``."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.versions: list[str] = []
        self.p_ids, self.p_times, self.p_expires = _EMPTY_IDS, np.zeros(0), np.zeros(0)
        self.p_version = np.zeros(0, dtype="<u2")
        self.p_values, self.p_probas = JsonColumn(), JsonColumn()
        self.p_segments = np.zeros((0, width), dtype=np.uint8)
        self.l_ids, self.l_times, self.l_expires = _EMPTY_IDS, np.zeros(0), np.zeros(0)
        self.l_values = JsonColumn()
        self.sources: list[str] = []  # topic:partition of the rows' records
        self.p_source, self.l_source = np.zeros(0, dtype="<u2"), np.zeros(0, dtype="<u2")
        self.p_offset, self.l_offset = np.zeros(0, dtype="<i8"), np.zeros(0, dtype="<i8")
        self.fences = Fences()
        self._soonest: float | None = math.inf  # the earliest expiry of its rows (None: not known)
        # Predictions appended since the block was loaded, as their own column arrays (ids, times, expiries,
        # versions, segments, sources, offsets): the stored form is the loaded bytes followed by these, so a
        # block that only grows is written without concatenating (copying) its old columns first.
        self._p_tail: list[tuple[np.ndarray, ...]] = []

    @property
    def p_ids(self) -> np.ndarray:
        if self._p_tail:
            self._settle()
        return self._p_ids

    @p_ids.setter
    def p_ids(self, ids: np.ndarray) -> None:
        self._p_ids = ids

    def _settle(self) -> None:
        """The appended predictions concatenated into the columns (before anything reads the rows)."""
        tails, self._p_tail = self._p_tail, []
        columns = list(zip(*tails, strict=True))
        self._p_ids, self.p_times, self.p_expires, self.p_version, self.p_segments, self.p_source, self.p_offset = (
            np.concatenate([base, *more]) for base, more in zip(
                (self._p_ids, self.p_times, self.p_expires, self.p_version, self.p_segments, self.p_source,
                 self.p_offset), columns, strict=True))

    def __len__(self) -> int:
        return len(self._p_ids) + sum(len(tail[0]) for tail in self._p_tail) + len(self.l_ids)

    def prediction(self, i: int) -> tuple[Any, ...]:
        if self._p_tail:
            self._settle()
        return (self.versions[int(self.p_version[i])], float(self.p_times[i]), self.p_values.items()[i],
                self.p_probas.items()[i], tuple(self.p_segments[i].tolist()),
                self.sources[int(self.p_source[i])] if self.sources else "", int(self.p_offset[i]))

    def label(self, i: int) -> tuple[Any, float, str, int]:
        return (self.l_values.items()[i], float(self.l_times[i]),
                self.sources[int(self.l_source[i])] if self.sources else "", int(self.l_offset[i]))

    def source_index(self, source: str) -> int:
        if source not in self.sources:
            self.sources.append(source)
        return self.sources.index(source)

    def keep_predictions(self, keep: np.ndarray) -> None:
        if self._p_tail:
            self._settle()
        self.p_ids, self.p_times, self.p_expires = self.p_ids[keep], self.p_times[keep], self.p_expires[keep]
        self.p_version, self.p_segments = self.p_version[keep], self.p_segments[keep]
        self.p_source, self.p_offset = self.p_source[keep], self.p_offset[keep]
        self._soonest = None
        flags = keep.tolist()
        self.p_values.keep(flags)
        self.p_probas.keep(flags)

    def keep_labels(self, keep: np.ndarray) -> None:
        self.l_ids, self.l_times, self.l_expires = self.l_ids[keep], self.l_times[keep], self.l_expires[keep]
        self.l_source, self.l_offset = self.l_source[keep], self.l_offset[keep]
        self._soonest = None
        self.l_values.keep(keep.tolist())

    def add_predictions(self, ids: list[int], rows: list[tuple[Any, ...]], ttl_seconds: float) -> None:
        if self._p_tail:
            self._settle()
        position = {v: k for k, v in enumerate(self.versions)}
        for row in rows:
            if row[0] not in position:
                position[row[0]] = len(self.versions)
                self.versions.append(row[0])
        times = np.array([r[1] for r in rows], dtype="<f8")
        self._expiring(float(times.min()) + ttl_seconds)
        self.p_ids = np.concatenate([self.p_ids, np.array(ids, dtype="<u8")])
        self.p_times = np.concatenate([self.p_times, times])
        self.p_expires = np.concatenate([self.p_expires, times + ttl_seconds])
        self.p_version = np.concatenate([self.p_version, np.array([position[r[0]] for r in rows], dtype="<u2")])
        self.p_values.extend([r[2] for r in rows])
        self.p_probas.extend([r[3] for r in rows])
        segments = np.array([r[4] for r in rows], dtype=np.uint8).reshape(len(rows), self.width)
        self.p_segments = np.concatenate([self.p_segments, segments])
        self.p_source = np.concatenate([self.p_source, np.array([self.source_index(r[5]) for r in rows], dtype="<u2")])
        self.p_offset = np.concatenate([self.p_offset, np.array([r[6] for r in rows], dtype="<i8")])

    def append_predictions(self, ids: np.ndarray, times: np.ndarray, version: str, values: list[Any],
                           probas: list[Any], segments: np.ndarray, source: str, offsets: np.ndarray,
                           ttl_seconds: float) -> None:
        """New pending predictions of one version and source, columnar (the pending path's fast form)."""
        if version not in self.versions:
            self.versions.append(version)
        self._expiring(float(times.min()) + ttl_seconds)
        n = len(ids)
        times = np.ascontiguousarray(times, dtype="<f8")
        self._p_tail.append((
            np.ascontiguousarray(ids, dtype="<u8"), times, times + ttl_seconds,
            np.full(n, self.versions.index(version), dtype="<u2"),
            np.ascontiguousarray(segments, dtype=np.uint8).reshape(n, self.width),
            np.full(n, self.source_index(source), dtype="<u2"), np.ascontiguousarray(offsets, dtype="<i8")))
        self.p_values.extend(values)
        self.p_probas.extend(probas)

    def add_labels(self, ids: list[int], labels: list[Any], times_s: list[float], ttl_seconds: float,
                   sources: list[str], offsets: list[int]) -> None:
        times = np.array(times_s, dtype="<f8")
        self.l_source = np.concatenate([self.l_source, np.array([self.source_index(x) for x in sources], dtype="<u2")])
        self.l_offset = np.concatenate([self.l_offset, np.array(offsets, dtype="<i8")])
        self._expiring(float(times.min()) + ttl_seconds)
        self.l_ids = np.concatenate([self.l_ids, np.array(ids, dtype="<u8")])
        self.l_times = np.concatenate([self.l_times, times])
        self.l_expires = np.concatenate([self.l_expires, times + ttl_seconds])
        self.l_values.extend(labels)

    def _expiring(self, expires_s: float) -> None:
        if self._soonest is not None:
            self._soonest = min(self._soonest, expires_s)

    def expire(self, clock_s: float) -> tuple[int, int]:
        """Drop the rows whose expiry the clock passed; (predictions, labels) dropped."""
        if self._soonest is None:
            if self._p_tail:
                self._settle()
            self._soonest = min(float(self.p_expires.min(initial=math.inf)), float(self.l_expires.min(initial=math.inf)))
        if self._soonest >= clock_s:
            return 0, 0
        if self._p_tail:
            self._settle()
        counts = []
        for expires, keep_rows in ((self.p_expires, self.keep_predictions), (self.l_expires, self.keep_labels)):
            keep = expires >= clock_s
            dropped = len(keep) - int(keep.sum())
            if dropped:
                keep_rows(keep)
            counts.append(dropped)
        return counts[0], counts[1]

    def to_bytes(self) -> bytes:
        if self._soonest is None:
            if self._p_tail:
                self._settle()
            self._soonest = min(float(self.p_expires.min(initial=math.inf)), float(self.l_expires.min(initial=math.inf)))
        header = {"width": self.width, "versions": self.versions, "sources": self.sources,
                  "fences": self.fences.to_json(), "soonest": "inf" if math.isinf(self._soonest) else self._soonest}
        tails = list(zip(*self._p_tail, strict=True)) if self._p_tail else [()] * 7
        p_columns = [[np.ascontiguousarray(base, dtype=dtype), *more] for base, dtype, more in zip(
            (self._p_ids, self.p_times, self.p_expires, self.p_version, self.p_segments, self.p_source, self.p_offset),
            ("<u8", "<f8", "<f8", "<u2", "u1", "<u2", "<i8"), tails, strict=True)]
        ids, times, expires, versions, segments, sources, offsets = p_columns
        columns: list[list[Any]] = [
            ids, times, expires, versions, segments, [self.p_values.to_bytes()], [self.p_probas.to_bytes()],
            [self.l_ids.astype("<u8")], [self.l_times.astype("<f8")], [self.l_expires.astype("<f8")],
            [self.l_values.to_bytes()], sources, offsets, [self.l_source.astype("<u2")], [self.l_offset.astype("<i8")]]
        return _pack_parts(header, columns)

    @classmethod
    def from_bytes(cls, data: bytes) -> Block:
        header, blobs = _unpack_views(data)
        if len(blobs) != 15:
            raise StateFormatError(f"stored join_block has {len(blobs)} columns, expected 15")
        # Built field by field rather than through __init__: a micro-batch loads every block it touches,
        # and the numeric columns are read in place (views of the stored bytes, never copied).
        block = cls.__new__(cls)
        block._p_tail = []
        block.width = int(header["width"])
        block.versions = list(header["versions"])
        block.sources = list(header["sources"])
        block.fences = Fences(header["fences"])
        u2, i8, u8, f8 = "<u2", "<i8", "<u8", "<f8"
        block.p_ids, block.p_times, block.p_expires = (np.frombuffer(blobs[0], u8), np.frombuffer(blobs[1], f8),
                                                       np.frombuffer(blobs[2], f8))
        block.p_version = np.frombuffer(blobs[3], u2)
        block.p_segments = np.frombuffer(blobs[4], np.uint8).reshape(len(block.p_ids), block.width)
        block.p_values, block.p_probas = JsonColumn(bytes(blobs[5])), JsonColumn(bytes(blobs[6]))
        block.l_ids, block.l_times, block.l_expires = (np.frombuffer(blobs[7], u8), np.frombuffer(blobs[8], f8),
                                                       np.frombuffer(blobs[9], f8))
        block.l_values = JsonColumn(bytes(blobs[10]))
        block.p_source, block.p_offset = np.frombuffer(blobs[11], u2), np.frombuffer(blobs[12], i8)
        block.l_source, block.l_offset = np.frombuffer(blobs[13], u2), np.frombuffer(blobs[14], i8)
        soonest = header.get("soonest")  # absent in blocks stored before it was kept
        block._soonest = math.inf if soonest == "inf" else float(soonest) if soonest is not None else None
        return block


def _pack_parts(header: dict[str, Any], columns: list[list[Any]]) -> bytes:
    """:func:`streamer.sketches.codec.pack` of a ``join_block`` (the same bytes), each column given as parts
    (bytes or contiguous arrays) written one after another, without joining each column first."""
    lengths = [sum(memoryview(part).nbytes for part in parts) for parts in columns]
    head = orjson.dumps({"kind": "join_block", "v": 2, "h": header, "b": lengths}, option=orjson.OPT_SERIALIZE_NUMPY)
    return b"".join([_LENGTH.pack(len(head)), head, *(part for parts in columns for part in parts)])


def _unpack_views(data: bytes) -> tuple[dict[str, Any], list[memoryview]]:
    """:func:`streamer.sketches.codec.unpack` of a ``join_block``, with the same checks, but its blobs as
    views of ``data`` rather than copies."""
    try:
        (head_length,) = _LENGTH.unpack_from(data, 0)
        head = orjson.loads(data[4 : 4 + head_length])
    except (struct.error, orjson.JSONDecodeError) as exc:
        raise StateFormatError("not a stored join_block") from exc
    if not isinstance(head, dict) or not isinstance(head.get("b"), list) or not isinstance(head.get("h"), dict):
        raise StateFormatError("not a stored join_block")
    if head.get("kind") != "join_block" or head.get("v") != 2:
        raise StateFormatError(f"stored {head.get('kind')} v{head.get('v')}, expected join_block v2")
    lengths = head["b"]
    if not all(type(n) is int and n >= 0 for n in lengths) or 4 + head_length + sum(lengths) != len(data):
        raise StateFormatError("stored join_block is truncated or has trailing bytes")
    view, blobs, offset = memoryview(data), [], 4 + head_length
    for length in lengths:
        blobs.append(view[offset : offset + length])
        offset += length
    return head["h"], blobs


def contains(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Whether each wanted id is in ``ids``: a sort of ``ids`` and a search, cheaper than the argsort
    :func:`find_ids` needs for positions.

    >>> contains(np.array([5, 9, 2], dtype="<u8"), np.array([9, 4, 9], dtype="<u8")).tolist()
    [True, False, True]
    """
    if not len(ids) or not len(wanted):
        return np.zeros(len(wanted), dtype=bool)
    ordered = np.sort(ids)
    return ordered[np.minimum(np.searchsorted(ordered, wanted), len(ordered) - 1)] == wanted  # type: ignore[no-any-return]


def find_ids(ids: np.ndarray, wanted: np.ndarray) -> list[int]:
    """The position of each wanted id in ``ids`` (distinct), or -1; sorted search, without a dict of every id."""
    if not len(ids):
        return [-1] * len(wanted)
    order = np.argsort(ids)
    ordered = ids[order]
    at = np.minimum(np.searchsorted(ordered, wanted), len(ids) - 1)
    return np.where(ordered[at] == wanted, order[at], -1).tolist()
