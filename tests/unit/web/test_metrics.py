"""/metrics: parsed as Prometheus parses it, names and types declared, label values bounded."""

from __future__ import annotations

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streamer.pipeline import PipelineCounters
from streamer.web.cluster_view import StatusBoard, WindowHistory
from streamer.web.metrics import render_metrics
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
