"""The front page's per-model extras: recent window counts, open alerts and the last alert.

Computed in one pass over the alert log, so ``/api/v1/models`` stays fast with hundreds of models.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SPARKLINE_WINDOWS = 30
LAST_ALERT_FIELDS = ("id", "kind", "severity", "subject", "message", "window_end", "created_at")


def is_open(alert: dict[str, Any], resolved: set[str], last_window_end: str | None) -> bool:
    """An alert is open when it says so (``open``); otherwise while unresolved and about the latest window.

    >>> is_open({"id": "a", "kind": "latency_high", "window_end": "t2"}, set(), "t2")
    True
    >>> is_open({"id": "a", "kind": "latency_high", "window_end": "t1"}, set(), "t2")
    False
    >>> is_open({"id": "a", "kind": "latency_high", "window_end": "t2"}, {"a"}, "t2")
    False
    >>> is_open({"id": "a", "kind": "data_missing", "open": True, "window_end": "t1"}, set(), "t2")
    True
    """
    if alert.get("kind") == "resolved":
        return False
    if "open" in alert:
        return bool(alert["open"])
    if alert.get("id") in resolved:
        return False
    end = alert.get("window_end")
    return end is None or last_window_end is None or str(end) >= str(last_window_end)


def alert_overview(alerts: Iterable[dict[str, Any]],
                   last_window_end: dict[tuple[str, str], str | None]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (model, version): ``open_alerts`` and ``last_alert``, from the alert log (oldest first)."""
    ordered = list(alerts)
    resolved = {str(a.get("details", {}).get("resolves")) for a in ordered if a.get("kind") == "resolved"}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for alert in ordered:
        key = (str(alert.get("model")), str(alert.get("version")))
        entry = found.setdefault(key, {"open_alerts": 0, "last_alert": None})
        entry["last_alert"] = {k: alert.get(k) for k in LAST_ALERT_FIELDS}
        if is_open(alert, resolved, last_window_end.get(key)):
            entry["open_alerts"] += 1
    return found


def recent_windows(windows: Iterable[dict[str, Any]], limit: int = SPARKLINE_WINDOWS) -> dict[str, Any]:
    """Events of the newest ``limit`` closed windows, oldest first (a sparkline's points), and the
    features the newest one found drifted.

    >>> recent_windows([{"window_start_s": 20, "events": 5, "drift": {"drifted_features": ["a"]}},
    ...                 {"window_start_s": 10, "events": 3, "drift": None}], 5)
    {'recent_events': [3, 5], 'drifted_features': ['a']}
    """
    ordered = sorted(windows, key=lambda w: w["window_start_s"])[-limit:]
    drift = (ordered[-1].get("drift") or {}) if ordered else {}
    return {"recent_events": [int(w.get("events") or 0) for w in ordered],
            "drifted_features": list(drift.get("drifted_features") or [])}
