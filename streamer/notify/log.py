"""What the API and ``/metrics`` show of notifications.

:class:`NotificationLog` reads the notifications topic (every replica mirrors it), so any replica
answers for the whole cluster: recent outcomes, channels failing now with their next retry, and
where each alert was delivered.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from streamer.notify.delivery import DeliveryCounters
from streamer.notify.notifier import NotifierCounters


class NotificationLog:
    def __init__(self, limit: int = 5000) -> None:
        self.limit = limit
        self.records: deque[dict[str, Any]] = deque(maxlen=limit)
        # alert id -> channel -> the latest outcome, for the alerts API
        self.by_alert: OrderedDict[str, dict[str, dict[str, Any]]] = OrderedDict()

    def handle_record(self, key: bytes | None, value: bytes | None, timestamp_s: float) -> None:
        if value is None:
            return
        record = orjson.loads(value)
        self.records.append(record)
        channels = self.by_alert.setdefault(str(record.get("alert_id")), {})
        channels[str(record.get("channel"))] = record
        self.by_alert.move_to_end(str(record.get("alert_id")))
        while len(self.by_alert) > self.limit:
            self.by_alert.popitem(last=False)

    def deliveries_of(self, alert_id: str) -> list[dict[str, Any]]:
        """Where an alert went: per channel its latest status, attempts and time."""
        return [{"channel": channel, "status": r.get("status"), "attempts": r.get("attempts"), "at": r.get("at"),
                 "next_retry_at": r.get("next_retry_at"), "error": r.get("error")}
                for channel, r in sorted(self.by_alert.get(alert_id, {}).items())]

    def query(self, limit: int, status: str | None = None, channel: str | None = None,
              model: str | None = None) -> dict[str, Any]:
        recent = [r for r in reversed(self.records)
                  if (status is None or r.get("status") == status) and (channel is None or r.get("channel") == channel)
                  and (model is None or r.get("model") == model)][:limit]
        channels: dict[str, dict[str, Any]] = {}
        for record in self.records:
            summary = channels.setdefault(str(record.get("channel")), {
                "type": record.get("channel_type"), "delivered": 0, "failed": 0, "failed_attempts": 0,
                "last_delivered_at": None, "last_error": None, "last_error_at": None})
            if record.get("status") == "delivered":
                summary["delivered"] += 1
                summary["last_delivered_at"] = record.get("at")
            else:
                summary["failed_attempts"] += 1
                summary["failed"] += record.get("status") == "failed"
                summary["last_error"], summary["last_error_at"] = record.get("error"), record.get("at")
        retrying = [r for channels_of in self.by_alert.values() for r in channels_of.values()
                    if r.get("status") == "retrying"]
        retrying.sort(key=lambda r: str(r.get("next_retry_at")))
        return {"deliveries": recent, "retrying": retrying[:limit],
                "failures": [r for r in reversed(self.records) if r.get("status") != "delivered"][:limit],
                "channels": channels}


def notification_families(delivery: DeliveryCounters | None, notifier: NotifierCounters | None,
                          pending: int) -> list[Any]:
    """Prometheus families of this replica's notification counters."""
    families: list[Any] = []
    per_channel = [
        ("delivered", "notifications delivered, per channel", delivery.delivered if delivery else {}),
        ("failed", "notifications given up after their last attempt, per channel", delivery.failed if delivery else {}),
        ("attempts_failed", "failed delivery attempts (each retried or given up), per channel",
         delivery.attempts_failed if delivery else {}),
    ]
    for name, help_text, counts in per_channel:
        family = CounterMetricFamily(f"streamer_notifications_{name}", help_text, labels=["channel"])
        for channel, count in sorted(counts.items()):
            family.add_metric([channel], count)
        families.append(family)
    counters = notifier or NotifierCounters()
    for name, help_text, value in (
            ("alerts", "alerts evaluated by the notifier on this replica", counters.alerts),
            ("routed", "deliveries created by alert routes and retrain policies", counters.routed),
            ("retrain_requested", "retrain_requested alerts emitted", counters.retrain_requested)):
        families.append(CounterMetricFamily(f"streamer_notifications_{name}", help_text, value=value))
    families.append(GaugeMetricFamily("streamer_notifications_pending",
                                      "deliveries queued or being retried on this replica", value=pending))
    return families


def render_notification_metrics(delivery: DeliveryCounters | None, notifier: NotifierCounters | None,
                                pending: int) -> str:
    """Prometheus text for this replica's notification counters."""
    registry = CollectorRegistry(auto_describe=False)
    families = notification_families(delivery, notifier, pending)
    registry.register(_Fixed(families))
    return generate_latest(registry).decode()


class _Fixed(Collector):
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> Iterator[Any]:
        yield from self.families
