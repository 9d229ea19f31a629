"""Read single records by offset, outside the consumer group: what does the log hold at an offset?

The pipeline asks this when a model's stored position covers records of a batch: either the
records are redelivered (the record it applied last is still at its offset) or the log was
replaced under the worker and its offsets started again (see ``Pipeline.settle``).

Where the record should exist (the log end is past it), the read waits as long as it takes; where
the end is not past it, an empty fetch within ``absent_after_s`` means the log has no such record.
Some brokers (the embedded one) report an end that trails the real one: the newest batch, read from
the reported end - 1, gives the true end first (as :mod:`streamer.kafka.log_ends` does for recovery).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, OffsetOutOfRangeError

from streamer.config import Settings
from streamer.kafka.connection import client_options
from streamer.windows.model_state import RecordMark

log = logging.getLogger(__name__)

ABSENT_AFTER_SECONDS = 3.0
PRESENT_WAIT_SECONDS = 30.0


class SideConsumer:
    """A consumer outside the group, started on first use, that reads partitions by offset."""

    fetch_bytes = 1024 * 1024  # per partition and fetch

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer: AIOKafkaConsumer | None = None

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(**client_options(self.settings), group_id=None, enable_auto_commit=False,
                                        auto_offset_reset="none", max_partition_fetch_bytes=self.fetch_bytes)
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class RecordReader(SideConsumer):
    def __init__(self, settings: Settings, absent_after_s: float = ABSENT_AFTER_SECONDS) -> None:
        super().__init__(settings)
        self.absent_after_s = absent_after_s

    async def marks(self, topic: str, positions: Iterable[tuple[int, int]]) -> dict[tuple[int, int], RecordMark | None]:
        """The mark of the record at each (partition, offset) of ``topic``; None where there is none."""
        found: dict[tuple[int, int], RecordMark | None] = {}
        for partition, offset in positions:
            for attempt in range(1, 11):
                try:
                    found[(partition, offset)] = await self._mark(TopicPartition(topic, partition), offset)
                    break
                except KafkaError as exc:
                    log.warning("reading %s[%d]@%d failed (attempt %d): %s", topic, partition, offset, attempt, exc)
                    await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
            # After ten failures the position stays unknown and the batch counts as a redelivery.
        return found

    async def _mark(self, tp: TopicPartition, offset: int) -> RecordMark | None:
        consumer = await self._started()
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if 0 < end <= offset:
            # A broker that reports the end short (the embedded one: its newest batch's base + 1) may hold the
            # record in that batch. Read the batch from its reported last record, which surely exists: a slow
            # broker then costs time, never a record wrongly found absent (a redelivery taken for a new log).
            consumer.seek(tp, end - 1)
            newest = (await consumer.getmany(tp, timeout_ms=int(PRESENT_WAIT_SECONDS * 1000))).get(tp, [])
            for record in newest:
                if record.offset == offset:
                    return RecordMark.of(record.value or b"", record.timestamp / 1000.0)
            end = max([end, *(record.offset + 1 for record in newest)])
        consumer.seek(tp, offset)
        wait_s = PRESENT_WAIT_SECONDS if end > offset else self.absent_after_s
        try:
            batches = await consumer.getmany(tp, timeout_ms=int(wait_s * 1000), max_records=1)
        except OffsetOutOfRangeError:
            return None
        records = batches.get(tp, [])
        if not records or records[0].offset != offset:
            return None
        return RecordMark.of(records[0].value or b"", records[0].timestamp / 1000.0)
