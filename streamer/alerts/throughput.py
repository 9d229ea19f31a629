"""``throughput_anomaly`` (``spike`` or ``drop``): see :mod:`streamer.stats.volume` for the decision.

Only full windows are judged (closed by the watermark, right after the model's previous window):
a model's first window starts part-way through, and the window a silence cuts short is ``data_missing``'s.
"""

from __future__ import annotations

from streamer.alerts.alert import make_alert
from streamer.alerts.rules import Alert, RuleInput
from streamer.stats.volume import volume_verdict


def throughput_alerts(rule: RuleInput) -> list[Alert]:
    if not rule.full:
        return []
    events = rule.summary["events"]
    verdict = volume_verdict(events, history_counts=rule.history.counts(), alpha=rule.settings.ops_alpha,
                             min_history=rule.settings.ops_min_history_windows)
    if verdict is None or verdict.direction is None:
        return []
    return [make_alert(
        "throughput_anomaly", "warning", subject=verdict.direction, value=float(events),
        threshold=float(verdict.expected_low if verdict.direction == "drop" else verdict.expected_high),
        message=f"{events} events in the window, expected {verdict.expected_low} to {verdict.expected_high}",
        details={"events": events, "expected_low": verdict.expected_low, "expected_high": verdict.expected_high,
                 "expected": verdict.expected, "throughput_per_s": rule.summary.get("throughput_per_s")},
        **rule.common())]
