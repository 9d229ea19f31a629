"""One model's window lifecycle as pure transitions: ingest rows, close windows that are due.

Windows are event-time tumbling windows ``[start, start + window_seconds)`` aligned to multiples of
the window length since the epoch. A window closes when the model's watermark (the newest event
time it has sent) has passed the window's end by ``allowed_lateness_seconds``, or when the model has
sent nothing for ``idle_close_seconds`` of wall-clock time (counted only once the worker has read the
model's backlog: :mod:`streamer.windows.catch_up`). Rows for a window that has already
closed are counted as late and not applied.

The state also remembers, per source partition, the last Kafka offset it has applied and a
:class:`RecordMark` of that record, so that events redelivered after a crash (at-least-once) are not
counted twice, and so that a log that was replaced under the worker (a new broker, a recreated
topic: offsets start again at 0) is recognised instead of having its new records skipped.

>>> from streamer.events.rows import PredictionRows
>>> state = ModelState("fraud", "1")
>>> rows = PredictionRows.empty("fraud", "1")
>>> for t in (1.0, 30.0, 65.0, 75.0): rows.append_row(timestamp_s=t, features={"x": t})
>>> state.ingest(rows, EMPTY_LAYOUT, WindowRules(60, 10, 30, 64), now_wall_s=1000.0)
0
>>> [(w.start_s, w.rows) for w in state.due_windows(WindowRules(60, 10, 30, 64), now_wall_s=1000.0)]
[(0.0, 2)]
>>> [(w.start_s, w.rows) for w in state.due_windows(WindowRules(60, 10, 30, 64), now_wall_s=1031.0)]
[(60.0, 2)]
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from streamer.events.rows import PredictionRows
from streamer.sketches.codec import pack, unpack
from streamer.stats.history import OpsHistory
from streamer.windows.accumulator import EMPTY_LAYOUT, WindowAccumulator
from streamer.windows.catch_up import idle_for_s
from streamer.windows.columns import Layout

__all__ = ["ModelState", "WindowRules", "RecordMark", "EMPTY_LAYOUT"]


class RecordMark(NamedTuple):
    """What identifies a record beyond its offset: the CRC-32 of its value and its Kafka timestamp.

    The same offset in a replaced log holds another record: different bytes, or the same bytes
    produced at another time.

    >>> RecordMark.of(b'{"model": "fraud"}', 1795687200.123) == RecordMark.of(b'{"model": "fraud"}', 1795687200.123)
    True
    >>> RecordMark.of(b'{"model": "fraud"}', 1795687200.123) == RecordMark.of(b'{"model": "fraud"}', 1795687260.0)
    False
    """

    crc32: int
    timestamp_ms: int

    @classmethod
    def of(cls, value: bytes, timestamp_s: float) -> RecordMark:
        return cls(zlib.crc32(value), round(timestamp_s * 1000))


@dataclass(frozen=True)
class WindowRules:
    window_seconds: float
    allowed_lateness_seconds: float
    idle_close_seconds: float
    max_categories: int
    max_features: int = 500  # feature columns per window; further new names are dropped and counted


class ModelState:
    def __init__(self, model: str, version: str) -> None:
        self.model = model
        self.version = version
        self.open_windows: dict[float, WindowAccumulator] = {}
        self.watermark_s = -math.inf  # newest event time seen
        self.closed_until_s = -math.inf  # end of the newest closed window
        self.last_seen_wall_s = -math.inf
        self.events_total = 0  # accepted rows, late ones excluded
        self.late_events = 0
        self.applied_offsets: dict[int, int] = {}
        self.applied_marks: dict[int, RecordMark] = {}  # the record at each applied offset
        # Baseline collection for a model without a registered reference profile.
        self.baseline: WindowAccumulator | None = None
        self.baseline_windows = 0
        # A formed baseline's profile lives under its own key, written once (pipeline.baseline_key), not in
        # this record, which is rewritten with every batch. Until that write, the profile waits here: formed
        # in this batch, or read from an older record that carried it inline.
        self.baseline_formed = False
        self.baseline_unstored_json: bytes | None = None
        self.last_status = "no_data"
        self.last_window_end_s: float | None = None
        # Operational baseline and alert follow-ups (optional in stored state: older state loads).
        self.ops = OpsHistory()
        self.open_conditions: dict[str, dict] = {}  # see streamer.alerts.resolved
        self.missing_alert_id: str | None = None  # the open data_missing alert of the current silence

    def is_applied(self, partition: int, offset: int) -> bool:
        """True if the message at ``offset`` was already folded into this state."""
        return offset <= self.applied_offsets.get(partition, -1)

    def mark_applied(self, partition: int, offset: int, mark: RecordMark | None = None) -> None:
        if offset > self.applied_offsets.get(partition, -1):
            self.applied_offsets[partition] = offset
            if mark is None:
                self.applied_marks.pop(partition, None)
            else:
                self.applied_marks[partition] = mark

    def position(self, partition: int) -> tuple[int, RecordMark | None] | None:
        """The last applied offset in ``partition`` and its record's mark (None from older states)."""
        offset = self.applied_offsets.get(partition)
        return None if offset is None else (offset, self.applied_marks.get(partition))

    def rebase(self, partition: int) -> None:
        """Forget where this state stood in ``partition``: that log was replaced, its offsets mean nothing now.

        Windows, counts and the baseline stay: they hold events that really happened.
        """
        self.applied_offsets.pop(partition, None)
        self.applied_marks.pop(partition, None)

    def ingest(self, rows: PredictionRows, layout: Layout, rules: WindowRules, now_wall_s: float) -> int:
        """Add rows to their windows; returns how many were late (for closed windows)."""
        if not len(rows):
            return 0
        self.last_seen_wall_s = now_wall_s
        times = np.asarray(rows.timestamps_s, dtype=np.float64)
        starts = np.floor(times / rules.window_seconds) * rules.window_seconds
        late = self._late_rows(times, starts, rules)
        n_late = int(late.sum())
        self.late_events += n_late
        self.events_total += len(rows) - n_late
        self.watermark_s = max(self.watermark_s, float(times.max()))
        unique_starts = np.unique(starts[~late])
        for start in unique_starts.tolist():
            window = self.open_windows.get(start)
            if window is None:
                window = self.open_windows[start] = WindowAccumulator(start, start + rules.window_seconds)
            part = rows if len(unique_starts) == 1 and not n_late else rows.select(((starts == start) & ~late).tolist())
            window.add(part, layout, rules.max_categories, rules.max_features)
        return n_late

    def _late_rows(self, times: np.ndarray, starts: np.ndarray, rules: WindowRules) -> np.ndarray:
        """Which rows are late, judged as if they had come one at a time in their order.

        A row is late when its window closed before it came, and a window closes once the rows before
        the row pushed the watermark past its end plus the lateness. So how the worker happened to
        batch a model's rows (one row, or a backlog of thousands after a pause) never changes what is
        counted. The vectorised check is exact unless a row is older than a window its batch made
        due; only then are the rows walked one by one.
        """
        late = starts < self.closed_until_s
        watermark_before = np.maximum.accumulate(np.concatenate(([self.watermark_s], times[:-1])))
        # The newest window end that could have closed before each row: aligned, and passed by the lateness
        # (the next aligned end too when rounding in the division hid it).
        lateness, width = rules.allowed_lateness_seconds, rules.window_seconds
        aligned = np.floor((watermark_before - lateness) / width) * width
        could_close_until = np.where(aligned + width + lateness <= watermark_before, aligned + width, aligned)
        if not np.any(~late & (starts < could_close_until)):
            return late
        return self._late_row_by_row(times, starts, rules)

    def _late_row_by_row(self, times: np.ndarray, starts: np.ndarray, rules: WindowRules) -> np.ndarray:
        late = np.zeros(len(times), dtype=bool)
        open_starts, closed_until, watermark = set(self.open_windows), self.closed_until_s, self.watermark_s
        for i, (time_s, start) in enumerate(zip(times.tolist(), starts.tolist(), strict=True)):
            if start < closed_until:
                late[i] = True
            else:
                open_starts.add(start)
            watermark = max(watermark, time_s)
            due = [s for s in open_starts if s + rules.window_seconds + rules.allowed_lateness_seconds <= watermark]
            if due:
                closed_until = max(closed_until, max(due) + rules.window_seconds)
                open_starts.difference_update(due)
        return late

    def due_windows(self, rules: WindowRules, now_wall_s: float,
                    idle_origin_s: float | None = -math.inf) -> list[WindowAccumulator]:
        """Remove and return the windows that are due to close, oldest first.

        Idle time counts from no earlier than ``idle_origin_s``, and not at all when it is None (the
        worker is still reading the model's backlog: see :mod:`streamer.windows.catch_up`).

        >>> from streamer.events.rows import PredictionRows
        >>> state = ModelState("fraud", "1")
        >>> rows = PredictionRows.empty("fraud", "1"); rows.append_row(timestamp_s=5.0, features={"x": 1.0})
        >>> _ = state.ingest(rows, EMPTY_LAYOUT, WindowRules(60, 10, 30, 64), now_wall_s=1000.0)
        >>> state.due_windows(WindowRules(60, 10, 30, 64), now_wall_s=2000.0, idle_origin_s=None)
        []
        >>> state.due_windows(WindowRules(60, 10, 30, 64), now_wall_s=2000.0, idle_origin_s=1990.0)
        []
        >>> [w.start_s for w in state.due_windows(WindowRules(60, 10, 30, 64), now_wall_s=2020.0, idle_origin_s=1990.0)]
        [0.0]
        """
        idle = idle_for_s(self.last_seen_wall_s, idle_origin_s, now_wall_s) >= rules.idle_close_seconds
        due = [
            start for start, window in self.open_windows.items()
            if idle or window.end_s + rules.allowed_lateness_seconds <= self.watermark_s
        ]
        closed = [self.open_windows.pop(start) for start in sorted(due)]
        if closed:
            self.closed_until_s = max(self.closed_until_s, closed[-1].end_s)
        return closed

    def to_bytes(self) -> bytes:
        header = {
            "model": self.model, "version": self.version,
            "watermark": None if self.watermark_s == -math.inf else self.watermark_s,
            "closed_until": None if self.closed_until_s == -math.inf else self.closed_until_s,
            "last_seen": None if self.last_seen_wall_s == -math.inf else self.last_seen_wall_s,
            "events_total": self.events_total, "late": self.late_events,
            "offsets": {str(p): o for p, o in self.applied_offsets.items()},
            "marks": {str(p): list(m) for p, m in self.applied_marks.items()},
            "windows": list(self.open_windows), "baseline_windows": self.baseline_windows,
            "has_baseline": self.baseline is not None, "baseline_formed": self.baseline_formed,
            "status": self.last_status,
            "last_window_end": self.last_window_end_s,
            "ops": self.ops.to_dict(), "open_conditions": self.open_conditions, "missing_alert": self.missing_alert_id,
        }
        blobs = [w.to_bytes() for w in self.open_windows.values()]
        blobs.append(self.baseline.to_bytes() if self.baseline is not None else b"")
        # The slot that held the profile before it moved to its own key stays, empty: a worker of the
        # previous release reads this record without failing (it sees no baseline and collects one again).
        blobs.append(b"")
        return pack("model_state", 1, header, blobs)

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelState:
        header, blobs = unpack(data, "model_state", 1)
        state = cls(header["model"], header["version"])
        state.watermark_s = -math.inf if header["watermark"] is None else header["watermark"]
        state.closed_until_s = -math.inf if header["closed_until"] is None else header["closed_until"]
        state.last_seen_wall_s = -math.inf if header["last_seen"] is None else header["last_seen"]
        state.events_total, state.late_events = header["events_total"], header["late"]
        state.applied_offsets = {int(p): o for p, o in header["offsets"].items()}
        state.applied_marks = {int(p): RecordMark(*m) for p, m in header.get("marks", {}).items()}
        n_windows = len(header["windows"])
        state.open_windows = {s: WindowAccumulator.from_bytes(b) for s, b in zip(header["windows"], blobs[:n_windows], strict=False)}
        state.baseline_windows = header["baseline_windows"]
        if header["has_baseline"]:
            state.baseline = WindowAccumulator.from_bytes(blobs[n_windows])
        if "baseline_formed" in header:
            state.baseline_formed = header["baseline_formed"]
        else:  # an older record, with the profile inline: it moves to its own key with the next write
            state.baseline_unstored_json = blobs[n_windows + 1] or None
            state.baseline_formed = state.baseline_unstored_json is not None
        state.last_status, state.last_window_end_s = header["status"], header["last_window_end"]
        state.ops = OpsHistory.from_dict(header.get("ops"))
        state.open_conditions = header.get("open_conditions") or {}
        state.missing_alert_id = header.get("missing_alert")
        return state

    def __repr__(self) -> str:
        return (f"ModelState({self.model}:{self.version}, open={sorted(self.open_windows)}, "
                f"events_total={self.events_total}, late={self.late_events})")
