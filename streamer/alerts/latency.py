"""``latency_high`` from a closed window: see :mod:`streamer.stats.latency` for the decision."""

from __future__ import annotations

from streamer.alerts.alert import make_alert
from streamer.alerts.rules import Alert, RuleInput
from streamer.stats.latency import PERCENTILES, latency_verdict


def latency_alerts(rule: RuleInput) -> list[Alert]:
    sketch = rule.window.latency_ms
    values = rule.summary.get("latency_ms") or {}
    settings = rule.settings
    thresholds = {"p50": settings.latency_p50_threshold_ms, "p95": settings.latency_p95_threshold_ms,
                  "p99": settings.latency_p99_threshold_ms}
    alerts = []
    for name in PERCENTILES:
        value = values.get(name)
        if value is None:
            continue
        verdict = latency_verdict(
            name, value, n=sketch.count, above=lambda x: round(sketch.count * (1.0 - sketch.cdf(x))),
            history_ms=rule.history.latencies(name), threshold_ms=thresholds[name], alpha=settings.ops_alpha,
            min_ratio=settings.latency_min_ratio, min_history=settings.ops_min_history_windows)
        if verdict is None or not verdict.high:
            continue
        reference = (f"threshold {verdict.threshold_ms:g} ms" if verdict.threshold_ms is not None
                     else f"baseline {verdict.baseline_ms:.3g} ms")
        details = {"value_ms": value, "limit_ms": verdict.limit_ms, "pvalue": verdict.pvalue,
                   "events": sketch.count}
        if verdict.threshold_ms is not None:
            details["threshold_ms"] = verdict.threshold_ms
        else:
            details["baseline_ms"] = verdict.baseline_ms
            details["ratio"] = value / verdict.baseline_ms if verdict.baseline_ms else None
        alerts.append(make_alert(
            "latency_high", "critical", subject=name, value=value, threshold=verdict.limit_ms,
            message=f"latency {name} {value:.3g} ms, above its limit {verdict.limit_ms:.3g} ms ({reference})",
            details=details, **rule.common()))
    return alerts
