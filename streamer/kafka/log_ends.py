"""The true end of a log, where a broker reports one that trails it.

Faust restores a table by reading its changelog up to the end offsets the broker reports, and the
embedded broker reports a partition's end as its newest *batch's* base offset + 1 (FIELD_NOTES). When
the producer packed several changelog records into that batch, a restore stopped after the first of
them: the models written in the rest came back as they were one batch earlier, while the consumer's
committed offsets were already past the records that batch applied, and those records were lost
(seen as 21 to 100 events missing per model in tests/integration/test_recovery.py, more often under
load, when batches fill). :class:`LogEnds` reads the record at the reported end - 1 with a consumer
outside the group: the fetch returns that record's whole batch, whose last offset + 1 is the end.
A broker that reports the true end (Kafka, Redpanda) gets one fetch per partition and the same answer.

>>> true_end(5, [4, 5, 6, 7])
8
>>> true_end(5, [])  # nothing fetched (a compacted or truncated log): the reported end stands
5
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from streamer.config import Settings
from streamer.kafka.record_reader import SideConsumer

log = logging.getLogger(__name__)

FETCH_WAIT_MS = 2000


def true_end(reported: int, fetched_offsets: Iterable[int]) -> int:
    """The log end: past the last record fetched from ``reported - 1`` on, never before ``reported``."""
    return max([reported, *(offset + 1 for offset in fetched_offsets)])


class LogEnds(SideConsumer):
    fetch_bytes = 16 * 1024 * 1024  # the newest batch whole, however large

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.corrected = 0  # partitions whose reported end trailed the log (for the logs and tests)

    async def ends(self, reported: Mapping[Any, int]) -> dict[Any, int]:
        """``reported`` (topic partition -> end offset) with each end moved to the end of its newest batch."""
        found = dict(reported)
        for tp, end in reported.items():
            if end is None or end <= 0:
                continue
            try:
                found[tp] = await self._end(TopicPartition(tp.topic, tp.partition), end)
            except KafkaError as exc:  # the reported end stands: no worse than without this read
                log.warning("could not read the end of %s[%d]: %s", tp.topic, tp.partition, exc)
            if found[tp] != end:
                self.corrected += 1
                log.info("%s[%d]: the broker reported the log end %d, the log ends at %d",
                         tp.topic, tp.partition, end, found[tp])
        return found

    async def _end(self, tp: TopicPartition, reported: int) -> int:
        consumer = await self._started()
        consumer.assign([tp])
        consumer.seek(tp, reported - 1)
        fetched = (await consumer.getmany(tp, timeout_ms=FETCH_WAIT_MS)).get(tp, [])
        return true_end(reported, (record.offset for record in fetched))


def with_true_ends(highwaters: Callable[..., Awaitable[Mapping[Any, int]]],
                   log_ends: LogEnds) -> Callable[..., Awaitable[Mapping[Any, int]]]:
    """A consumer's ``highwaters`` (what Faust's table recovery reads up to), corrected by ``log_ends``."""
    async def corrected(*partitions: Any) -> Mapping[Any, int]:
        return await log_ends.ends(await highwaters(*partitions))
    return corrected
