"""Prometheus text exposition of the worker's counters and the models' state."""

from __future__ import annotations

from dataclasses import fields

from streamer.pipeline import PipelineCounters
from streamer.web.cluster_view import StatusBoard, WindowHistory
from streamer.web.window_metrics import render_window_metrics

_HELP = {
    "messages": "prediction messages read from Kafka by this replica",
    "rows_accepted": "prediction rows applied to windows by this replica",
    "rows_late": "rows for already closed windows, not applied",
    "rows_duplicate": "rows redelivered after a restart and skipped",
    "dead_letters": "messages rejected to the dead-letters topic",
    "forwarded": "messages re-keyed to their model's partition",
    "windows_closed": "windows closed by this replica",
    "alerts": "alerts emitted by this replica",
    "log_resets": "partitions found to be a new log (offsets started again), whose models were re-based",
}
STATUS_VALUES = ("ok", "warning", "critical", "baseline", "no_data")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(counters: PipelineCounters, status: StatusBoard, history: WindowHistory | None = None) -> str:
    lines = []
    for field in fields(counters):
        name = f"streamer_{field.name}_total"
        lines += [f"# HELP {name} {_HELP[field.name]}", f"# TYPE {name} counter",
                  f"{name} {getattr(counters, field.name)}"]
    lines += ["# HELP streamer_model_events_total accepted rows per model and version (cluster-wide)",
              "# TYPE streamer_model_events_total counter"]
    for (model, version), doc in sorted(status.models.items()):
        lines.append(f'streamer_model_events_total{{model="{_label(model)}",version="{_label(version)}"}} '
                     f"{doc.get('events_total', 0)}")
    lines += ["# HELP streamer_model_status 1 for the model's current status",
              "# TYPE streamer_model_status gauge"]
    for (model, version), doc in sorted(status.models.items()):
        for value in STATUS_VALUES:
            lines.append(f'streamer_model_status{{model="{_label(model)}",version="{_label(version)}",'
                         f'status="{value}"}} {int(doc.get("status") == value)}')
    if history is not None:
        lines += render_window_metrics(history)
    return "\n".join(lines) + "\n"
