"""The true end of a log on a broker that reports it short (streamer.kafka.log_ends)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streamer.config import load_settings
from streamer.kafka.log_ends import LogEnds
from streamer.kafka.record_reader import RecordReader
from streamer.windows.model_state import RecordMark
from tests.integration.conftest import Broker

pytestmark = pytest.mark.integration


def test_the_end_of_a_log_whose_newest_batch_holds_many_records(broker: Broker) -> None:
    topic = f"ends-{uuid.uuid4().hex[:8]}"
    bootstrap = f"127.0.0.1:{broker.port}"

    async def go() -> tuple[int, int, int]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=1024 * 1024, linger_ms=200)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"first", partition=0)  # a batch of one record
            sent = [await producer.send(topic, f"r{i}".encode(), partition=0) for i in range(40)]  # one batch
            await asyncio.gather(*sent)
        finally:
            await producer.stop()
        tp = TopicPartition(topic, 0)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            reported = (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()
        log_ends = LogEnds(load_settings({"STREAMER_BROKER": f"kafka://{bootstrap}"}))
        try:
            found = (await log_ends.ends({tp: reported}))[tp]
        finally:
            await log_ends.stop()
        return reported, found, log_ends.corrected

    reported, found, corrected = asyncio.run(go())
    print(f"reported {reported}, found {found}")
    assert found == 41  # every record written
    # The embedded broker reports the newest batch's base offset + 1 (FIELD_NOTES); a broker that
    # reports the true end is left as it is.
    assert (reported, corrected) in ((2, 1), (41, 0))


def test_a_record_past_the_reported_end_is_found_however_slow_the_broker(broker: Broker) -> None:
    """A record in the newest batch, beyond the end the embedded broker reports, is present, not absent.

    ``absent_after_s=0`` stands for a broker too slow to answer within the wait for an absent record:
    a record that exists must still be found, or a redelivery would be taken for a new log.
    """
    topic = f"marks-{uuid.uuid4().hex[:8]}"
    bootstrap = f"127.0.0.1:{broker.port}"

    async def go() -> dict:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=1024 * 1024, linger_ms=200)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"first", partition=0)
            await asyncio.gather(*[await producer.send(topic, f"r{i}".encode(), partition=0) for i in range(40)])
        finally:
            await producer.stop()
        reader = RecordReader(load_settings({"STREAMER_BROKER": f"kafka://{bootstrap}"}), absent_after_s=0.0)
        try:
            return await reader.marks(topic, [(0, 0), (0, 20), (0, 40), (0, 41)])
        finally:
            await reader.stop()

    found = asyncio.run(go())
    assert found[(0, 20)] == RecordMark.of(b"r19", found[(0, 20)].timestamp_ms / 1000.0)
    assert found[(0, 40)] is not None and found[(0, 0)] is not None
    assert found[(0, 41)] is None  # past the log's true end: absent
