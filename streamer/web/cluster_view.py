"""What every replica knows of the whole cluster, from the status, windows and alerts topics.

Each handler takes one record of its topic; the web API only reads these objects.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

import orjson


def _model_key(key: bytes | None, doc: dict[str, Any]) -> tuple[str, str]:
    return (str(doc.get("model")), str(doc.get("version")))


class StatusBoard:
    """The latest status of every model and version (compacted status topic)."""

    def __init__(self) -> None:
        self.models: dict[tuple[str, str], dict[str, Any]] = {}

    def handle_record(self, key: bytes | None, value: bytes | None, timestamp_s: float) -> None:
        if value is None:
            return
        doc = orjson.loads(value)
        current = self.models.get(_model_key(key, doc))
        # Updates from a replica that lost the partition may arrive late: keep the newest.
        if current is None or doc.get("updated_at_s", 0) >= current.get("updated_at_s", 0):
            self.models[_model_key(key, doc)] = doc


class WindowHistory:
    """Closed-window summaries per model and version, at most ``limit`` each.

    Kept as the JSON bytes they arrived in and parsed only when asked for: a parsed summary of a
    model with 20 features took 4.4 times its bytes, and every replica keeps every model's. What the
    model list shows of each window (its events, the features it found drifted) is kept beside them.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.windows: dict[tuple[str, str], dict[float, bytes]] = {}
        self.briefs: dict[tuple[str, str], dict[float, dict[str, Any]]] = {}

    def handle_record(self, key: bytes | None, value: bytes | None, timestamp_s: float) -> None:
        if value is None:
            return
        doc = orjson.loads(value)
        model_key, start = _model_key(key, doc), doc["window_start_s"]
        history = self.windows.setdefault(model_key, {})
        if doc.get("update") == "performance":  # labels joined after the close: merge into the window
            stored = history.get(start)
            doc = {**(orjson.loads(stored) if stored else {}), **{k: v for k, v in doc.items() if k != "update"}}
            value = orjson.dumps(doc)
        history[start] = value  # a repeat after a restart replaces, not duplicates
        briefs = self.briefs.setdefault(model_key, {})
        briefs[start] = {"window_start_s": start, "events": doc.get("events"),
                         "drift": {"drifted_features": (doc.get("drift") or {}).get("drifted_features")}}
        while len(history) > self.limit:
            oldest = min(history)
            del history[oldest]
            briefs.pop(oldest, None)

    def latest(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(model, version, newest closed window) of every model version that has one."""
        return [(model, version, orjson.loads(history[max(history)]))
                for (model, version), history in self.windows.items() if history]

    def newest(self, model: str, version: str, limit: int) -> list[dict[str, Any]]:
        return [orjson.loads(stored) for stored in self.newest_json(model, version, limit)]

    def newest_json(self, model: str, version: str, limit: int) -> list[bytes]:
        """The newest ``limit`` summaries, newest first, as the JSON bytes they are kept in."""
        history = self.windows.get((model, version))
        if not history:
            return []
        return [history[start] for start in sorted(history, reverse=True)[:limit]]


class AlertLog:
    """Recent alerts, newest last, each id once; which of them a ``resolved`` alert has closed."""

    def __init__(self, limit: int) -> None:
        self.alerts: deque[dict[str, Any]] = deque(maxlen=limit)
        self._ids: dict[str, None] = {}
        self.resolved: OrderedDict[str, None] = OrderedDict()  # ids named by details.resolves
        self.limit = limit

    def handle_record(self, key: bytes | None, value: bytes | None, timestamp_s: float) -> None:
        if value is None:
            return
        alert = orjson.loads(value)
        if alert.get("id") in self._ids:
            return
        self._ids[alert["id"]] = None
        resolves = (alert.get("details") or {}).get("resolves") if alert.get("kind") == "resolved" else None
        if isinstance(resolves, str):
            self.resolved[resolves] = None
            while len(self.resolved) > 2 * self.limit:
                self.resolved.popitem(last=False)
        if len(self._ids) > 2 * self.limit:
            for stale in list(self._ids)[: self.limit]:
                del self._ids[stale]
        self.alerts.append(alert)

    def is_open(self, alert: dict[str, Any]) -> bool:
        return alert["kind"] != "resolved" and alert["id"] not in self.resolved

    def query(self, model: str | None, kind: str | None, limit: int, only_open: bool = False) -> list[dict[str, Any]]:
        found = []
        for alert in reversed(self.alerts):
            if only_open and not self.is_open(alert):
                continue
            if (model is None or alert["model"] == model) and (kind is None or alert["kind"] == kind):
                found.append(alert)
                if len(found) >= limit:
                    break
        return found
