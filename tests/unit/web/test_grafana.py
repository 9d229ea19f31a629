"""The Grafana dashboard shipped in grafana/: valid JSON, and every query names metrics /metrics exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streamer.labels.stage import GroundTruthCounters
from streamer.pipeline import PipelineCounters
from streamer.web.cluster_view import StatusBoard, WindowHistory
from streamer.web.metrics import metrics_registry, render
from streamer.web.runtime_metrics import AlertCounts, BatchStats, ConsumerPositions, RuntimeCollector

DASHBOARD = Path(__file__).resolve().parents[3] / "grafana" / "streamer.json"
METRIC = re.compile(r"\bstreamer_[a-z0-9_]+")


def exported_names() -> set[str]:
    history = WindowHistory(2)
    history.handle_record(b"m", orjson.dumps({"model": "m", "version": "1", "window_start_s": 0.0, "events": 1,
                                              "error_rate": 0.0, "latency_ms": {"p95": 1.0},
                                              "drift": {"drifted_share": 0.0}, "features": {"a": {"tvd": 0.1}}}), 0)
    status = StatusBoard()
    status.handle_record(b"m", orjson.dumps({"model": "m", "version": "1", "status": "ok", "events_total": 1}), 0)
    positions = ConsumerPositions()
    positions.processed(0, 1)
    runtime = RuntimeCollector(BatchStats(), AlertCounts(), positions, lambda: {0: 5})
    text = render(metrics_registry(PipelineCounters, status, GroundTruthCounters, history, runtime))
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def queries(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        query = node.get("query")
        if isinstance(query, dict) and isinstance(query.get("query"), str):
            found.append(query["query"])
        return found + [q for value in node.values() for q in queries(value)]
    if isinstance(node, list):
        return [q for value in node for q in queries(value)]
    return []


def test_dashboard_is_json_and_every_query_names_an_exported_metric():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["panels"]
    found = queries(dashboard)
    assert len(found) >= len(dashboard["panels"])
    exported = exported_names()
    for query in found:
        names = METRIC.findall(query)
        assert names, f"query names no streamer metric: {query}"
        missing = set(names) - exported
        assert not missing, f"{query} names {missing}, which /metrics does not export"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
