"""/metrics: parsed as Prometheus parses it, names and types declared, label values bounded."""

from __future__ import annotations

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streamer.labels.stage import GroundTruthCounters
from streamer.notify.delivery import DeliveryCounters
from streamer.notify.log import render_notification_metrics
from streamer.notify.notifier import NotifierCounters
from streamer.pipeline import PipelineCounters
from streamer.web.cluster_view import StatusBoard, WindowHistory
from streamer.web.metrics import metrics_registry, render, render_metrics
from streamer.web.window_metrics import MAX_FEATURE_SERIES, MAX_MODEL_SERIES


def window(model: str, start_s: float, features: int = 3) -> bytes:
    return orjson.dumps({
        "model": model, "version": "1", "window_start_s": start_s, "window_end_s": start_s + 60, "events": 100,
        "error_rate": 0.02, "latency_ms": {"p50": 5.0, "p95": 20.0, "p99": 40.0},
        "drift": {"drifted_share": 0.25},
        "features": {f"f{i}": {"tvd": i / 100, "status": "ok"} for i in range(features)}})


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_every_family_is_declared_prefixed_and_parses():
    status, history = StatusBoard(), WindowHistory(10)
    status.handle_record(b"m", orjson.dumps({"model": "m", "version": "1", "status": "critical", "events_total": 9}), 0)
    history.handle_record(b"m", window("m", 0.0), 0)
    history.handle_record(b"m", window("m", 60.0), 0)
    text = render_metrics(PipelineCounters(messages=3), status, history=history)
    declared = {line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE")}
    helped = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP")}
    assert set(declared) == helped and all(name.startswith("streamer_") for name in declared)
    found = families(text)
    assert found["streamer_window_drifted_share"].samples[0].value == 0.25
    latency = {s.labels["quantile"]: s.value for s in found["streamer_window_latency_ms"].samples}
    assert latency == {"p50": 5.0, "p95": 20.0, "p99": 40.0}
    effects = {s.labels["feature"]: s.value for s in found["streamer_feature_drift_effect"].samples}
    assert effects == {"f0": 0.0, "f1": 0.01, "f2": 0.02}
    assert found["streamer_window_end_seconds"].samples[0].value == 120.0  # the newest window
    assert found["streamer_model_status"].type == "gauge" and found["streamer_messages"].type == "counter"


def test_model_and_feature_series_are_capped_and_the_cut_is_counted():
    history = WindowHistory(2)
    for i in range(MAX_MODEL_SERIES + 20):
        history.handle_record(b"m", window(f"model-{i:04d}", float(i), features=2), 0)
    history.handle_record(b"wide", window("wide", 10_000.0, features=MAX_FEATURE_SERIES + 7), 0)
    found = families(render_metrics(PipelineCounters(), StatusBoard(), history=history))
    assert len(found["streamer_window_events"].samples) == MAX_MODEL_SERIES
    models = {s.labels["model"] for s in found["streamer_window_events"].samples}
    assert "wide" in models and "model-0000" not in models  # the newest windows are kept
    wide = [s for s in found["streamer_feature_drift_effect"].samples if s.labels["model"] == "wide"]
    assert len(wide) == MAX_FEATURE_SERIES and max(s.value for s in wide) == (MAX_FEATURE_SERIES + 6) / 100
    assert found["streamer_metric_series_dropped"].samples[0].value == 21 + 7


# The exposition names before /metrics moved to prometheus_client: a public surface (dashboards, alert rules).
NAMES_AND_TYPES = {
    "streamer_messages_total": "counter", "streamer_rows_accepted_total": "counter",
    "streamer_rows_late_total": "counter", "streamer_rows_duplicate_total": "counter",
    "streamer_dead_letters_total": "counter", "streamer_forwarded_total": "counter",
    "streamer_windows_closed_total": "counter", "streamer_alerts_total": "counter",
    "streamer_log_resets_total": "counter", "streamer_models_refused_total": "counter",
    "streamer_features_dropped_total": "counter", "streamer_dead_letters_by_reason_total": "counter",
    "streamer_labels_total": "counter", "streamer_labels_joined_total": "counter",
    "streamer_labels_expired_total": "counter", "streamer_predictions_expired_total": "counter",
    "streamer_closed_window_updates_total": "counter", "streamer_concept_drifts_total": "counter",
    "streamer_model_events_total": "counter", "streamer_model_status": "gauge",
    "streamer_window_events": "gauge", "streamer_window_error_rate": "gauge", "streamer_window_latency_ms": "gauge",
    "streamer_window_drifted_share": "gauge", "streamer_feature_drift_effect": "gauge",
    "streamer_window_end_seconds": "gauge", "streamer_metric_series_dropped": "gauge",
}


def test_names_types_and_labels_stay_as_they_were():
    status, history = StatusBoard(), WindowHistory(10)
    status.handle_record(b"m", orjson.dumps({"model": 'a"b', "version": "1", "status": "ok", "events_total": 9}), 0)
    history.handle_record(b"m", window('a"b', 0.0), 0)
    text = render_metrics(PipelineCounters(dead_letter_reasons={"not_json": 2}), status, GroundTruthCounters(),
                          history)
    declared = {line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE")}
    assert declared == NAMES_AND_TYPES  # TYPE lines name the sample, with _total, as before
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    assert {s.name for s in samples} == set(NAMES_AND_TYPES)
    labels = {s.name: set(s.labels) for s in samples}
    assert labels["streamer_model_status"] == {"model", "version", "status"}
    assert labels["streamer_feature_drift_effect"] == {"model", "version", "feature"}
    assert labels["streamer_window_latency_ms"] == {"model", "version", "quantile"}
    assert labels["streamer_dead_letters_by_reason_total"] == {"reason"}
    assert 'streamer_model_events_total{model="a\\"b",version="1"} 9.0' in text  # escaped by the library
    assert "_created" not in text  # no creation-time series: the families carry none


def test_the_registry_reads_the_state_at_every_scrape_and_is_not_global():
    from prometheus_client import REGISTRY

    counters = PipelineCounters()
    registry = metrics_registry(lambda: counters, StatusBoard())
    counters.messages += 5
    assert "streamer_messages_total 5.0" in render(registry).splitlines()
    assert REGISTRY.get_sample_value("streamer_messages_total") is None


def test_notification_families_keep_their_names():
    delivery = DeliveryCounters()
    delivery.delivered["pager"] += 2
    delivery.attempts_failed["mail"] += 1
    found = families(render_notification_metrics(delivery, NotifierCounters(retrain_requested=1), 3))
    assert found["streamer_notifications_delivered"].samples[0].labels == {"channel": "pager"}
    assert found["streamer_notifications_attempts_failed"].samples[0].value == 1
    assert found["streamer_notifications_retrain_requested"].samples[0].name == \
        "streamer_notifications_retrain_requested_total"
    assert found["streamer_notifications_pending"].type == "gauge"
    assert found["streamer_notifications_pending"].samples[0].value == 3
