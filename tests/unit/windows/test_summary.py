"""summarize(): a window's JSON summary, its status, and the drift alerts made from it."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from streamer.alerts.drift import drift_alerts
from streamer.config import DriftPolicy
from streamer.events.rows import PredictionRows
from streamer.reference.profile import ReferenceProfile
from streamer.windows.accumulator import EMPTY_LAYOUT, WindowAccumulator
from streamer.windows.summary import summarize

T0 = 1795687200.0
POLICY = DriftPolicy()
COUNTRIES = ["DE", "FR", "US"]


@pytest.fixture(scope="module")
def reference() -> ReferenceProfile:
    rng = np.random.default_rng(21)
    n = 4000
    x, y = rng.normal(0.0, 1.0, n), rng.gamma(2.0, 3.0, n)
    country = [COUNTRIES[i] for i in rng.choice(3, n, p=[0.5, 0.3, 0.2])]
    return ReferenceProfile.from_columns("fraud", None, features={"x": x, "y": y, "country": country},
                                         outputs={"prediction": (x > 0).astype(int).tolist()})


def window_rows(seed: int, n: int, x_shift: float = 0.0) -> PredictionRows:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(x_shift, 1.0, n), rng.gamma(2.0, 3.0, n)
    country = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    rows = PredictionRows.empty("fraud", "1")
    for i in range(n):
        rows.append_row(timestamp_s=T0 + i * 10.0 / n, features={"x": float(x[i]), "y": float(y[i]),
                                                                  "country": COUNTRIES[country[i]]},
                        prediction=int(x[i] > 0), latency_ms=float(10 + i % 20))
    return rows


def closed_window(rows: PredictionRows, reference: ReferenceProfile | None) -> WindowAccumulator:
    window = WindowAccumulator(T0, T0 + 10.0)
    window.add(rows, reference.layout() if reference else EMPTY_LAYOUT, max_categories=64)
    return window


def summary_of(window: WindowAccumulator, reference: ReferenceProfile | None) -> dict:
    summary = summarize(window, reference, POLICY, model="fraud", version="1",
                        reference_source="registered" if reference else "collecting", closed_by="watermark")
    orjson.dumps(summary)  # JSON-ready, no numpy or infinities left
    return summary


def test_a_baseline_window_has_status_baseline(reference):
    summary = summary_of(closed_window(window_rows(1, 300), None), None)
    assert summary["status"] == "baseline"
    assert summary["drift"] is None
    assert summary["events"] == 300 and summary["errors"] == 0 and summary["error_rate"] == 0.0
    assert summary["window_start"] == "2026-11-26T10:00:00.000Z"
    assert summary["window_end"] == "2026-11-26T10:00:10.000Z"
    assert summary["throughput_per_s"] == 30.0
    assert set(summary["latency_ms"]) == {"p50", "p90", "p95", "p99", "max"}
    assert set(summary["features"]) == {"x", "y", "country"}
    assert summary["features"]["x"]["kind"] == "numeric" and summary["features"]["x"]["count"] == 300
    assert summary["features"]["country"]["kind"] == "categorical"
    assert drift_alerts(summary, T0 + 12.0) == []


def test_a_stationary_window_is_ok(reference):
    summary = summary_of(closed_window(window_rows(2, 800), reference), reference)
    assert summary["status"] == "ok"
    assert summary["drift"]["status"] == "ok"
    assert summary["drift"]["drifted_features"] == [] and summary["drift"]["suspected_features"] == []
    assert {m["status"] for m in summary["features"].values()} == {"ok"}
    assert drift_alerts(summary, T0 + 12.0) == []


def test_a_shifted_feature_is_detected_alone_and_the_model_is_critical(reference):
    summary = summary_of(closed_window(window_rows(3, 800, x_shift=1.0), reference), reference)
    assert summary["drift"]["drifted_features"] == ["x"]
    assert summary["drift"]["suspected_features"] == []
    assert summary["features"]["x"]["status"] == "detected"
    assert summary["features"]["y"]["status"] == "ok" and summary["features"]["country"]["status"] == "ok"
    assert summary["drift"]["status"] == "detected"
    assert summary["drift"]["drifted_share"] == pytest.approx(1 / 3)
    assert summary["status"] == "critical"
    assert summary["features"]["x"]["mean"] == pytest.approx(1.0, abs=0.15)

    alerts = drift_alerts(summary, T0 + 12.0)
    data_drift = [a for a in alerts if a["kind"].startswith("data_drift")]
    assert [a["kind"] for a in data_drift] == ["data_drift_detected"]
    assert data_drift[0]["severity"] == "critical"
    assert data_drift[0]["message"].endswith("features drifted: x")
    assert {n for n, m in data_drift[0]["details"]["features"].items() if m["status"] == "detected"} == {"x"}


def test_features_the_reference_does_not_know_are_marked_unexpected(reference):
    rows = window_rows(4, 200)
    for features in rows.features:
        features["brand_new"] = 1.0  # type: ignore[index]
    summary = summary_of(closed_window(rows, reference), reference)
    assert summary["features"]["brand_new"]["unexpected"] is True
    assert summary["features"]["brand_new"]["status"] == "ok"


def test_an_empty_window_with_a_reference_has_no_data(reference):
    summary = summary_of(WindowAccumulator(T0, T0 + 10.0), reference)
    assert summary["status"] == "no_data"
    assert summary["events"] == 0 and summary["latency_ms"] == {}
    assert summary["features"]["x"]["count"] == 0
