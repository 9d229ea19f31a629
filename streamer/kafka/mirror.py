"""Read whole topics into memory on every replica, so any replica can answer for every model.

A :class:`TopicMirror` assigns itself every partition of its topics (no consumer group), reads
from the beginning and hands each record to the topic's handler. :attr:`TopicMirror.loaded` is set
once it has read up to the log end it saw when it started.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from streamer.config import Settings
from streamer.kafka.connection import client_options

log = logging.getLogger(__name__)

#: handler(key, value, timestamp_s); value None is a compaction tombstone.
RecordHandler = Callable[[bytes | None, bytes | None, float], None]


class TopicMirror:
    def __init__(self, settings: Settings, handlers: Mapping[str, RecordHandler]) -> None:
        self.settings = settings
        self.handlers = dict(handlers)
        self.loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self.fetched_at_s: float | None = None  # wall-clock time of the last fetch that answered: how fresh the view is

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **client_options(self.settings), enable_auto_commit=False, auto_offset_reset="earliest",
            group_id=None, max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await self._consumer.start()
        partitions = []
        for topic in self.handlers:
            for attempt in range(50):
                found = self._consumer.partitions_for_topic(topic)
                if found:
                    break
                await self._consumer._client.force_metadata_update()
                await asyncio.sleep(0.1 * min(attempt + 1, 10))
            partitions += [TopicPartition(topic, p) for p in sorted(found or ())]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        self._task = asyncio.create_task(self._run(partitions))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self, partitions: list[TopicPartition]) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        end_offsets = await consumer.end_offsets(partitions) if partitions else {}
        pending = {tp for tp, end in end_offsets.items() if end > 0}
        if not pending:
            self.loaded.set()
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                self.fetched_at_s = time.time()
            except KafkaError as exc:
                log.warning("mirror fetch failed, retrying: %s", exc)
                await asyncio.sleep(1.0)
                continue
            for tp, records in batches.items():
                handler = self.handlers[tp.topic]
                for record in records:
                    try:
                        handler(record.key, record.value, record.timestamp / 1000.0)
                    except Exception:  # a bad record must not stop the mirror
                        log.exception("mirror handler failed on %s:%s@%s", tp.topic, tp.partition, record.offset)
            if pending:
                for tp in list(pending):
                    if await consumer.position(tp) >= end_offsets[tp]:
                        pending.discard(tp)
                if not pending:
                    self.loaded.set()
