"""Prometheus exposition of the worker's counters and the models' state, rendered by ``prometheus_client``.

Each concern is a collector over streamer's own state, registered in a per-app ``CollectorRegistry``
(never the library's global registry): the counters here, the last closed windows
(:mod:`streamer.web.window_metrics`), the agent's batches, alerts and lag
(:mod:`streamer.web.runtime_metrics`) and notifications (:mod:`streamer.notify.log`).
The library appends ``_total`` to counter samples itself, so families are named without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from streamer.batch import PipelineCounters
from streamer.events.dead_letters import DEAD_LETTER_REASONS
from streamer.labels.stage import GroundTruthCounters
from streamer.web.cluster_view import StatusBoard, WindowHistory
from streamer.web.window_metrics import window_families

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

Families = Iterable[CounterMetricFamily | GaugeMetricFamily | Any]


class FamiliesCollector(Collector):
    """A collector that asks a function for its families at every scrape (the state is read then, not copied).

    >>> registry = CollectorRegistry(auto_describe=False)
    >>> registry.register(FamiliesCollector(lambda: [counter("streamer_demo", "demo", 2)]))
    >>> print(generate_latest(registry).decode().splitlines()[-1])
    streamer_demo_total 2.0
    """

    def __init__(self, families: Callable[[], Families]) -> None:
        self.families = families

    def collect(self) -> Iterator[Any]:
        yield from self.families()


def counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    """A counter family without labels; ``name`` without ``_total`` (the library appends it to the sample)."""
    return CounterMetricFamily(name, help_text, value=value)


def _counter_families(counters: Any, help_texts: dict[str, str]) -> list[CounterMetricFamily]:
    """``streamer_<field>_total`` for every counter field of a dataclass that has a help text."""
    return [counter(f"streamer_{f.name}", help_texts[f.name], getattr(counters, f.name))
            for f in fields(counters) if f.name in help_texts]


def counter_families(counters: PipelineCounters, ground_truth: GroundTruthCounters | None) -> list[Any]:
    families: list[Any] = _counter_families(counters, _HELP)
    by_reason = CounterMetricFamily("streamer_dead_letters_by_reason",
                                    "messages rejected to dead-letters, by kind of reason", labels=["reason"])
    for reason in DEAD_LETTER_REASONS:
        by_reason.add_metric([reason], counters.dead_letter_reasons.get(reason, 0))
    families.append(by_reason)
    if ground_truth is not None:
        families += _counter_families(ground_truth, _GROUND_TRUTH_HELP)
    return families


def model_families(status: StatusBoard) -> list[Any]:
    events = CounterMetricFamily("streamer_model_events", "accepted rows per model and version (cluster-wide)",
                                 labels=["model", "version"])
    states = GaugeMetricFamily("streamer_model_status", "1 for the model's current status",
                               labels=["model", "version", "status"])
    for (model, version), doc in sorted(status.models.items()):
        events.add_metric([model, version], doc.get("events_total", 0))
        for value in STATUS_VALUES:
            states.add_metric([model, version, value], int(doc.get("status") == value))
    return [events, states]


def metrics_registry(counters: Callable[[], PipelineCounters], status: StatusBoard,
                     ground_truth: Callable[[], GroundTruthCounters | None] = lambda: None,
                     history: WindowHistory | None = None, *extra: Collector) -> CollectorRegistry:
    """This app's registry: the counters, the models' status, the last closed windows, then ``extra``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FamiliesCollector(lambda: counter_families(counters(), ground_truth())))
    registry.register(FamiliesCollector(lambda: model_families(status)))
    if history is not None:
        registry.register(FamiliesCollector(lambda: window_families(history)))
    for collector in extra:
        registry.register(collector)
    return registry


def render(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def render_metrics(counters: PipelineCounters, status: StatusBoard,
                   ground_truth: GroundTruthCounters | None = None, history: WindowHistory | None = None) -> str:
    """The exposition text of these counters and views (tests and benches; the worker keeps one registry)."""
    return render(metrics_registry(lambda: counters, status, lambda: ground_truth, history))
