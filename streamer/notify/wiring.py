"""The notifier's Faust parts: its table, its agent on the alerts and notifications topics, the
background delivery task. ``topology.py`` calls :func:`add_notifier` when channels or policies exist.

    alerts ────────┐                        ┌─> alerts (retrain_requested)
                   ├─> notify agent ────────┼─> notify_state table (policy state, pending deliveries)
    <app>-notifications ┘ (Notifier)        └─> DeliveryQueue (background task) ─> channels
        ^                                                    │
        └──────────── delivery outcomes ─────────────────────┘
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from streamer.config import Settings
from streamer.kafka.topics import partition_for_key
from streamer.notify.channels import ChannelSender
from streamer.notify.delivery import Delivery, DeliveryQueue, RetryRule
from streamer.notify.log import notification_families
from streamer.notify.notifier import TABLE_NOTIFY, Notifier

log = logging.getLogger(__name__)
RESUME_CHECK_SECONDS = 1.0


def _keep_owned(owns: Callable[[str], bool]) -> Callable[[Delivery], bool]:
    return lambda delivery: owns(delivery.model)


@dataclass
class NotifierParts:
    notifier: Notifier
    queue: DeliveryQueue

    def metric_families(self) -> list[Any]:
        return notification_families(self.queue.counters, self.notifier.counters, len(self.queue.queued))


def add_notifier(app: Any, settings: Settings, table_options: dict[str, Any]) -> NotifierParts:
    config = settings.notify
    table = app.Table(TABLE_NOTIFY, default=None, partitions=settings.partitions,
                      key_type=bytes, value_type=bytes, options=table_options)
    notifier = Notifier(config, settings.window_seconds, settings.topic_alerts, load=table.get, clock=time.time)
    dashboard_url = config.alerting.dashboard_url or f"http://{settings.web_host}:{settings.web_port}"
    senders: list[ChannelSender] = []

    async def send(channel: str, alert: dict[str, Any]) -> str:
        return await senders[0].send(channel, alert)

    async def report(record: dict[str, Any]) -> None:
        await app.producer.send_and_wait(settings.topic_notifications, str(record["model"]).encode(),
                                         orjson.dumps(record), None, None, None)

    def rule(key: str) -> RetryRule:
        channel = config.channel(key)
        return RetryRule(channel.timeout_seconds, channel.max_attempts, channel.initial_backoff_seconds,
                         channel.max_backoff_seconds, channel.type)

    queue = DeliveryQueue(send, report, rule, time.time)
    source = app.topic(settings.topic_alerts, settings.topic_notifications, key_serializer="raw",
                       value_serializer="raw")
    generation = [0]

    @app.agent(source)
    async def notify(stream: Any) -> None:
        async for event in stream.events():
            effects = notifier.handle(event.message.topic, event.message.value)
            for alert in effects.publish:  # before the state write: a crash in between repeats it, same id
                await app.producer.send_and_wait(settings.topic_alerts, alert["model"].encode(), orjson.dumps(alert),
                                                 None, None, None)
            if effects.write is not None:
                table[effects.write[0]] = effects.write[1]
            for delivery in effects.deliveries:
                queue.submit(delivery)
            for finished in effects.finished:
                queue.cancel(finished)

    def owned() -> Callable[[str], bool]:
        partitions = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.topic_alerts}
        return lambda model: partition_for_key(model.encode(), settings.partitions) in partitions

    @app.task
    async def deliver() -> None:
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        senders.append(ChannelSender(config, settings.app_id, dashboard_url, session, time.time))
        runner = asyncio.create_task(queue.run())
        resumed = -1
        try:
            while True:
                await asyncio.sleep(RESUME_CHECK_SECONDS)
                recovery: Any = app.tables.recovery  # type: ignore[attr-defined]
                if resumed == generation[0] or app.rebalancing or app.in_recovery or not recovery.completed.is_set():
                    continue
                resumed = generation[0]
                owns = owned()
                queue.drop(_keep_owned(owns))
                resubmitted = sum(queue.submit(d) for d in notifier.pending_in(table.items, owns))
                if resubmitted:
                    log.info("queued %d pending notification(s) again after a restart or rebalance", resubmitted)
        finally:
            runner.cancel()
            await queue.stop()
            await session.close()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned: Any = None, **kwargs: Any) -> None:
        notifier.forget()
        generation[0] += 1

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(sender: Any, revoked: Any = None, **kwargs: Any) -> None:
        notifier.forget()

    return NotifierParts(notifier, queue)
