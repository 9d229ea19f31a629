"""Summaries of models' open windows for their status, within a worker-wide budget of recomputations.

A full summary (drift metrics against the reference) costs as much as a window close. With a
thousand models, recomputing it for every model's status would double the cost of every close
(the close's status lists the window just opened) and of every batch. So full summaries are
recomputed at most every ``refresh_seconds`` per model, and only while their computation has taken
less than ``time_share`` of the last second (measured with ``timer``); between recomputations the
last full summary is reused and a window that has none yet gets a light one (counts only,
``status`` None). Counts are always current.

>>> from itertools import count
>>> from streamer.windows.accumulator import WindowAccumulator
>>> ticks = count()  # a timer on which every full summary takes 1 s
>>> cache = OpenWindowSummaries(refresh_seconds=5.0, time_share=0.5, timer=lambda: float(next(ticks)))
>>> window = WindowAccumulator(0.0, 60.0)
>>> full = lambda start: {"window_start_s": start, "events": -1, "status": "ok"}
>>> [s["status"] for s in cache.summaries(b"a", "a", "1", {0.0: window}, 100.0, full)]
['ok']
>>> [s["status"] for s in cache.summaries(b"b", "b", "1", {0.0: window}, 100.5, full)]  # over budget: light
[None]
>>> window.rows = 7; [s["events"] for s in cache.summaries(b"a", "a", "1", {0.0: window}, 101.0, full)]
[7]
>>> cache.drop(b"a"); len(cache)
1
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from streamer.events.timestamps import format_timestamp
from streamer.windows.accumulator import WindowAccumulator


def light_summary(model: str, version: str, window: WindowAccumulator) -> dict[str, Any]:
    """An open window's summary without drift metrics: bounds and counts only."""
    return {"model": model, "version": version, "window_start": format_timestamp(window.start_s),
            "window_end": format_timestamp(window.end_s), "window_start_s": window.start_s,
            "window_end_s": window.end_s, "closed_by": None, "status": None, "drift": None}


class OpenWindowSummaries:
    def __init__(self, refresh_seconds: float, time_share: float,
                 timer: Callable[[], float] = time.perf_counter) -> None:
        self.refresh_seconds = refresh_seconds
        self.time_share = time_share
        self.timer = timer
        self._cached: dict[bytes, tuple[float, dict[float, dict[str, Any]]]] = {}  # key: (computed at, by start)
        self._spent_s = 0.0  # computing full summaries, since _second_s
        self._second_s = -math.inf

    def __len__(self) -> int:
        return len(self._cached)

    def summaries(self, key: bytes, model: str, version: str, windows: Mapping[float, WindowAccumulator],
                  now_s: float, full: Callable[[float], dict[str, Any]]) -> list[dict[str, Any]]:
        """The open windows' summaries, oldest first; ``full(start)`` computes one full summary."""
        starts = sorted(windows)
        computed_s, by_start = self._cached.get(key, (-math.inf, {}))
        if now_s - computed_s >= self.refresh_seconds and starts and self._within_budget(now_s):
            started = self.timer()
            by_start = {start: full(start) for start in starts}
            self._spent_s += self.timer() - started
            self._cached[key] = (now_s, by_start)
        else:
            by_start = {start: by_start.get(start) or light_summary(model, version, windows[start]) for start in starts}
            if starts:
                self._cached[key] = (computed_s, by_start)
            else:
                self._cached.pop(key, None)
        out = []
        for start in starts:
            window = windows[start]
            out.append({**by_start[start], "events": window.rows, "errors": window.errors,
                        "error_rate": window.errors / window.rows if window.rows else 0.0})
        return out

    def drop(self, key: bytes) -> None:
        self._cached.pop(key, None)

    def clear(self) -> None:
        self._cached.clear()

    def _within_budget(self, now_s: float) -> bool:
        """Whether full summaries took less than ``time_share`` of this second so far."""
        if now_s - self._second_s >= 1.0:
            self._second_s, self._spent_s = now_s, 0.0
        return self._spent_s < self.time_share
