"""A plain aiokafka producer for the command line tools, topics created first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streamer.config import Settings
from streamer.errors import BrokerUnavailableError
from streamer.kafka.connection import client_options
from streamer.kafka.topics import ensure_topics


@asynccontextmanager
async def producer_for(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topics(settings)
    producer = AIOKafkaProducer(**client_options(settings), linger_ms=20, max_request_size=settings.max_message_bytes,
                                compression_type=None)
    try:
        await asyncio.wait_for(producer.start(), 15)
    except (TimeoutError, KafkaError, OSError) as exc:
        await producer.stop()
        raise BrokerUnavailableError(f"cannot reach the Kafka broker at {settings.broker}: {exc}") from exc
    try:
        yield producer
    finally:
        await producer.stop()


async def publish_messages(settings: Settings, topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> None:
    async with producer_for(settings) as producer:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
