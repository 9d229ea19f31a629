"""The label join of one model: pending predictions and pending labels in shard blocks, matched by ``request_id``.

A label joins the prediction with the same ``request_id`` whichever arrives first (CONTRACT 4.2; any
version). What is waiting lives in the table, in one block per shard: ``shard = crc32(request_id) %
shards``, so a label or a prediction finds the only block that can hold its partner from its
``request_id`` alone, without an index in memory. The worker writes one table entry per touched block
and micro-batch instead of one changelog record per row.

Memory: only the blocks touched since the last :meth:`JoinStore.take_dirty` are held (loaded through
``load(shard)``, the table); ``take_dirty`` hands them back in stored form and drops them, and the
stage calls it once per micro-batch. Between micro-batches a model costs its metadata only (clock,
counters), whatever its rate and label delay. Within one, a touched block is a few numpy columns.

Each stored row keeps its own expiry time (its event time plus ``ttl_seconds``); the model's clock is
the largest event time seen (predictions and labels alike). A row whose expiry the clock has passed is
dropped and counted as expired (unmatched) whenever its block is touched: by a row of the same shard,
by :meth:`JoinStore.expire` on the blocks in memory, or by :meth:`JoinStore.sweep`, which visits a few
shards in turn (the stage runs it on each tick) so that blocks no row touches again still expire.

A pending prediction keeps only what scoring needs once its label comes: a 64-bit hash of its request id
(:func:`request_hashes`; a false match needs two of the model's pending ids to share 64 bits), version,
event time, expiry, the record it came in (for :mod:`streamer.labels.fences`), prediction, score and, per
monitored feature, the index of its segment (one byte each). Cost: 45 bytes fixed plus one per monitored
feature plus the prediction and score as JSON (55.5 B with 10 features, a 0/1 prediction and a 4-digit
score; ``python -m bench.pending_memory``). A touched block is rewritten whole, so more shards mean fewer bytes rewritten
per micro-batch and more table entries.

>>> table = {}
>>> store = JoinStore(ttl_seconds=600, shards=4, load=table.get)
>>> store.add_labels(["r2"], [1], [1000.0]).rows
0
>>> joined = store.add_predictions("v1", ["r1", "r2"], [990.0, 995.0], [0, 1], [0.2, 0.9])
>>> joined.rows, joined.labels, joined.times_s
(1, [1], [995.0])
>>> table.update(store.take_dirty())   # the micro-batch's writes; nothing stays in memory
>>> store.add_labels(["r1"], [0], [1200.0]).predictions
[0]
>>> store.pending()
(0, 0)
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamer.errors import StateFormatError
from streamer.labels.blocks import Block, contains, find_ids
from streamer.labels.request_ids import request_hashes, shard_of  # noqa: F401  (shard_of: the join's public API)
from streamer.sketches.codec import pack, unpack

log = logging.getLogger(__name__)

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
    # The records each side came in ("shard|topic:partition", offset): what the fences of the windows and
    # the concept monitor judge (streamer.labels.fences). Per shard, because each shard's block is one
    # stored record with one history: after a crash one block can be ahead of another, never of itself.
    sources: list[tuple[str, int, str, int]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.request_ids)

    def append(self, request_id: str, prediction: tuple[Any, ...], label: tuple[Any, ...], shard: int | None = None) -> None:
        """``prediction``: (version, time, value, score, segments, source, offset); ``label``: (value, time,
        source, offset); sources get the ``shard`` prefix when given."""
        version, time_s, value, proba, segments, p_source, p_offset = prediction
        self.versions.append(version)
        self.request_ids.append(request_id)
        self.times_s.append(time_s)
        self.predictions.append(value)
        self.probas.append(proba)
        self.segments.append(segments)
        self.labels.append(label[0])
        self.label_times_s.append(label[1])
        prefix = "" if shard is None else f"{shard}|"
        self.sources.append((prefix + p_source, p_offset, prefix + label[2], label[3]))

    def take(self, rows: Sequence[int]) -> Joined:
        """The given rows, in that order."""
        picked = {name: [getattr(self, name)[i] for i in rows] for name in (
            "versions", "request_ids", "times_s", "predictions", "probas", "segments", "labels", "label_times_s",
            "sources")}
        return Joined(**picked)

    def ordered(self, order: list[int]) -> Joined:
        """The rows in the order of ``order`` (one key per row): the order they arrived in."""
        return self.take(sorted(range(self.rows), key=order.__getitem__))


def _pick(values: Sequence[Any], rows: np.ndarray) -> list[Any]:
    """``[values[i] for i in rows]``, by :func:`operator.itemgetter` (one C call rather than a Python loop).

    >>> _pick(["a", "b", "c"], np.array([2, 0])), _pick(["a", "b"], np.array([1])), _pick(["a"], np.array([], int))
    (['c', 'a'], ['b'], [])
    """
    if len(rows) == 0:
        return []
    if len(rows) == 1:
        return [values[int(rows[0])]]
    return list(operator.itemgetter(*rows.tolist())(values))


def _first_of_each(n: int, shards: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Of ``n`` rows split by :meth:`JoinStore._by_shard`, whether each is its request id's first row (a
    repeat keeps the first); rows without an id are not first. Distinct ids are the usual case: one sort
    finds them so, and only a call with a repeat pays for positions.

    >>> ids = np.array([7, 3, 7], dtype="<u8")
    >>> _first_of_each(4, {0: (np.array([0, 2]), ids[[0, 2]]), 1: (np.array([3]), ids[[1]])}).tolist()
    [True, False, False, True]
    """
    first = np.zeros(n, dtype=bool)
    if not shards:
        return first
    positions = np.concatenate([rows for rows, _ in shards.values()])
    keys = np.concatenate([keys for _, keys in shards.values()])
    ordered = np.sort(keys)
    if not (ordered[1:] == ordered[:-1]).any():
        first[positions] = True
        return first
    by_position = np.argsort(positions, kind="stable")
    first[positions[by_position[np.unique(keys[by_position], return_index=True)[1]]]] = True
    return first


class JoinStore:
    def __init__(self, ttl_seconds: float = 86400.0, segment_width: int = 0, shards: int = 16,
                 load: Callable[[int], bytes | None] | None = None) -> None:
        if ttl_seconds <= 0 or not 0 <= segment_width <= 4096 or not 1 <= shards <= 65536:
            raise ValueError("ttl_seconds must be > 0, segment_width in 0..4096, shards in 1..65536")
        self.ttl_seconds = ttl_seconds
        self.segment_width = segment_width
        self.shards = shards
        self.load: Callable[[int], bytes | None] = load or (lambda shard: None)
        self.clock_s = -math.inf
        self.joined_total = 0
        self.expired_predictions = 0
        self.expired_labels = 0
        self.pending_predictions = 0
        self.pending_labels = 0
        self.sweep_cursor = 0  # the next shard the sweep visits
        self._blocks: dict[int, Block] = {}  # touched since the last take_dirty; dropped by it
        self._dirty: set[int] = set()

    def _block(self, shard: int) -> Block:
        """A shard's block, loaded on first touch; rows it holds past their expiry are dropped and counted."""
        block = self._blocks.get(shard)
        if block is None:
            stored = self.load(shard)
            try:
                block = Block.from_bytes(stored) if stored else Block(self.segment_width)
            except StateFormatError as exc:  # a crash loop would stop every model: start the shard afresh
                log.warning("join shard %d unreadable, its pending rows are dropped: %s", shard, exc)
                block = Block(self.segment_width)
            self._blocks[shard] = block
            self._expire_block(shard, block)
        return block

    def _expire_block(self, shard: int, block: Block) -> tuple[int, int]:
        predictions, labels = block.expire(self.clock_s)
        if predictions or labels:
            self._dirty.add(shard)
            self.expired_predictions += predictions
            self.expired_labels += labels
            self.pending_predictions -= predictions
            self.pending_labels -= labels
        return predictions, labels

    def _by_shard(self, request_ids: Sequence[str | None]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per shard: the positions of its rows (in order) and their request-id hashes."""
        if None in request_ids:
            positions = np.array([i for i, r in enumerate(request_ids) if r is not None], dtype=np.int64)
            keys = request_hashes([request_ids[i] for i in positions.tolist()])  # type: ignore[misc]
        else:  # the usual case, without a pass in Python over the rows
            positions = np.arange(len(request_ids), dtype=np.int64)
            keys = request_hashes(request_ids)  # type: ignore[arg-type]
        shards = (keys % np.uint64(self.shards)).astype(np.int64)
        order = np.argsort(shards, kind="stable")
        cuts = np.flatnonzero(np.diff(shards[order])) + 1
        return {int(shards[part[0]]): (positions[part], keys[part]) for part in np.split(order, cuts) if len(part)}

    def add_predictions(self, version: str, request_ids: Sequence[str | None], times_s: Sequence[float],
                        predictions: Sequence[Any], probas: Sequence[Any],
                        segments: Sequence[Sequence[int]] | np.ndarray | None = None, source: str = "",
                        offsets: Sequence[int] | None = None) -> Joined:
        """Rows of one version; those whose label is waiting join now, the others wait. Rows without a
        request id cannot be joined and are skipped. ``source`` and ``offsets`` (per row) name the records
        they came in: a row its block's fence has already taken in (a redelivery) is skipped."""
        n = len(request_ids)
        indices = (np.zeros((n, 0), dtype=np.uint8) if segments is None
                   else np.asarray(segments, dtype=np.uint8).reshape(n, -1) if n else np.zeros((0, self.segment_width)))
        if indices.shape != (n, self.segment_width):
            raise ValueError(f"segment indices of shape {indices.shape}, the store's width is {self.segment_width}")
        times = np.asarray(times_s, dtype=np.float64)
        record_offsets = np.full(n, -1, dtype=np.int64) if offsets is None else np.asarray(offsets, dtype=np.int64)
        joined, order = Joined(), []
        shards = self._by_shard(request_ids)
        first = _first_of_each(n, shards)
        for shard, (rows, keys) in shards.items():
            block = self._block(shard)
            row_offsets = record_offsets[rows]
            fence = block.fences.offsets.get(source, -1)
            fresh = (row_offsets < 0) | (row_offsets > fence)  # a redelivered row was taken in already
            # a repeat keeps the first: of this call (``first``, judged once for all shards) and of the block
            candidates = fresh & first[rows] & ~contains(block.p_ids, keys)
            if len(block.l_ids):
                found = np.asarray(find_ids(block.l_ids, keys))
                joins, new = np.flatnonzero(candidates & (found >= 0)), np.flatnonzero(candidates & (found < 0))
            else:  # no label waits in this shard: every candidate waits
                joins, new = np.zeros(0, dtype=np.int64), np.flatnonzero(candidates)
            if len(joins):
                taken = np.ones(len(block.l_ids), dtype=bool)
                for j in joins.tolist():
                    i = int(rows[j])
                    row = (version, float(times[i]), predictions[i], probas[i], tuple(indices[i].tolist()), source,
                           int(record_offsets[i]))
                    joined.append(request_ids[i], row, block.label(int(found[j])), shard)  # type: ignore[arg-type]
                    order.append(i)
                    taken[found[j]] = False
                block.keep_labels(taken)
                self.pending_labels -= len(joins)
            if len(new):
                picked = rows[new]
                block.append_predictions(keys[new], times[picked], version, _pick(predictions, picked),
                                         _pick(probas, picked), indices[picked], source,
                                         record_offsets[picked], self.ttl_seconds)
                self.pending_predictions += len(new)
            if offsets is not None:
                block.fences.advance(source, int(row_offsets.max()))
            self._dirty.add(shard)
        if n:
            self.clock_s = max(self.clock_s, float(times.max()))
        self.joined_total += joined.rows
        return joined.ordered(order)

    def add_labels(self, request_ids: Sequence[str], labels: Sequence[Any], times_s: Sequence[float],
                   sources: Sequence[str] | None = None, offsets: Sequence[int] | None = None) -> Joined:
        """Labels; those whose prediction is waiting join now, the others wait (a repeat keeps the first).
        ``sources`` and ``offsets`` (per label) name their records, as for :meth:`add_predictions`."""
        if not len(request_ids) == len(labels) == len(times_s):
            raise ValueError("request_ids, labels and times_s differ in length")
        source_of = (lambda i: sources[i]) if sources is not None else (lambda i: "")
        offset_of = (lambda i: int(offsets[i])) if offsets is not None else (lambda i: -1)
        joined, order = Joined(), []
        for shard, (positions, wanted) in self._by_shard(request_ids).items():
            block = self._block(shard)
            rows, keys = positions.tolist(), wanted.tolist()
            found = find_ids(block.p_ids, wanted)
            repeats = [at >= 0 for at in find_ids(block.l_ids, wanted)]
            waiting: set[int] = set()  # new in this call
            taken = np.ones(len(block.p_ids), dtype=bool)
            new_ids: list[int] = []
            new_labels: list[Any] = []
            new_times: list[float] = []
            new_sources: list[str] = []
            new_offsets: list[int] = []
            fresh = [block.fences.admits(source_of(i), offset_of(i)) for i in rows]
            for i, key, at, repeat, new in zip(rows, keys, found, repeats, fresh, strict=True):
                if not new:
                    continue  # redelivered: taken in already
                if at >= 0 and taken[at]:
                    joined.append(request_ids[i], block.prediction(at),
                                  (labels[i], float(times_s[i]), source_of(i), offset_of(i)), shard)
                    order.append(i)
                    taken[at] = False
                elif not repeat and key not in waiting:
                    waiting.add(key)
                    new_ids.append(key)
                    new_labels.append(labels[i])
                    new_times.append(float(times_s[i]))
                    new_sources.append(source_of(i))
                    new_offsets.append(offset_of(i))
            if not taken.all():
                block.keep_predictions(taken)
            if new_ids:
                block.add_labels(new_ids, new_labels, new_times, self.ttl_seconds, new_sources, new_offsets)
            for i in rows:
                block.fences.advance(source_of(i), offset_of(i))
            self._dirty.add(shard)
            self.pending_predictions -= len(taken) - int(taken.sum())
            self.pending_labels += len(new_ids)
        if len(times_s):
            self.clock_s = max(self.clock_s, float(max(times_s)))
        self.joined_total += joined.rows
        return joined.ordered(order)

    def expire(self) -> tuple[int, int]:
        """Expire the rows of the blocks in memory; (predictions, labels) expired unmatched."""
        counts = [self._expire_block(shard, block) for shard, block in self._blocks.items()]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def sweep(self, shards: int) -> tuple[int, int]:
        """Visit the next ``shards`` shards in turn (loading them) and expire their rows; a bounded pass
        so that blocks no row touches again still expire. Shards without a stored block cost one lookup."""
        before = self.expired_predictions, self.expired_labels
        for _ in range(min(shards, self.shards)):
            self._block(self.sweep_cursor)
            self.sweep_cursor = (self.sweep_cursor + 1) % self.shards
        self.expire()
        return self.expired_predictions - before[0], self.expired_labels - before[1]

    def pending(self) -> tuple[int, int]:
        return self.pending_predictions, self.pending_labels

    def held_blocks(self) -> int:
        """Blocks in memory now (touched since the last :meth:`take_dirty`)."""
        return len(self._blocks)

    # -- storage: one entry per block, written only when touched ----------------------------------

    def take_dirty(self) -> dict[int, bytes | None]:
        """The blocks changed since the last call, in stored form (``None``: delete the entry); every
        block is dropped from memory (the table holds them)."""
        out = {shard: (self._blocks[shard].to_bytes() if len(self._blocks[shard]) else None)
               for shard in sorted(self._dirty)}
        self._dirty.clear()
        self._blocks.clear()
        return out

    def meta_bytes(self) -> bytes:
        return pack("join_meta", 2, {"ttl_seconds": self.ttl_seconds, "segment_width": self.segment_width,
                                     "shards": self.shards, "clock_s": None if math.isinf(self.clock_s) else self.clock_s,
                                     "joined": self.joined_total, "expired_predictions": self.expired_predictions,
                                     "expired_labels": self.expired_labels, "pending": [self.pending_predictions,
                                                                                        self.pending_labels],
                                     "sweep_cursor": self.sweep_cursor})

    @classmethod
    def load_meta(cls, meta: bytes, load: Callable[[int], bytes | None] | None = None) -> JoinStore:
        """The store of a stored metadata entry; its blocks are read through ``load`` when touched."""
        header, _ = unpack(meta, "join_meta", 2)
        store = cls(float(header["ttl_seconds"]), int(header["segment_width"]), int(header["shards"]), load)
        store.clock_s = -math.inf if header["clock_s"] is None else float(header["clock_s"])
        store.joined_total = int(header["joined"])
        store.expired_predictions, store.expired_labels = (int(header["expired_predictions"]),
                                                           int(header["expired_labels"]))
        store.pending_predictions, store.pending_labels = map(int, header["pending"])
        store.sweep_cursor = int(header["sweep_cursor"]) % store.shards
        return store

    def __repr__(self) -> str:
        predictions, labels = self.pending()
        return f"JoinStore(pending_predictions={predictions}, pending_labels={labels}, joined={self.joined_total})"
