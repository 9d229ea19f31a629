"""The notifier agent's logic, free of Faust: policy state and pending deliveries per model.

The agent reads the alerts topic and the notifications topic (delivery outcomes), both keyed by
model, so one model's alerts and outcomes meet in one partition. Per model one table entry
(:class:`NotifyState`) holds the policy state and the deliveries not yet finished. A delivery is
added to it when its alert is evaluated and removed when its outcome comes back; after a restart or
a rebalance the deliveries still pending are queued again: at least once per alert and channel,
and a delivery already reported is never repeated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamer.errors import StateFormatError
from streamer.events.timestamps import parse_timestamp
from streamer.notify.config import NotifyConfig
from streamer.notify.delivery import Delivery, delivery_id
from streamer.notify.policy import ModelPolicy

FORMAT_VERSION = 1
TABLE_NOTIFY = "notify_state"


def _created_s(alert: Mapping[str, Any]) -> float | None:
    try:
        return parse_timestamp(alert["created_at"]) if alert.get("created_at") else None
    except ValueError:
        return None


class NotifyState:
    """One model's table entry: its :class:`ModelPolicy` and its pending deliveries by id."""

    def __init__(self, model: str, policy: ModelPolicy | None = None,
                 pending: dict[str, Delivery] | None = None) -> None:
        self.model = model
        self.policy = policy or ModelPolicy(model)
        self.pending = pending or {}

    def to_bytes(self) -> bytes:
        return orjson.dumps({"v": FORMAT_VERSION, "model": self.model, "policy": self.policy.to_dict(),
                             "pending": {k: d.to_dict() for k, d in self.pending.items()}})

    @classmethod
    def from_bytes(cls, data: bytes) -> NotifyState:
        doc = orjson.loads(data)
        if doc.get("v") != FORMAT_VERSION:
            raise StateFormatError(f"notify state version {doc.get('v')!r}; this version reads {FORMAT_VERSION}")
        pending = {k: Delivery.from_dict(d) for k, d in doc["pending"].items()}
        return cls(doc["model"], ModelPolicy.from_dict(doc["policy"]), pending)


@dataclass
class NotifyEffects:
    """What the agent does for one record: publish alerts, then write state, then queue deliveries."""

    publish: list[dict[str, Any]] = field(default_factory=list)  # retrain_requested alerts
    write: tuple[bytes, bytes] | None = None  # (table key, value)
    deliveries: list[Delivery] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)  # delivery ids reported done: not to be sent again


@dataclass
class NotifierCounters:
    alerts: int = 0
    routed: int = 0  # deliveries created
    retrain_requested: int = 0


class Notifier:
    def __init__(self, config: NotifyConfig, window_seconds: float, topic_alerts: str,
                 load: Callable[[bytes], bytes | None], clock: Callable[[], float]) -> None:
        self.config = config
        self.window_seconds = window_seconds
        self.topic_alerts = topic_alerts
        self.load = load
        self.clock = clock
        self.counters = NotifierCounters()
        self._states: dict[str, NotifyState] = {}  # write-through cache of the table

    def forget(self) -> None:
        """After a rebalance the table is the truth."""
        self._states.clear()

    def state(self, model: str) -> NotifyState:
        state = self._states.get(model)
        if state is None:
            stored = self.load(model.encode())
            state = self._states[model] = NotifyState.from_bytes(stored) if stored else NotifyState(model)
        return state

    def handle(self, topic: str, value: bytes | None) -> NotifyEffects:
        if value is None:
            return NotifyEffects()
        doc = orjson.loads(value)
        if not isinstance(doc, dict) or not isinstance(doc.get("model"), str):
            return NotifyEffects()
        return self.on_alert(doc) if topic == self.topic_alerts else self.on_outcome(doc)

    def on_alert(self, alert: Mapping[str, Any]) -> NotifyEffects:
        if not isinstance(alert.get("id"), str) or not isinstance(alert.get("kind"), str):
            return NotifyEffects()
        self.counters.alerts += 1
        model = alert["model"]
        state = self.state(model)
        now = self.clock()
        seen_before = len(state.policy.seen)
        alerting = self.config.for_model(model)
        created = _created_s(alert)
        if created is not None and now - created > alerting.max_alert_age_seconds:
            alerting = alerting.model_copy(update={"enabled": False})  # counted as seen, not notified
        decision = state.policy.evaluate(alert, alerting, self.window_seconds, now)
        effects = NotifyEffects()
        for name, sent in decision.deliveries:
            delivery = Delivery(dict(sent), self.config.channel_key(model, name), since_s=now)
            state.pending[delivery.id] = delivery
            effects.deliveries.append(delivery)
        if decision.retrain is not None:
            effects.publish.append(decision.retrain)
            self.counters.retrain_requested += 1
        self.counters.routed += len(effects.deliveries)
        if len(state.policy.seen) != seen_before or effects.deliveries:
            effects.write = (model.encode(), state.to_bytes())
        return effects

    def on_outcome(self, record: Mapping[str, Any]) -> NotifyEffects:
        state = self.state(record["model"])
        key = delivery_id(str(record.get("alert_id")), str(record.get("channel")))
        delivery = state.pending.get(key)
        if delivery is None:
            return NotifyEffects()
        effects = NotifyEffects()
        if record.get("status") in ("delivered", "failed"):
            del state.pending[key]
            effects.finished.append(key)
        else:
            delivery.attempts = max(delivery.attempts, int(record.get("attempts") or 0))
        effects.write = (record["model"].encode(), state.to_bytes())
        return effects

    def pending_in(self, items: Callable[[], Any], owns: Callable[[str], bool]) -> list[Delivery]:
        """Pending deliveries of the table's entries (``items()``: key, value pairs) for owned models."""
        found: list[Delivery] = []
        for key, value in items():
            model = key.decode() if isinstance(key, bytes) else str(key)
            if value and owns(model):
                state = self._states.get(model) or NotifyState.from_bytes(value)
                found += state.pending.values()
        return found
