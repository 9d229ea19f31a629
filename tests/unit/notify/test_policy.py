"""Policy evaluation: occurrences within windows, cooldowns, severities, kinds, retraining, state round trip."""

from __future__ import annotations

from typing import Any

from streamer.alerts.alert import alert_id
from streamer.events.timestamps import format_timestamp
from streamer.notify.config import Alerting
from streamer.notify.policy import ModelPolicy

W = 60.0


def alert(kind: str, window: int, subject: str | None = None, severity: str = "critical",
          model: str = "fraud") -> dict[str, Any]:
    start, end = format_timestamp(window * W), format_timestamp(window * W + W)
    return {"id": alert_id(model, "1", kind, start, subject), "kind": kind, "severity": severity, "model": model,
            "version": "1", "window_start": start, "window_end": end, "subject": subject,
            "created_at": format_timestamp(window * W + W + 5)}


def routes(**route: Any) -> Alerting:
    return Alerting.model_validate({"routes": [{"kinds": ["data_drift_detected", "latency_high"],
                                                "channels": ["slack", "hook"], **route}]})


def fired(policy: ModelPolicy, alerting: Alerting, *alerts: dict[str, Any]) -> list[int]:
    return [len(policy.evaluate(a, alerting, W, now_s=0).deliveries) for a in alerts]


def test_one_occurrence_fires_every_routed_channel_once():
    decision = ModelPolicy("fraud").evaluate(alert("data_drift_detected", 0), routes(), W, now_s=0)
    assert [name for name, _ in decision.deliveries] == ["slack", "hook"]
    assert decision.retrain is None


def test_unrouted_and_disabled_kinds_fire_nothing():
    policy = ModelPolicy("fraud")
    assert fired(policy, routes(), alert("data_quality", 0, "age")) == [0]
    off = Alerting.model_validate({**routes().model_dump(), "disabled_kinds": ["latency_high"]})
    assert fired(policy, off, alert("latency_high", 1, "p95")) == [0]
    assert fired(policy, off.model_copy(update={"enabled": False}), alert("data_drift_detected", 2)) == [0]


def test_min_occurrences_counts_distinct_windows_within_the_last_n():
    policy = ModelPolicy("fraud")
    alerting = routes(min_occurrences=2, within_windows=3, cooldown_seconds=0)
    # windows 0 and 1: fires on the second; 10 alone: not; 12 is within 3 windows of 10 (10, 11, 12).
    assert fired(policy, alerting, alert("data_drift_detected", 0), alert("data_drift_detected", 1),
                 alert("data_drift_detected", 10), alert("data_drift_detected", 12)) == [0, 2, 0, 2]
    # A repeat of an alert id (a restart redelivers it) counts once and decides nothing.
    assert fired(policy, alerting, alert("data_drift_detected", 12)) == [0]
    # Another subject is counted on its own.
    assert fired(policy, alerting, alert("latency_high", 13, "p95"), alert("latency_high", 13, "p99")) == [0, 0]


def test_cooldown_is_per_model_kind_and_subject():
    policy = ModelPolicy("fraud")
    alerting = routes(cooldown_seconds=3600)
    counts = fired(policy, alerting, alert("data_drift_detected", 0), alert("data_drift_detected", 1),
                   alert("latency_high", 2, "p95"), alert("latency_high", 3, "p99"),
                   alert("data_drift_detected", 59), alert("data_drift_detected", 61))
    assert counts == [2, 0, 2, 2, 0, 2]  # window 61 ends 3720 s after window 0's end


def test_severity_overrides_and_min_severity():
    alerting = Alerting.model_validate({
        "severity": {"latency_high": "critical"},
        "routes": [{"kinds": ["latency_high", "data_drift_suspected"], "channels": ["pager"],
                    "min_severity": "critical", "cooldown_seconds": 0}]})
    policy = ModelPolicy("fraud")
    decision = policy.evaluate(alert("latency_high", 0, "p95", severity="warning"), alerting, W, now_s=0)
    assert [(name, sent["severity"]) for name, sent in decision.deliveries] == [("pager", "critical")]
    assert fired(policy, alerting, alert("data_drift_suspected", 1, severity="warning")) == [0]


RETRAIN = {"retrain": {"kinds": ["data_drift_detected", "model_performance_degraded"], "min_occurrences": 2,
                       "within_windows": 3, "channel": "ci", "cooldown_seconds": 86400}}


def test_retrain_is_requested_once_per_cooldown_with_its_triggers():
    alerting = Alerting.model_validate(RETRAIN)
    policy = ModelPolicy("fraud")
    first, second = alert("data_drift_detected", 0), alert("model_performance_degraded", 2, "accuracy")
    requests = [policy.evaluate(a, alerting, W, now_s=100.0).retrain
                for a in (first, second, alert("data_drift_detected", 3), alert("data_drift_detected", 4))]
    assert requests[0] is None and requests[2] is None and requests[3] is None
    request = requests[1]
    assert request is not None and request["kind"] == "retrain_requested" and request["model"] == "fraud"
    assert request["details"]["triggered_by"] == [first["id"], second["id"]]
    assert request["details"]["kinds"] == ["data_drift_detected", "model_performance_degraded"]
    # Deterministic: the same incident evaluated again from the same state gives the same id.
    replay = ModelPolicy("fraud")
    for a in (first, second):
        again = replay.evaluate(a, alerting, W, now_s=999.0).retrain
    assert again is not None and again["id"] == request["id"]
    # After the cooldown (a day of windows later) it may be requested again.
    late = [policy.evaluate(alert("data_drift_detected", w), alerting, W, now_s=0).retrain for w in (1500, 1501)]
    assert late[0] is None and late[1] is not None


def test_a_retrain_request_goes_to_the_retrain_channel():
    alerting = Alerting.model_validate(RETRAIN)
    request = alert("retrain_requested", 5, severity="warning")
    decision = ModelPolicy("fraud").evaluate(request, alerting, W, now_s=0)
    assert [name for name, _ in decision.deliveries] == ["ci"] and decision.retrain is None


def test_state_round_trips_through_bytes():
    alerting = routes(min_occurrences=2, within_windows=3, cooldown_seconds=3600)
    alerting = Alerting.model_validate({**alerting.model_dump(), **RETRAIN})
    policy = ModelPolicy("fraud")
    fired(policy, alerting, alert("data_drift_detected", 0))
    restored = ModelPolicy.from_bytes(policy.to_bytes())
    assert restored.to_dict() == policy.to_dict()
    # The restored state carries on: the second occurrence fires and requests retraining.
    decision = restored.evaluate(alert("data_drift_detected", 1), alerting, W, now_s=0)
    assert len(decision.deliveries) == 2 and decision.retrain is not None
    assert restored.evaluate(alert("data_drift_detected", 0), alerting, W, now_s=0).deliveries == []
