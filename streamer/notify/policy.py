"""Which routes an alert fires, and when retraining is requested: pure state, no Kafka (CONTRACT 8).

One :class:`ModelPolicy` holds a model's policy state; it lives in a table entry keyed by the model,
so it survives restarts and rebalances (:meth:`ModelPolicy.to_bytes`).

A route fires for an alert when the alert's kind is on and routed, its severity (after overrides)
reaches the route's ``min_severity``, the same model, kind and subject raised it in at least
``min_occurrences`` distinct windows among the last ``within_windows``, and the route has not fired
for that model, kind and subject within ``cooldown_seconds``. Times are the alerts' own (the end of
their window), so a replay of old data keeps the same cadence as live traffic.

>>> from streamer.notify.config import Alerting
>>> policy = ModelPolicy("fraud")
>>> alerting = Alerting.model_validate({
...     "routes": [{"kinds": ["data_drift_detected"], "channels": ["slack"], "min_occurrences": 2,
...                 "within_windows": 3, "cooldown_seconds": 600}]})
>>> def drift(minute): return {"id": f"a{minute}", "kind": "data_drift_detected", "severity": "critical",
...     "model": "fraud", "version": "1", "subject": None, "created_at": None,
...     "window_start": minute * 60.0, "window_end": minute * 60.0 + 60}
>>> [len(policy.evaluate(drift(m), alerting, 60.0, now_s=0).deliveries) for m in (0, 1, 2, 20, 22, 23)]
[0, 1, 0, 0, 1, 0]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamer.alerts.alert import make_alert
from streamer.errors import StateFormatError
from streamer.events.timestamps import format_timestamp, parse_timestamp
from streamer.notify.config import SEVERITY_RANK, Alerting

FORMAT_VERSION = 1
# Kept per model: enough to de-duplicate redelivered alerts and to count occurrences.
SEEN_IDS = 512
HITS_PER_KEY = 64


@dataclass
class Decision:
    """What to do for one alert: (channel name, alert as sent) pairs, and a retraining request."""

    deliveries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    retrain: dict[str, Any] | None = None


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, int | float) else parse_timestamp(value)


def alert_times(alert: Mapping[str, Any], window_seconds: float) -> tuple[float, float, float]:
    """(window start, window length, the alert's time) in seconds; windowless alerts use created_at."""
    start, end = _seconds(alert.get("window_start")), _seconds(alert.get("window_end"))
    if start is not None and end is not None and end > start:
        return start, end - start, end
    at = _seconds(alert.get("created_at")) or 0.0
    return at, window_seconds, at


def _within(hits: list[list[Any]], start_s: float, length_s: float, windows: int) -> list[list[Any]]:
    """The hits in the last ``windows`` windows up to the one starting at ``start_s``."""
    low = start_s - windows * length_s
    return [hit for hit in hits if low < hit[0] <= start_s]


class ModelPolicy:
    """Policy state of one model: recent occurrences, last notifications, last retraining request."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.hits: dict[str, list[list[Any]]] = {}  # "kind\x1fsubject" -> [[window_start_s, alert_id], ...]
        self.retrain_hits: list[list[Any]] = []  # [[window_start_s, alert_id], ...] of retrain kinds
        self.last_sent_s: dict[str, float] = {}  # "route\x1fkind\x1fsubject" -> alert time
        self.last_retrain_s: float | None = None
        self.seen: list[str] = []

    def __repr__(self) -> str:
        return f"ModelPolicy({self.model!r}, keys={len(self.hits)}, last_retrain_s={self.last_retrain_s})"

    def evaluate(self, alert: Mapping[str, Any], alerting: Alerting, window_seconds: float,
                 now_s: float) -> Decision:
        """Record ``alert`` and decide its deliveries; a repeat of an alert id decides nothing."""
        decision = Decision()
        if alert["id"] in self.seen:
            return decision
        self.seen.append(alert["id"])
        del self.seen[:-SEEN_IDS]
        kind = alert["kind"]
        if not alerting.enabled or kind in alerting.disabled_kinds:
            return decision
        start_s, length_s, at_s = alert_times(alert, window_seconds)
        subject = alert.get("subject") or ""
        hits = self.hits.setdefault(f"{kind}\x1f{subject}", [])
        hits.append([start_s, alert["id"]])
        hits.sort(key=lambda hit: hit[0])
        del hits[:-HITS_PER_KEY]
        severity = alerting.severity_of(alert)
        sent = {**alert, "severity": severity}
        channels: list[str] = []
        retrain = alerting.retrain
        if kind == "retrain_requested" and retrain is not None and retrain.channel:
            channels.append(retrain.channel)  # the retrain policy's call; rate-limited when it was raised
        for index, route in enumerate(alerting.routes):
            if kind not in route.kinds or SEVERITY_RANK[severity] < SEVERITY_RANK[route.min_severity]:
                continue
            windows = {hit[0] for hit in _within(hits, start_s, length_s, route.within_windows)}
            if len(windows) < route.min_occurrences:
                continue
            key = f"{index}\x1f{kind}\x1f{subject}"
            last = self.last_sent_s.get(key)
            if last is not None and abs(at_s - last) < route.cooldown_seconds:
                continue
            self.last_sent_s[key] = at_s
            channels += [name for name in route.channels if name not in channels]
        decision.deliveries = [(name, sent) for name in channels]
        if retrain is not None and retrain.enabled and kind in retrain.kinds:
            decision.retrain = self._retrain(alert, alerting, start_s, length_s, at_s, now_s)
        return decision

    def _retrain(self, alert: Mapping[str, Any], alerting: Alerting, start_s: float, length_s: float,
                 at_s: float, now_s: float) -> dict[str, Any] | None:
        retrain = alerting.retrain
        assert retrain is not None
        self.retrain_hits.append([start_s, alert["id"]])
        self.retrain_hits.sort(key=lambda hit: hit[0])
        del self.retrain_hits[:-HITS_PER_KEY]
        recent = _within(self.retrain_hits, start_s, length_s, retrain.within_windows)
        windows = sorted({hit[0] for hit in recent})
        if len(windows) < retrain.min_occurrences:
            return None
        if self.last_retrain_s is not None and abs(at_s - self.last_retrain_s) < retrain.cooldown_seconds:
            return None
        self.last_retrain_s = at_s
        triggered_by = [hit[1] for hit in recent]
        kinds = sorted({k.split("\x1f")[0] for k, hits in self.hits.items() for hit in hits if hit[1] in triggered_by})
        return make_alert(
            "retrain_requested", "warning", model=self.model, version=str(alert.get("version") or "default"),
            window_start=alert.get("window_start"), window_end=alert.get("window_end"),
            value=float(len(windows)), threshold=float(retrain.min_occurrences),
            message=(f"retraining requested: {', '.join(kinds)} in {len(windows)} of the last "
                     f"{retrain.within_windows} windows"),
            details={"triggered_by": triggered_by, "kinds": kinds, "windows": [format_timestamp(w) for w in windows],
                     "min_occurrences": retrain.min_occurrences, "within_windows": retrain.within_windows,
                     "cooldown_seconds": retrain.cooldown_seconds, "channel": retrain.channel},
            created_at_s=now_s)

    # -- storage ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"v": FORMAT_VERSION, "model": self.model, "hits": self.hits, "retrain_hits": self.retrain_hits,
                "last_sent_s": self.last_sent_s, "last_retrain_s": self.last_retrain_s, "seen": self.seen}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelPolicy:
        if data.get("v") != FORMAT_VERSION:
            raise StateFormatError(f"policy state version {data.get('v')!r}; this version reads {FORMAT_VERSION}")
        policy = cls(data["model"])
        policy.hits = {k: list(v) for k, v in data["hits"].items()}
        policy.retrain_hits = list(data["retrain_hits"])
        policy.last_sent_s = dict(data["last_sent_s"])
        policy.last_retrain_s = data["last_retrain_s"]
        policy.seen = list(data["seen"])
        return policy

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelPolicy:
        return cls.from_dict(orjson.loads(data))
