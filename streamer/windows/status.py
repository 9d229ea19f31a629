"""A model's status message (CONTRACT 6, the ``model-status`` topic): its state as the API shows it."""

from __future__ import annotations

import math
from typing import Any

from streamer.alerts.compose import open_alerts, worst_status
from streamer.events.timestamps import format_timestamp
from streamer.windows.model_state import ModelState


def model_status(state: ModelState, reference_source: str, now_s: float,
                 open_windows: list[dict[str, Any]]) -> dict[str, Any]:
    """The status of ``state``, whose reference comes from ``reference_source`` (``collecting`` while its
    baseline fills), with the summaries of its open windows."""
    status = state.last_status
    if reference_source == "collecting":
        status = "baseline"
    elif status == "baseline":
        status = "ok"  # the baseline is complete; the next window closes with a real status
    status = "no_data" if state.missing_alert_id else worst_status(status, (a["kind"] for a in open_alerts(state)))
    return {
        "model": state.model, "version": state.version, "status": status,
        "events_total": state.events_total, "late_events": state.late_events,
        "last_window_end": format_timestamp(state.last_window_end_s) if state.last_window_end_s else None,
        "last_event_at": format_timestamp(state.watermark_s) if math.isfinite(state.watermark_s) else None,
        "reference": reference_source, "baseline_windows": state.baseline_windows,
        "open_windows": open_windows, "updated_at": format_timestamp(now_s), "updated_at_s": now_s,
        "active_alerts": open_alerts(state),
    }
