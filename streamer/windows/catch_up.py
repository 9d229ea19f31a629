"""Whether this worker has read a partition's backlog, and so may close windows (or alarm) on idle time.

The idle rule closes a model's windows after ``idle_close_seconds`` of wall-clock time without its
events, and ``data_missing`` fires after ``missing_after_seconds`` of it. Both are wrong while the
worker is still reading a backlog: after a restart or a rebalance a model's ``last_seen_wall_s`` is
old (from before the crash, or from another replica), ticks come on their own topic ahead of the
backlog's predictions, and a window closed then turns the backlog's rows into late ones. So for a
predictions partition this worker owns, idle time counts from no earlier than when it took the
partition and when it last caught up on it, and not at all while it is behind:

- *caught up*: the agent has processed up to the log end the consumer knows (no backlog). Once caught
  up, a partition stays so until the next assignment: in steady traffic the agent trails the log end
  by a few fresh records, which must not hold back the idle close of a silent model;
- until the agent has processed a record of the partition, the consumer's own position stands in,
  but only after it stood at the log end for ``settle_seconds`` (it runs ahead of the agent by what
  Faust buffered, so a position at the log end can still hide an unprocessed backlog for a moment);
- *log end unknown* (no fetch answered yet): after ``unknown_end_seconds`` from the (latest) assignment,
  or from the end of the table recovery that follows it (:meth:`CatchUp.recovering`), the partition counts as caught up from then on, so that a partition whose log end is never reported
  still closes its idle windows, late but bounded.

A partition the worker never heard assigned (the pipeline without a broker, in tests) is not held back.

>>> catch_up = CatchUp(settle_seconds=2.0, unknown_end_seconds=30.0)
>>> catch_up.assigned([0, 1], now_s=100.0)
>>> catch_up.observe(0, processed=10, consumer=None, log_end=50, now_s=101.0)  # a backlog of 40
>>> catch_up.idle_origin_s(0, now_s=101.0) is None
True
>>> catch_up.observe(0, processed=50, consumer=None, log_end=50, now_s=104.0)
>>> catch_up.idle_origin_s(0, now_s=105.0)  # idle time counts from the catch-up
104.0
>>> catch_up.idle_origin_s(1, now_s=120.0) is None  # nothing known of partition 1 yet
True
>>> catch_up.idle_origin_s(1, now_s=130.0)  # log end still unknown: the fallback
130.0
>>> catch_up.observe(1, processed=None, consumer=5, log_end=9, now_s=131.0)  # known now, and behind
>>> catch_up.idle_origin_s(1, now_s=131.0) is None
True
>>> catch_up.idle_origin_s(7, now_s=130.0)  # never assigned here
-inf
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CatchUp", "idle_for_s"]

SETTLE_SECONDS = 2.0
UNKNOWN_END_SECONDS = 30.0


def idle_for_s(last_seen_s: float, origin_s: float | None, now_s: float) -> float:
    """Idle time of a model: since its last event, but not before ``origin_s``; 0 while catching up (None).

    >>> idle_for_s(100.0, 150.0, now_s=160.0), idle_for_s(100.0, -math.inf, now_s=160.0), idle_for_s(100.0, None, 160.0)
    (10.0, 60.0, 0.0)
    """
    if origin_s is None:
        return 0.0
    return max(0.0, now_s - max(last_seen_s, origin_s))


@dataclass
class _Partition:
    assigned_at_s: float  # when this worker took the partition
    checked_from_s: float  # the latest assignment, from which its catch-up is checked again
    caught_up_at_s: float | None = None  # since when the worker has had no backlog; None: behind
    at_end_since_s: float | None = None  # since when the consumer's position (stand-in) has stood at the log end
    end_known: bool = False  # a log end was reported since the assignment


class CatchUp:
    def __init__(self, settle_seconds: float = SETTLE_SECONDS, unknown_end_seconds: float = UNKNOWN_END_SECONDS) -> None:
        self.settle_seconds = settle_seconds
        self.unknown_end_seconds = unknown_end_seconds
        self._partitions: dict[int, _Partition] = {}

    def assigned(self, partitions: Iterable[int], now_s: float) -> None:
        """A new assignment: partitions taken now start afresh; kept ones must show again they have no backlog."""
        kept = {p: self._partitions.get(p) for p in partitions}
        self._partitions = {p: _Partition(old.assigned_at_s if old else now_s, now_s) for p, old in kept.items()}

    def recovering(self, now_s: float) -> None:
        """Tables are still recovering (the agent reads nothing): the unknown log end's fallback waits for the end of it."""
        for state in self._partitions.values():
            state.checked_from_s = max(state.checked_from_s, now_s)

    def observe(self, partition: int, processed: int | None, consumer: int | None, log_end: int | None,
                now_s: float) -> None:
        """Positions now: next offset the agent will process, the consumer's position, the known log end."""
        state = self._partitions.get(partition)
        if state is None or log_end is None or state.caught_up_at_s is not None:
            return
        state.end_known = True
        if processed is not None:
            state.at_end_since_s = None
            caught_up = processed >= log_end
        elif consumer is not None and consumer >= log_end:
            state.at_end_since_s = now_s if state.at_end_since_s is None else state.at_end_since_s
            caught_up = now_s - state.at_end_since_s >= self.settle_seconds
        else:
            state.at_end_since_s = None
            caught_up = False
        if caught_up:
            state.caught_up_at_s = now_s

    def idle_origin_s(self, partition: int, now_s: float) -> float | None:
        """Idle time in ``partition`` counts from no earlier than this; None: still catching up, no idle time."""
        state = self._partitions.get(partition)
        if state is None:
            return -math.inf
        if state.caught_up_at_s is not None:
            return max(state.assigned_at_s, state.caught_up_at_s)
        fallback_s = state.checked_from_s + self.unknown_end_seconds
        return fallback_s if now_s >= fallback_s and not state.end_known else None
