"""``data_missing``: a model that was sending has been silent for ``STREAMER_MISSING_AFTER_SECONDS``.

Driven by the tick stream (each replica ticks only the partitions it owns, so the owner raises it),
on wall-clock time since the model's last accepted event. Raised once per silence: the alert's
identity is the model and the moment it went silent, stored in the model's state so a restart or a
rebalance repeats the same id rather than a new alert; a ``resolved`` alert follows when data returns.

>>> alert = missing_alert("fraud", "1", last_seen_s=1000.0, now_s=1400.0, missing_after_s=300.0)
>>> alert["kind"], alert["details"]["silent_for_s"], alert["details"]["last_event_at"]
('data_missing', 400.0, '1970-01-01T00:16:40.000Z')
>>> missing_alert("fraud", "1", last_seen_s=1000.0, now_s=1200.0, missing_after_s=300.0) is None
True
"""

from __future__ import annotations

import math
from typing import Any

from streamer.alerts.alert import make_alert
from streamer.alerts.resolved import resolved_alert
from streamer.events.timestamps import format_timestamp
from streamer.windows.model_state import ModelState


def missing_alert(model: str, version: str, *, last_seen_s: float, now_s: float,
                  missing_after_s: float) -> dict[str, Any] | None:
    """The alert when the silence has lasted long enough, else None."""
    if not math.isfinite(last_seen_s) or now_s - last_seen_s < missing_after_s:
        return None
    silent_for_s = round(now_s - last_seen_s, 3)
    last_event_at = format_timestamp(last_seen_s)
    return make_alert(
        "data_missing", "critical", model=model, version=version, window_start=last_event_at,
        window_end=format_timestamp(now_s), value=silent_for_s, threshold=missing_after_s,
        message=f"no events for {silent_for_s:.0f} s (since {last_event_at})",
        details={"last_event_at": last_event_at, "silent_for_s": silent_for_s}, created_at_s=now_s)


def check_silence(state: ModelState, now_s: float, missing_after_s: float) -> dict[str, Any] | None:
    """The model's data_missing alert if it is due and not yet raised for this silence (remembered in the state)."""
    if state.missing_alert_id is not None:
        return None
    alert = missing_alert(state.model, state.version, last_seen_s=state.last_seen_wall_s, now_s=now_s,
                          missing_after_s=missing_after_s)
    if alert is not None:
        state.missing_alert_id = alert["id"]
    return alert


def check_return(state: ModelState, now_s: float) -> dict[str, Any] | None:
    """The ``resolved`` alert when data arrives for a model whose silence raised data_missing."""
    if state.missing_alert_id is None:
        return None
    alert = data_returned(state.model, state.version, state.missing_alert_id, last_seen_s=state.last_seen_wall_s,
                          now_s=now_s)
    state.missing_alert_id = None
    return alert


def data_returned(model: str, version: str, missing_id: str, *, last_seen_s: float, now_s: float) -> dict[str, Any]:
    """The ``resolved`` follow-up of the data_missing alert ``missing_id``."""
    return resolved_alert(
        {"id": missing_id, "kind": "data_missing", "subject": None}, model=model, version=version,
        window_start=format_timestamp(last_seen_s), window_end=format_timestamp(now_s), created_at_s=now_s,
        message=f"data returned after {now_s - last_seen_s:.0f} s of silence",
        details={"silent_for_s": round(now_s - last_seen_s, 3)})
