"""Redelivered, or a replaced log? Where each model's state stands in the partitions it reads.

A state remembers, per partition, the offset and :class:`~streamer.windows.model_state.RecordMark` of
the last record it applied. After an assignment, the first batch holding records at or below that
offset is either a redelivery (after a crash: skip what was applied) or a log that was replaced
under the worker (a new broker, cluster or recreated topic: its offsets started again, and every
record is new). :meth:`LogPositions.settle` tells them apart by the record at the stored offset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import NamedTuple

from streamer.batch import PipelineCounters, Plan
from streamer.windows.model_state import ModelState, RecordMark

log = logging.getLogger(__name__)


class Doubt(NamedTuple):
    """A state that would skip records of a batch: the last record it applied in that partition."""

    key: bytes
    state: ModelState
    partition: int
    offset: int
    mark: RecordMark | None  # None: written by an older version, which kept offsets only


class LogPositions:
    def __init__(self, topic: str, state_of: Callable[[bytes, str, str], ModelState],
                 counters: PipelineCounters) -> None:
        self.topic = topic
        self._state_of = state_of  # (key, model, version) -> the model's cached state
        self.counters = counters
        self._checked: set[bytes] = set()  # states whose position was confirmed since the assignment
        self._replaced: set[int] = set()  # partitions found replaced since the assignment (said once)

    def forget(self) -> None:
        """After a rebalance every position is checked again."""
        self._checked.clear()
        self._replaced.clear()

    def doubts(self, plan: Plan) -> list[Doubt]:
        """States that would skip records of this batch as applied, not yet confirmed since assignment."""
        doubts = []
        for (partition, key), items in plan.groups.items():
            if key in self._checked:
                continue
            state = self._state_of(key, items[0][1].model, items[0][1].version)
            position = state.position(partition)
            if position is None or items[0][0].offset > position[0]:
                self._checked.add(key)  # nothing would be skipped: new records only
            else:
                doubts.append(Doubt(key, state, partition, *position))
        return doubts

    def lookups(self, plan: Plan) -> list[tuple[int, int]]:
        """(partition, offset) of the records :meth:`settle` needs from the log: not in the batch itself."""
        in_batch = {(r.partition, r.offset) for r in plan.batch}
        return sorted({(d.partition, d.offset) for d in self.doubts(plan) if (d.partition, d.offset) not in in_batch})

    def settle(self, plan: Plan, found: Mapping[tuple[int, int], RecordMark | None]) -> None:
        """Confirm or re-base each state whose stored offsets cover records of this batch.

        A state remembers the mark of the last record it applied. If that record is still at its
        offset (in this batch, or in ``found``: records looked up in the log, None where the log has
        none), the batch is a redelivery and the state skips what it applied. If the log holds no
        such record, or another one, the log was replaced (a new broker or cluster, a recreated
        topic) and its offsets started again: the state forgets its position in that partition and
        counts every record. A doubt that could not be looked up counts as a redelivery.
        """
        in_batch = {(r.partition, r.offset): r for r in plan.batch}
        for doubt in self.doubts(plan):
            self._checked.add(doubt.key)
            position = (doubt.partition, doubt.offset)
            record = in_batch.get(position)
            if record is not None:
                current: RecordMark | None = RecordMark.of(record.value, record.timestamp_s)
            elif position in found:
                current = found[position]
            else:
                continue
            if current is not None and (doubt.mark is None or current == doubt.mark):
                continue
            doubt.state.rebase(doubt.partition)
            partition = doubt.partition
            if partition not in self._replaced:
                self._replaced.add(partition)
                self.counters.log_resets += 1
                log.warning("partition %d of %s is a new log (its offsets started again: new broker, cluster or "
                            "topic); models on it forget their old offsets and count every new record",
                            partition, self.topic)
