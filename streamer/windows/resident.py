"""Which models a worker keeps in Python memory, and when an evicted one next needs a tick.

A model whose windows have all closed has nothing in flight: its state is in the table (written in
the batch that closed its last window), so the worker drops it from memory and remembers only the
wall-clock time at which a tick next has something to do for it (close an idle window, raise
``data_missing``). A model that stops sending then costs one float in Python, and ticks do not
read it back from the table until that time.

>>> from streamer.windows.model_state import ModelState
>>> state = ModelState("fraud", "1")
>>> state.last_seen_wall_s = 1000.0
>>> next_tick_s(state, idle_close_seconds=30.0, missing_after_seconds=300.0)
1300.0
>>> state.missing_alert_id = "a1"; next_tick_s(state, idle_close_seconds=30.0, missing_after_seconds=300.0)
inf
"""

from __future__ import annotations

import math

from streamer.windows.model_state import ModelState


def next_tick_s(state: ModelState, *, idle_close_seconds: float, missing_after_seconds: float) -> float:
    """The wall-clock time from which a tick may change this model's state (``inf``: only new data will)."""
    if not math.isfinite(state.last_seen_wall_s):
        return math.inf
    due = math.inf
    if state.open_windows:
        due = state.last_seen_wall_s + idle_close_seconds
    if state.missing_alert_id is None:
        due = min(due, state.last_seen_wall_s + missing_after_seconds)
    return due


def evictable(state: ModelState) -> bool:
    """Whether the model has nothing in flight: no open window (its state is all in the table)."""
    return not state.open_windows
