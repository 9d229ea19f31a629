"""What the API shows: open alerts (no `resolved` yet) and where each alert was delivered."""

from __future__ import annotations

import orjson

from streamer.notify.log import NotificationLog, render_notification_metrics
from streamer.web.cluster_view import AlertLog


def record(doc: dict) -> bytes:
    return orjson.dumps(doc)


def test_open_alerts_are_those_no_resolved_alert_names():
    log = AlertLog(100)
    for alert_id, kind, details in (("a1", "latency_high", {}), ("a2", "data_drift_detected", {}),
                                    ("r1", "resolved", {"resolves": "a1"})):
        log.handle_record(b"m", record({"id": alert_id, "kind": kind, "model": "m", "details": details}), 0.0)
    assert [a["id"] for a in log.query(None, None, 10)] == ["r1", "a2", "a1"]
    assert [a["id"] for a in log.query(None, None, 10, only_open=True)] == ["a2"]


def test_deliveries_of_an_alert_keep_the_latest_outcome_per_channel():
    log = NotificationLog()
    for channel, status, attempts in (("hook", "retrying", 1), ("slack", "delivered", 1), ("hook", "delivered", 2)):
        log.handle_record(b"m", record({"alert_id": "a1", "model": "m", "channel": channel, "status": status,
                                        "attempts": attempts, "channel_type": "webhook", "at": "t",
                                        "error": "HTTP 503" if status == "retrying" else None}), 0.0)
    assert [(d["channel"], d["status"], d["attempts"]) for d in log.deliveries_of("a1")] == [
        ("hook", "delivered", 2), ("slack", "delivered", 1)]
    summary = log.query(10)
    assert summary["channels"]["hook"]["delivered"] == 1 and summary["channels"]["hook"]["failed_attempts"] == 1
    assert summary["retrying"] == [] and len(summary["failures"]) == 1
    assert "streamer_notifications_pending 0" in render_notification_metrics(None, None, 0)
