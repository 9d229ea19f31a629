"""The ceiling: a plain aiokafka consumer doing streamer's parsing and sketch updates, no Faust.

Per fetched batch it decodes every message with :func:`parse_prediction_message`, groups rows per
model and adds them to a :class:`WindowAccumulator` with the model's reference layout, as the
worker does, but writes no table and sends nothing.
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from streamer.events.parse import parse_prediction_message
from streamer.events.rows import PredictionRows
from streamer.windows.accumulator import EMPTY_LAYOUT, WindowAccumulator


async def drain(port: int, topic: str, expect_rows: int) -> float:
    """Rows per second from the first row read to the ``expect_rows``-th."""
    consumer = AIOKafkaConsumer(bootstrap_servers=f"127.0.0.1:{port}", group_id=None, enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        windows: dict[tuple[str, str], WindowAccumulator] = {}
        seen, first = 0, 0.0
        while seen < expect_rows:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            if batches and not first:
                first = time.monotonic()
            groups: dict[tuple[str, str], PredictionRows] = {}
            for records in batches.values():
                for record in records:
                    rows = parse_prediction_message(record.value, record.timestamp / 1000)
                    group = groups.get(rows.key)
                    if group is None:
                        groups[rows.key] = rows
                    else:
                        group.extend(rows)
            for key, rows in groups.items():
                window = windows.setdefault(key, WindowAccumulator(0.0, 60.0))
                window.add(rows, EMPTY_LAYOUT, 64)
                seen += len(rows)
        return seen / (time.monotonic() - first)
    finally:
        await consumer.stop()
