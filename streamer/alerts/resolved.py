"""``resolved`` follow-ups: an open alert's condition has cleared (CONTRACT 4.4, ``details.resolves``).

A model's state keeps its open conditions, keyed by kind and subject, with the id of the alert that
opened them. A condition that a closed window does not raise again counts a clean window; after
``CLEAN_WINDOWS`` of them (drift: 3 in a row, since a drifted stream often tests clean once by
chance; the rest: 1) a ``resolved`` alert names the opening alert's id. A volume condition counts only
full windows (the ones its rule judges). A condition raised again is open again with no clean windows.

>>> opened = {"id": "a1", "kind": "latency_high", "subject": "p99"}
>>> summary = {"model": "m", "version": "1", "window_start": "s", "window_end": "e", "events": 10}
>>> book = {}
>>> follow_ups(book, [opened], summary, full=True, created_at_s=0.0), list(book)
([], ['latency_high\\x1fp99'])
>>> [(a["kind"], a["subject"], a["details"]["resolves"]) for a in follow_ups(book, [], summary, True, 0.0)]
[('resolved', 'p99', 'a1')]
"""

from __future__ import annotations

from typing import Any

from streamer.alerts.alert import make_alert

CLEAN_WINDOWS = {"data_drift_suspected": 3, "data_drift_detected": 3, "prediction_drift_detected": 3}
FULL_WINDOWS_ONLY = frozenset({"throughput_anomaly"})
#: Kinds that never get a window-based follow-up (data_missing resolves when data returns).
NOT_RESOLVED_BY_WINDOWS = frozenset({"data_missing", "retrain_requested", "resolved"})


def condition_key(alert: dict[str, Any]) -> str:
    return f"{alert['kind']}\x1f{alert['subject'] or ''}"


def resolved_alert(opened: dict[str, Any], *, model: str, version: str, window_start: str | None,
                   window_end: str | None, created_at_s: float, message: str,
                   details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The follow-up of ``opened`` (id, kind, subject); its id is fixed by the opening alert's id."""
    alert = make_alert("resolved", "info", model=model, version=version, window_start=window_start,
                       window_end=window_end, value=None, threshold=None, message=message,
                       details={"resolves": opened["id"], "resolves_kind": opened["kind"], **(details or {})},
                       created_at_s=created_at_s, subject=opened["id"])
    alert["subject"] = opened.get("subject")
    return alert


def follow_ups(open_conditions: dict[str, dict[str, Any]], fired: list[dict[str, Any]], summary: dict[str, Any],
               full: bool, created_at_s: float) -> list[dict[str, Any]]:
    """Update ``open_conditions`` with this window's alerts; the ``resolved`` alerts that are due."""
    fired_keys = set()
    for alert in fired:
        if alert["kind"] in NOT_RESOLVED_BY_WINDOWS:
            continue
        key = condition_key(alert)
        fired_keys.add(key)
        open_conditions[key] = {"id": alert["id"], "kind": alert["kind"], "subject": alert["subject"], "clean": 0}
    resolved = []
    for key, condition in list(open_conditions.items()):
        if key in fired_keys or not summary["events"] or (condition["kind"] in FULL_WINDOWS_ONLY and not full):
            continue
        condition["clean"] += 1
        if condition["clean"] >= CLEAN_WINDOWS.get(condition["kind"], 1):
            del open_conditions[key]
            what = condition["kind"] + (f" ({condition['subject']})" if condition["subject"] else "")
            resolved.append(resolved_alert(
                condition, model=summary["model"], version=summary["version"],
                window_start=summary["window_start"], window_end=summary["window_end"], created_at_s=created_at_s,
                message=f"{what} cleared after {condition['clean']} clean window(s)",
                details={"clean_windows": condition["clean"]}))
    return resolved
