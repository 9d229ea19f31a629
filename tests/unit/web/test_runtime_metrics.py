"""The agent's own figures in /metrics: batch seconds and records, alerts by kind and severity, consumer lag."""

from __future__ import annotations

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streamer.alerts.alert import KINDS, SEVERITIES, make_alert
from streamer.pipeline import PipelineCounters
from streamer.web.cluster_view import StatusBoard
from streamer.web.metrics import metrics_registry, render
from streamer.web.runtime_metrics import (
    BATCH_SECONDS_BUCKETS,
    AlertCounts,
    BatchStats,
    ConsumerPositions,
    RuntimeCollector,
)


def scrape(batches: BatchStats, alerts: AlertCounts, positions: ConsumerPositions,
           highwaters: dict[int, int | None]) -> dict[str, object]:
    registry = metrics_registry(PipelineCounters, StatusBoard(), lambda: None, None,
                                RuntimeCollector(batches, alerts, positions, lambda: highwaters))
    return {f.name: f for f in text_string_to_metric_families(render(registry))}


def alert(kind: str, severity: str) -> bytes:
    return orjson.dumps(make_alert(kind, severity, model="m", version="1", window_start=None, window_end=None,
                                   value=None, threshold=None, message="", details={}, created_at_s=0.0))


def test_batch_seconds_is_a_histogram_over_the_batches():
    batches = BatchStats()
    for seconds in (0.001, 0.004, 0.02, 0.2, 3.0):
        batches.update({"plan": seconds / 2, "settle": 0.0, "apply": seconds / 4, "send": seconds / 4}, records=100)
    found = scrape(batches, AlertCounts(), ConsumerPositions(), {})
    histogram = found["streamer_batch_seconds"]
    assert histogram.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in histogram.samples if s.name == "streamer_batch_seconds_bucket"}
    assert len(buckets) == len(BATCH_SECONDS_BUCKETS) + 1
    assert buckets["0.005"] == 2 and buckets["0.025"] == 3 and buckets["1.0"] == 4 and buckets["+Inf"] == 5
    sums = {s.name: s.value for s in histogram.samples if not s.name.endswith("_bucket")}
    assert sums["streamer_batch_seconds_count"] == 5 and abs(sums["streamer_batch_seconds_sum"] - 3.225) < 1e-9
    stages = {s.labels["stage"]: s.value for s in found["streamer_batch_stage_seconds"].samples}
    assert set(stages) == {"plan", "settle", "apply", "send"} and abs(stages["plan"] - 3.225 / 2) < 1e-9
    records = {s.name: s.value for s in found["streamer_batch_records"].samples if not s.name.endswith("_bucket")}
    assert records == {"streamer_batch_records_count": 5, "streamer_batch_records_sum": 500}


def test_alerts_by_kind_and_severity_are_a_fixed_bounded_set():
    counts = AlertCounts()
    for _ in range(3):
        counts.count(alert("data_drift_detected", "critical"))
    counts.count(alert("latency_high", "warning"))
    counts.count(b'{"kind": "invented", "severity": "critical"}')  # not in the contract: no new series
    family = scrape(BatchStats(), counts, ConsumerPositions(), {})["streamer_alerts_by_kind"]
    assert family.type == "counter"
    samples = {(s.labels["kind"], s.labels["severity"]): s.value for s in family.samples}
    assert len(samples) == len(KINDS) * len(SEVERITIES)
    assert samples[("data_drift_detected", "critical")] == 3 and samples[("latency_high", "warning")] == 1
    assert sum(samples.values()) == 4
    assert {s.name for s in family.samples} == {"streamer_alerts_by_kind_total"}


def test_consumer_lag_per_owned_partition_with_a_position():
    positions = ConsumerPositions()
    for offset in range(10):
        positions.processed(0, offset)
    positions.processed(1, 99)
    positions.processed(2, 5)
    found = scrape(BatchStats(), AlertCounts(), positions, {0: 25, 1: 100, 2: None, 3: 40})
    lag = {s.labels["partition"]: s.value for s in found["streamer_consumer_lag"].samples}
    assert lag == {"0": 15, "1": 0}  # 2: log end not known yet; 3: nothing processed since assignment
    positions.forget()  # partitions revoked
    assert scrape(BatchStats(), AlertCounts(), positions, {0: 25})["streamer_consumer_lag"].samples == []
