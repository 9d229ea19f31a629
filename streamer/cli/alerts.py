"""`streamer alerts`: read the alerts topic."""

from __future__ import annotations

import asyncio

import click
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streamer.config import Settings, load_settings
from streamer.kafka.connection import client_options
from streamer.kafka.topics import ensure_topics


def format_alert(alert: dict) -> str:
    return (f"{alert.get('created_at')}  {alert.get('severity', ''):8}  {alert.get('kind', ''):26}  "
            f"{alert.get('model')}:{alert.get('version')}  [{alert.get('window_start')} .. {alert.get('window_end')}]  "
            f"{alert.get('message', '')}")


async def read_alerts(settings: Settings, follow: bool, from_beginning: bool, model: str | None, as_json: bool) -> None:
    await ensure_topics(settings)
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(settings.topic_alerts, p)
                      for p in sorted(consumer.partitions_for_topic(settings.topic_alerts) or ())]
        consumer.assign(partitions)
        if follow and not from_beginning:
            await consumer.seek_to_end(*partitions)
        else:
            await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    alert = orjson.loads(record.value)
                    if model is None or alert.get("model") == model:
                        click.echo(record.value.decode() if as_json else format_alert(alert))
            if not follow and all([await consumer.position(tp) >= end[tp] for tp in partitions]):
                return
    finally:
        await consumer.stop()


@click.command("alerts")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new alerts (new ones only, unless --from-beginning).")
@click.option("--from-beginning", is_flag=True, help="With --follow, start from the oldest alert.")
@click.option("--model", default=None, help="Only this model's alerts.")
@click.option("--json", "as_json", is_flag=True, help="Print each alert as one JSON line.")
def alerts(follow: bool, from_beginning: bool, model: str | None, as_json: bool) -> None:
    """Print the alerts topic. Without --follow, prints every stored alert and exits."""
    try:
        asyncio.run(read_alerts(load_settings(), follow, from_beginning, model, as_json))
    except KeyboardInterrupt:
        pass
