"""Per-model gauges of the last closed window, for Grafana: drift, latency, errors, events.

Label values are bounded: at most ``MAX_MODEL_SERIES`` model versions (those with the newest windows
first) and ``MAX_FEATURE_SERIES`` features per model version (the largest effects first) are
exported; ``streamer_metric_series_dropped`` counts what the caps left out, so a cut is visible.
"""

from __future__ import annotations

from typing import Any

from prometheus_client.core import GaugeMetricFamily

from streamer.web.cluster_view import WindowHistory

MAX_MODEL_SERIES = 500
MAX_FEATURE_SERIES = 50
LATENCY_KEYS = ("p50", "p90", "p95", "p99", "max")


def _effect(metrics: dict[str, Any]) -> float | None:
    """The decision rule's effect size: binned Wasserstein in reference stds (numeric) or TVD (categorical)."""
    value = metrics.get("wasserstein_binned_norm", metrics.get("tvd"))
    return value if isinstance(value, int | float) else None


def _gauge(name: str, help_text: str, labels: list[str], samples: list[tuple[list[str], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


def window_families(history: WindowHistory) -> list[GaugeMetricFamily]:
    """Gauges of the newest closed window of each model version.

    >>> import orjson
    >>> history = WindowHistory(5)
    >>> history.handle_record(b"m", orjson.dumps({"model": "m", "version": "1", "window_start_s": 0.0, "events": 3,
    ...     "error_rate": 0.0, "latency_ms": {"p95": 12.5}, "drift": {"drifted_share": 0.5},
    ...     "features": {"a": {"tvd": 0.3, "status": "detected"}}}), 0.0)
    >>> [(s.name, s.labels, s.value) for family in window_families(history)[:3] for s in family.samples]
    [('streamer_window_events', {'model': 'm', 'version': '1'}, 3), ('streamer_window_error_rate', {'model': 'm', 'version': '1'}, 0.0), ('streamer_window_latency_ms', {'model': 'm', 'version': '1', 'quantile': 'p95'}, 12.5)]
    """
    newest = [(last["window_start_s"], model, version, last) for model, version, last in history.latest()]
    newest.sort(key=lambda item: (-item[0], item[1], item[2]))
    dropped = max(0, len(newest) - MAX_MODEL_SERIES)
    events: list[tuple[list[str], float]] = []
    errors: list[tuple[list[str], float]] = []
    latency: list[tuple[list[str], float]] = []
    drifted: list[tuple[list[str], float]] = []
    effects: list[tuple[list[str], float]] = []
    end: list[tuple[list[str], float]] = []
    for _, model, version, window in newest[:MAX_MODEL_SERIES]:
        labels = [model, version]
        events.append((labels, window.get("events") or 0))
        end.append((labels, window.get("window_end_s") or window["window_start_s"]))
        if isinstance(window.get("error_rate"), int | float):
            errors.append((labels, window["error_rate"]))
        for key in LATENCY_KEYS:
            value = (window.get("latency_ms") or {}).get(key)
            if isinstance(value, int | float):
                latency.append(([*labels, key], value))
        if window.get("drift"):
            drifted.append((labels, window["drift"].get("drifted_share") or 0.0))
        ranked = sorted(((e, n) for n, m in (window.get("features") or {}).items() if (e := _effect(m)) is not None),
                        key=lambda item: -item[0])
        dropped += max(0, len(ranked) - MAX_FEATURE_SERIES)
        effects += [([*labels, n], e) for e, n in ranked[:MAX_FEATURE_SERIES]]
    mv = ["model", "version"]
    return [
        _gauge("streamer_window_events", "events in the model's last closed window", mv, events),
        _gauge("streamer_window_error_rate", "share of failed requests in the last closed window", mv, errors),
        _gauge("streamer_window_latency_ms", "latency percentiles (ms) of the last closed window",
               [*mv, "quantile"], latency),
        _gauge("streamer_window_drifted_share", "share of features drifted in the last closed window", mv, drifted),
        _gauge("streamer_feature_drift_effect", "per-feature drift effect size of the last closed window "
               "(numeric: Wasserstein in reference stds; categorical: TVD)", [*mv, "feature"], effects),
        _gauge("streamer_window_end_seconds", "end of the model's last closed window (unix seconds)", mv, end),
        _gauge("streamer_metric_series_dropped", "model or feature series left out by the label caps", [],
               [([], dropped)]),
    ]
