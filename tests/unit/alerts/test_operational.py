"""Operational and data-quality rules through the pipeline: steady windows, then one incident each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry
from tests.unit.test_pipeline import MODEL, SETTINGS, T0, Harness, event

WINDOW = SETTINGS.window_seconds


def steady_window(h: Harness, index: int, *, n: int = 200, seed: int | None = None, latency_scale: float = 1.0,
                  error_share: float = 0.01, missing_share: float = 0.1) -> None:
    rng = np.random.default_rng(index if seed is None else seed)
    start = T0 + index * WINDOW
    events = []
    for i in range(n):
        extra: dict[str, Any] = {"latency_ms": round(float(rng.gamma(4.0, 3.0) * latency_scale), 3)}
        if rng.random() < error_share:
            extra["error"] = "timeout"
        e = event(start + 9.9 * i / n, float(rng.normal()), str(rng.choice(["DE", "FR", "US"])), **extra)
        if rng.random() < missing_share:
            e["features"]["x"] = None
        events.append(e)
    h.now = start + WINDOW  # the clock follows event time, so nothing closes by idleness
    h.send(events, batch_size=100)


def registry() -> ReferenceRegistry:
    rng = np.random.default_rng(99)
    n = 4000
    x = rng.normal(0.0, 1.0, n).tolist()
    x = [None if rng.random() < 0.1 else v for v in x]  # 10% missing in the reference
    profile = ReferenceProfile.from_columns(
        MODEL, None, features={"x": x, "country": rng.choice(["DE", "FR", "US"], n).tolist()},
        outputs={"prediction": [int(v is not None and v > 0) for v in x]})
    registry = ReferenceRegistry()
    registry.handle_record(MODEL.encode(), profile.to_json(), T0)
    return registry


def run(incident: dict[str, Any] | None, *, steady_windows: int = 8, after: int = 2) -> list[dict[str, Any]]:
    """Operational alerts (drift excluded) of steady windows, one incident window, then steady windows."""
    h = Harness(registry())
    for index in range(steady_windows):
        steady_window(h, index)
    if incident is not None:
        steady_window(h, steady_windows, **incident)
    for index in range(steady_windows + 1, steady_windows + 1 + after):
        steady_window(h, index)
    return [a for a in h.alerts() if "drift" not in a["kind"]]


def kinds(alerts: Iterable[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(a["kind"], a["subject"]) for a in alerts]


def test_steady_windows_raise_nothing():
    assert run(None, steady_windows=15) == []


def test_a_tenfold_slowdown_raises_latency_high_then_resolved():
    alerts = run({"latency_scale": 10.0})
    assert kinds(alerts) == [("latency_high", "p50"), ("latency_high", "p95"), ("latency_high", "p99"),
                             ("resolved", "p50"), ("resolved", "p95"), ("resolved", "p99")]
    p99 = alerts[2]
    assert p99["details"]["value_ms"] > 5 * p99["details"]["baseline_ms"]
    assert alerts[5]["details"]["resolves"] == p99["id"]


def test_jitter_of_thirty_percent_raises_nothing():
    assert run({"latency_scale": 1.3}) == []


def test_an_error_burst_raises_error_rate_high():
    alerts = run({"error_share": 0.3})
    assert kinds(alerts) == [("error_rate_high", None), ("resolved", None)]
    details = alerts[0]["details"]
    assert details["errors"] > 30 and details["events"] == 200 and 0.1 < details["error_rate"] < 0.5


def test_one_error_in_three_events_does_not_alarm():
    h = Harness(registry())
    for index in range(8):
        steady_window(h, index)
    h.now = T0 + 8 * WINDOW
    h.send([event(T0 + 8 * WINDOW + i, 0.1, error="boom" if i == 0 else None) for i in range(3)])
    steady_window(h, 9)
    assert [a for a in h.alerts() if a["kind"] == "error_rate_high"] == []
    assert kinds(a for a in h.alerts() if a["kind"] == "throughput_anomaly") == [("throughput_anomaly", "drop")]


def test_a_volume_drop_raises_throughput_anomaly_with_its_expected_range():
    alerts = run({"n": 20})
    assert kinds(alerts) == [("throughput_anomaly", "drop"), ("resolved", "drop")]
    details = alerts[0]["details"]
    assert details["events"] == 20 and details["expected_low"] <= 100 <= 200 <= details["expected_high"]


def test_a_volume_spike_raises_throughput_anomaly():
    assert kinds(run({"n": 1000}))[:1] == [("throughput_anomaly", "spike")]


def test_missing_values_at_the_reference_rate_do_not_alarm_and_at_twice_it_do():
    assert run({"missing_share": 0.1}) == []
    alerts = run({"missing_share": 0.25})
    assert kinds(alerts) == [("data_quality", "x"), ("resolved", "x")]
    assert alerts[0]["details"]["problem"] == "missing"
    assert 0.15 < alerts[0]["details"]["observed"] and 0.08 < alerts[0]["details"]["reference"] < 0.12


def test_unexpected_feature_and_type_mismatch_are_named():
    h = Harness(registry())
    for index in range(4):
        steady_window(h, index)
    start = T0 + 4 * WINDOW
    h.now = start + WINDOW
    h.send([{"model": MODEL, "version": "1", "timestamp": start + i * 0.05,
             "features": {"x": "n/a" if i % 2 else 0.5, "country": "DE", "debug_flag": True}, "prediction": 1}
            for i in range(100)])
    steady_window(h, 5)
    quality = {a["subject"]: a["details"]["problem"] for a in h.alerts() if a["kind"] == "data_quality"}
    assert quality == {"x": "type_mismatch", "debug_flag": "unexpected_feature"}


def test_data_missing_fires_once_per_silence_and_resolves_when_data_returns():
    h = Harness(registry())
    steady_window(h, 0)
    last = h.now
    for seconds in (10, 100, 299):
        h.now = last + seconds
        h.process([h.tick()])
    assert [a for a in h.alerts() if a["kind"] == "data_missing"] == []
    for seconds in (301, 400, 1000):
        h.now = last + seconds
        h.process([h.tick()])
    missing = [a for a in h.alerts() if a["kind"] == "data_missing"]
    assert len(missing) == 1
    assert missing[0]["details"]["silent_for_s"] >= 300 and missing[0]["subject"] is None
    h.now = last + 1100
    h.send([event(T0 + 5000.0, 0.1)])
    resolved = [a for a in h.alerts() if a["kind"] == "resolved"]
    assert [a["details"]["resolves"] for a in resolved] == [missing[0]["id"]]


def test_data_missing_is_not_raised_again_after_a_restart():
    h = Harness(registry())
    steady_window(h, 0)
    h.now += 400
    h.process([h.tick()])
    restarted = Harness(registry(), clock_s=h.now + 100, store=h.store)
    restarted.process([restarted.tick()])
    assert len([a for a in h.alerts() + restarted.alerts() if a["kind"] == "data_missing"]) == 1


def test_a_lasting_slowdown_keeps_alerting_instead_of_becoming_the_baseline():
    h = Harness(registry())
    for index in range(6):
        steady_window(h, index)
    for index in range(6, 30):
        steady_window(h, index, latency_scale=10.0)
    p99 = [a for a in h.alerts() if a["kind"] == "latency_high" and a["subject"] == "p99"]
    assert len(p99) == 23  # every closed slow window (the last one is still open)
    assert not [a for a in h.alerts() if a["kind"] == "resolved"]


def test_few_rows_outside_a_small_reference_range_do_not_alarm():
    from streamer.stats.quality import quality_problems
    section = {"dwell_s": {"out_of_range": {"count": 3, "rows": 39, "observed": 3 / 39, "reference": 2 / 41}}}
    assert quality_problems(section) == []


def test_open_alerts_show_in_the_model_status_until_resolved():
    h = Harness(registry())
    for index in range(6):
        steady_window(h, index)
    steady_window(h, 6, latency_scale=10.0)
    steady_window(h, 7)  # closes the slow window
    slow = h.statuses()[-1]
    assert slow["status"] == "critical" and {a["kind"] for a in slow["active_alerts"]} == {"latency_high"}
    closed = [w for w in h.windows() if w["alerts"]]
    assert closed[0]["status"] == "critical" and closed[0]["alerts"][0]["kind"] == "latency_high"
    steady_window(h, 8)  # closes the steady window 7: resolved
    assert h.statuses()[-1]["active_alerts"] == [] and h.statuses()[-1]["status"] == "ok"
    h.now += 400
    h.process([h.tick()])
    assert h.statuses()[-1]["status"] == "no_data"
