"""The alert rules run at a window's close, composed: one tuple of rule functions, their follow-ups,
and what the alerts mean for the model's status. Pure: the pipeline passes state in and sends what comes out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streamer.alerts.drift import drift_alerts
from streamer.alerts.errors import error_rate_alerts
from streamer.alerts.latency import latency_alerts
from streamer.alerts.performance import ground_truth_alerts
from streamer.alerts.quality import quality_alerts
from streamer.alerts.resolved import follow_ups
from streamer.alerts.rules import Alert, Rule, RuleInput
from streamer.alerts.throughput import throughput_alerts
from streamer.config import Settings
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.model_state import ModelState


def _drift_rule(rule: RuleInput) -> list[Alert]:
    return drift_alerts(rule.summary, rule.created_at_s)


def _ground_truth_rule(rule: RuleInput) -> list[Alert]:
    return ground_truth_alerts(rule.summary, rule.created_at_s)


#: The rules run at every window close, in this order (each one module in streamer/alerts/).
ALERT_RULES: tuple[Rule, ...] = (_drift_rule, _ground_truth_rule, latency_alerts, error_rate_alerts,
                                 throughput_alerts, quality_alerts)

#: The model status an open alert of each kind implies at least (drift kinds set it through the summary).
STATUS_OF_ALERT = {"latency_high": "critical", "error_rate_high": "critical", "throughput_anomaly": "warning",
                   "data_quality": "warning", "model_performance_degraded": "critical",
                   "concept_drift_detected": "critical", "concept_drift_suspected": "warning"}
_STATUS_ORDER = ("ok", "warning", "critical")


def worst_status(status: str, alert_kinds: Iterable[str]) -> str:
    """``status`` raised to what the alert kinds imply; ``baseline`` and ``no_data`` stay.

    >>> worst_status("ok", ["throughput_anomaly"]), worst_status("warning", ["latency_high"]), worst_status("ok", [])
    ('warning', 'critical', 'ok')
    """
    if status not in _STATUS_ORDER:
        return status
    implied = [STATUS_OF_ALERT[k] for k in alert_kinds if k in STATUS_OF_ALERT]
    return max([status, *implied], key=_STATUS_ORDER.index)


def window_alerts(state: ModelState, summary: dict[str, Any], window: WindowAccumulator, *, full: bool,
                  settings: Settings, now_s: float) -> list[Alert]:
    """Every alert of a closed window and the ``resolved`` follow-ups it allows.

    Updates the model's operational history and open conditions, and the summary's ``alerts`` and
    ``status``; ``full``: the window was closed by the watermark right after the model's previous one.
    """
    rule_input = RuleInput(summary, window, state.ops, full, settings, now_s)
    alerts = [alert for rule in ALERT_RULES for alert in rule(rule_input)]
    alerts += follow_ups(state.open_conditions, alerts, summary, full, now_s)
    state.ops.update(summary, full, frozenset(alert["kind"] for alert in alerts))
    summary["alerts"] = [{"kind": a["kind"], "subject": a["subject"], "id": a["id"]} for a in alerts]
    summary["status"] = worst_status(summary["status"], (a["kind"] for a in alerts))
    return alerts


def open_alerts(state: ModelState) -> list[dict[str, Any]]:
    """The model's alerts whose condition has not cleared yet, for its status."""
    found = [{"kind": c["kind"], "subject": c["subject"], "id": c["id"]} for c in state.open_conditions.values()]
    if state.missing_alert_id is not None:
        found.append({"kind": "data_missing", "subject": None, "id": state.missing_alert_id})
    return found
