"""The merge stage of a hot model: partial windows from its shards meet on the model's home partition.

Partials wait in the ``shard_partials`` table (one entry per model, written under the partial's own
record, so a SIGKILL loses nothing: the table is recovered from its changelog and partials not yet
committed are delivered again). A window closes, oldest first, once every shard has reported it or
a later window (a shard with no rows in a window sends no partial), or ``hot_model_wait_seconds``
after its first partial arrived, with what came. The merged window then goes through the model's
ordinary close (summary, drift, alerts), under the model's own state key: status, history and
alerts show one model. A partial for a window already closed (redelivered, or after the wait) is
dropped, so nothing is counted twice.

>>> pending = PendingWindows()
>>> def partial(shard, start): return Partial("m", "1", shard, 2, WindowAccumulator(start, start + 60), start, 0.0, 0)
>>> pending.add(partial(0, 0.0), now_s=100.0)
>>> [start for start, _, _ in pending.ready(2, now_s=101.0, wait_s=30.0)]
[]
>>> pending.add(partial(1, 60.0), now_s=102.0)  # shard 1 had no rows in [0, 60)
>>> [(start, sorted(shards), timed_out) for start, shards, timed_out in pending.ready(2, now_s=102.0, wait_s=30.0)]
[(0.0, [0], False)]
>>> [(start, sorted(shards), timed_out) for start, shards, timed_out in pending.ready(2, now_s=140.0, wait_s=30.0)]
[(60.0, [1], True)]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streamer.batch import Effects, Inbound, StateWrite, state_key
from streamer.errors import StateFormatError
from streamer.sketches.codec import pack, unpack
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.model_state import ModelState
from streamer.windows.shards import HotModels, Partial

if TYPE_CHECKING:
    from streamer.pipeline import Pipeline

log = logging.getLogger(__name__)

TABLE_PARTIALS = "shard_partials"


class PendingWindows:
    """One hot model's partial windows waiting for their merge (pure state, stored as bytes)."""

    def __init__(self) -> None:
        self.windows: dict[float, dict[int, bytes]] = {}  # window start -> shard -> window bytes
        self.ends: dict[float, float] = {}
        self.first_seen_s: dict[float, float] = {}  # wall clock of each window's first partial
        self.reported_until: dict[int, float] = {}  # per shard: end of the newest window it closed
        self.late_events: dict[int, int] = {}  # per shard: its running count of late rows

    def add(self, partial: Partial, now_s: float) -> None:
        start, end = partial.window.start_s, partial.window.end_s
        self.windows.setdefault(start, {})[partial.shard] = partial.window.to_bytes()
        self.ends[start] = end
        self.first_seen_s.setdefault(start, now_s)
        self.note(partial)

    def note(self, partial: Partial) -> None:
        """What a partial says about its shard, even when its window is already closed."""
        shard = partial.shard
        self.reported_until[shard] = max(self.reported_until.get(shard, -math.inf), partial.window.end_s)
        self.late_events[shard] = max(self.late_events.get(shard, 0), partial.late_events)

    def ready(self, shards: int, now_s: float, wait_s: float) -> list[tuple[float, dict[int, bytes], bool]]:
        """Remove and return the windows due to merge, oldest first: (start, partials by shard, timed out)."""
        due = []
        for start in sorted(self.windows):
            end = self.ends[start]
            complete = all(self.reported_until.get(i, -math.inf) >= end for i in range(shards))
            timed_out = not complete and now_s - self.first_seen_s[start] >= wait_s
            if not (complete or timed_out):
                break  # windows close in order: a later one waits for this one
            due.append((start, self.windows.pop(start), timed_out))
            del self.ends[start], self.first_seen_s[start]
        return due

    def to_bytes(self) -> bytes:
        starts = sorted(self.windows)
        header = {"starts": starts, "ends": [self.ends[s] for s in starts],
                  "first_seen": [self.first_seen_s[s] for s in starts],
                  "shards": [list(self.windows[s]) for s in starts],
                  "reported": {str(k): v for k, v in self.reported_until.items()},
                  "late": {str(k): v for k, v in self.late_events.items()}}
        return pack("shard_pending", 1, header, [b for s in starts for b in self.windows[s].values()])

    @classmethod
    def from_bytes(cls, data: bytes) -> PendingWindows:
        header, blobs = unpack(data, "shard_pending", 1)
        pending, at = cls(), 0
        for start, end, first, shards in zip(header["starts"], header["ends"], header["first_seen"],
                                             header["shards"], strict=True):
            pending.windows[start] = dict(zip(shards, blobs[at: at + len(shards)], strict=True))
            pending.ends[start], pending.first_seen_s[start] = end, first
            at += len(shards)
        pending.reported_until = {int(k): v for k, v in header["reported"].items()}
        pending.late_events = {int(k): v for k, v in header["late"].items()}
        return pending


def merge_windows(parts: list[bytes]) -> WindowAccumulator:
    """The windows of several shards as one (sketches are mergeable: the counts are exact).

    A column that one shard saw first as numbers and another as categories keeps the first shard's
    kind; the other shard's values of it count as type mismatches, as they would in one window.

    >>> from streamer.events.rows import PredictionRows
    >>> from streamer.windows.accumulator import EMPTY_LAYOUT
    >>> def part(value):
    ...     rows = PredictionRows.empty("m", "1")
    ...     rows.append_row(timestamp_s=1.0, features={"x": value})
    ...     window = WindowAccumulator(0.0, 60.0)
    ...     window.add(rows, EMPTY_LAYOUT, 64)
    ...     return window.to_bytes()
    >>> merged = merge_windows([part(1.5), part("DE"), part(2.5)])
    >>> merged.rows, merged.features["x"].count, merged.type_mismatches
    (3, 2, {'x': 1})
    """
    merged = WindowAccumulator.from_bytes(parts[0])
    for part in parts[1:]:
        other = WindowAccumulator.from_bytes(part)
        for mine, theirs in ((merged.features, other.features), (merged.outputs, other.outputs)):
            for name in [n for n, sketch in theirs.items() if n in mine and type(mine[n]) is not type(sketch)]:
                dropped = theirs.pop(name)
                other.type_mismatches[name] = other.type_mismatches.get(name, 0) + dropped.count
        merged.merge(other)
    return merged


class MergeStage:
    """Receives partials and hands merged windows to the pipeline's ordinary close."""

    def __init__(self, hot: HotModels, wait_s: float, load: Callable[[str, bytes], bytes | None]) -> None:
        self.hot = hot
        self.wait_s = wait_s
        self.load = load
        self.partials_dropped = 0  # partials for windows already closed (redelivered, or after the wait)
        self._pending: dict[bytes, PendingWindows] = {}  # write-through cache of the shard_partials table
        self._notes: dict[tuple[bytes, float], dict[str, Any]] = {}

    def forget(self) -> None:
        self._pending.clear()

    def _entry(self, key: bytes) -> PendingWindows:
        pending = self._pending.get(key)
        if pending is None:
            stored = self.load(TABLE_PARTIALS, key)
            pending = self._pending[key] = PendingWindows.from_bytes(stored) if stored else PendingWindows()
        return pending

    def on_partials(self, records: list[Inbound], host: Pipeline, now_s: float, effects: Effects) -> None:
        """Store each partial, then let the model's state close what became complete."""
        for record in records:
            try:
                partial = Partial.from_bytes(record.value)
            except (StateFormatError, KeyError, IndexError, ValueError) as exc:
                log.warning("dropped an unreadable shard partial at %s/%s: %s", record.partition, record.offset, exc)
                continue
            key = state_key(partial.model, partial.version)
            state = host.state_of(key, partial.model, partial.version)
            pending = self._entry(key)
            if state.last_window_end_s is not None and partial.window.end_s <= state.last_window_end_s:
                self.partials_dropped += 1
                pending.note(partial)
            else:
                pending.add(partial, now_s)
            state.watermark_s = max(state.watermark_s, partial.watermark_s)
            state.last_seen_wall_s = max(state.last_seen_wall_s, partial.last_seen_wall_s)
            state.late_events = sum(pending.late_events.values())
            host.remember(record.partition, key, record.handle, effects)
            host.close_due(record.partition, key, state, record, now_s, effects)
            effects.writes.append(StateWrite(TABLE_PARTIALS, key, pending.to_bytes(), record.handle))

    def ready(self, key: bytes, state: ModelState, reference_layout: Any, now_s: float, effects: Effects,
              handle: Any) -> list[WindowAccumulator]:
        """The merged windows of a hot model's state that are due to close (none for other models)."""
        n = self.hot.count(state.model)
        if n == 1:
            return []
        pending = self._entry(key)
        due = pending.ready(n, now_s, self.wait_s)
        if not due:
            return []
        effects.writes.append(StateWrite(TABLE_PARTIALS, key, pending.to_bytes(), handle))
        merged_windows = []
        for start, parts, timed_out in due:
            if state.last_window_end_s is not None and start < state.last_window_end_s:
                self.partials_dropped += len(parts)
                continue  # closed before a crash whose table write of the pending entry was lost
            merged = merge_windows(list(parts.values()))
            if reference_layout is not None:
                merged.adopt_bins(reference_layout)
            missing = [i for i in range(n) if i not in parts]
            if timed_out:
                log.warning("closing window %s of hot model %s with %d of %d shards after %.0f s: shards %s sent nothing",
                            start, state.model, len(parts), n, self.wait_s, missing)
            self._notes[(key, start)] = {"shards": n, "merged": sorted(parts), "missing": missing,
                                         "timed_out": timed_out}
            state.events_total += merged.rows
            state.closed_until_s = max(state.closed_until_s, merged.end_s)
            merged_windows.append(merged)
        return merged_windows

    def section(self, key: bytes, start_s: float) -> dict[str, Any]:
        """The window summary's ``shards`` section of a merged window (empty for other windows)."""
        note = self._notes.pop((key, start_s), None)
        return {} if note is None else {"shards": note}
