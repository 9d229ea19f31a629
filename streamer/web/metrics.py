"""Prometheus text exposition of the worker's counters and the models' state."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from streamer.batch import PipelineCounters
from streamer.events.dead_letters import DEAD_LETTER_REASONS
from streamer.labels.stage import GroundTruthCounters
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
    "models_refused": "messages of new models refused past STREAMER_MAX_MODELS (sent to dead-letters)",
    "features_dropped": "new feature names dropped past STREAMER_MAX_FEATURES per window",
}
_GROUND_TRUTH_HELP = {
    "labels": "label rows read by this replica",
    "labels_joined": "labels joined to their prediction",
    "labels_expired": "labels that found no prediction within the label TTL",
    "predictions_expired": "pending predictions whose label did not come within the label TTL",
    "closed_window_updates": "updates of closed windows' performance as their labels arrived",
    "concept_drifts": "concept-drift detections",
}
STATUS_VALUES = ("ok", "warning", "critical", "baseline", "no_data")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _counter_lines(counters: Any, help_texts: dict[str, str]) -> list[str]:
    """``streamer_<field>_total`` for every counter field of a dataclass that has a help text."""
    lines = []
    for field in fields(counters):
        if field.name in help_texts:
            name = f"streamer_{field.name}_total"
            lines += [f"# HELP {name} {help_texts[field.name]}", f"# TYPE {name} counter",
                      f"{name} {getattr(counters, field.name)}"]
    return lines


def render_metrics(counters: PipelineCounters, status: StatusBoard,
                   ground_truth: GroundTruthCounters | None = None, history: WindowHistory | None = None) -> str:
    lines = _counter_lines(counters, _HELP)
    lines += ["# HELP streamer_dead_letters_by_reason_total messages rejected to dead-letters, by kind of reason",
              "# TYPE streamer_dead_letters_by_reason_total counter"]
    for reason in DEAD_LETTER_REASONS:
        lines.append(f'streamer_dead_letters_by_reason_total{{reason="{reason}"}} '
                     f"{counters.dead_letter_reasons.get(reason, 0)}")
    if ground_truth is not None:
        lines += _counter_lines(ground_truth, _GROUND_TRUTH_HELP)
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
