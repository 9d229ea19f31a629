"""The topics streamer uses, created up front with explicit configs.

Creating them before any producer writes matters: a topic auto-created by a producer gets the
broker's default partition count, and Faust then refuses tables over it (``PartitionsMismatch``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

from streamer.config import Settings
from streamer.errors import BrokerUnavailableError
from streamer.kafka.connection import client_options

COMPACT = {"cleanup.policy": "compact"}
DELETE_DAY = {"cleanup.policy": "delete", "retention.ms": str(24 * 3600 * 1000)}
DELETE_WEEK = {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    n = settings.partitions
    return [
        TopicSpec(settings.topic_predictions, n, DELETE_WEEK),
        TopicSpec(settings.topic_labels, n, DELETE_WEEK),
        TopicSpec(settings.topic_ticks, n, {"cleanup.policy": "delete", "retention.ms": str(3600 * 1000)}),
        TopicSpec(settings.topic_alerts, n, DELETE_WEEK),
        TopicSpec(settings.topic_dead_letters, n, DELETE_WEEK),
        TopicSpec(settings.topic_references, n, COMPACT),
        TopicSpec(settings.topic_status, n, COMPACT),
        TopicSpec(settings.topic_windows, n, DELETE_WEEK),
        TopicSpec(settings.topic_notifications, n, DELETE_WEEK),
        *([TopicSpec(settings.topic_partials, n, DELETE_DAY)] if settings.hot_models else []),
    ]


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner picks for ``key``, as aiokafka and Java do."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def ensure_topics(settings: Settings, timeout_s: float = 15.0) -> None:
    """Create every missing topic; raise :class:`BrokerUnavailableError` if the cluster does not answer."""
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        existing = set(await admin.list_topics())
        missing = [spec for spec in topic_specs(settings) if spec.name not in existing]
        for spec in missing:
            try:
                await admin.create_topics([NewTopic(spec.name, spec.partitions, settings.replication_factor,
                                                    topic_configs=spec.configs)])
            except TopicAlreadyExistsError:
                pass  # another replica created it first
    except (TimeoutError, KafkaError, OSError) as exc:
        raise BrokerUnavailableError(f"cannot reach the Kafka broker at {settings.broker}: {exc or type(exc).__name__}") from exc
    finally:
        await admin.close()
