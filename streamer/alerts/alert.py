"""The alert message (CONTRACT 4.4) and its deterministic id.

The same incident (model, version, kind, window, subject) always gets the same id, so consumers
can drop repeats after a restart or a rebalance.

>>> a = make_alert("data_drift_detected", "critical", model="fraud", version="3", window_start="2026-11-26T10:00:00Z",
...                window_end="2026-11-26T10:01:00Z", value=0.5, threshold=0.1, message="m", details={},
...                created_at_s=0.0)
>>> b = make_alert("data_drift_detected", "critical", model="fraud", version="3", window_start="2026-11-26T10:00:00Z",
...                window_end="2026-11-26T10:01:00Z", value=0.7, threshold=0.1, message="other", details={},
...                created_at_s=99.0)
>>> a["id"] == b["id"], len(a["id"])
(True, 32)
"""

from __future__ import annotations

import hashlib
from typing import Any

from streamer.events.timestamps import format_timestamp

KINDS = (
    "data_drift_suspected", "data_drift_detected", "prediction_drift_detected",
    "concept_drift_suspected", "concept_drift_detected", "model_performance_degraded", "data_quality",
    "latency_high", "error_rate_high", "throughput_anomaly", "data_missing", "retrain_requested",
    "resolved",
)
SEVERITIES = ("info", "warning", "critical")


def alert_id(model: str, version: str, kind: str, window_start: str | None, subject: str | None) -> str:
    identity = "\x1f".join([model, version, kind, window_start or "", subject or ""])
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def make_alert(
    kind: str, severity: str, *, model: str, version: str, window_start: str | None, window_end: str | None,
    value: float | None, threshold: float | None, message: str, details: dict[str, Any],
    created_at_s: float, subject: str | None = None,
) -> dict[str, Any]:
    assert kind in KINDS and severity in SEVERITIES, (kind, severity)
    return {
        "id": alert_id(model, version, kind, window_start, subject),
        "kind": kind, "severity": severity, "model": model, "version": version,
        "window_start": window_start, "window_end": window_end, "subject": subject,
        "value": value, "threshold": threshold, "message": message, "details": details,
        "created_at": format_timestamp(created_at_s),
    }
