"""``concept_drift_detected`` alerts from a window summary's ``concept`` section.

One alert per detection made while the window was open; ``subject`` the detector (``adwin``, ``ddm``,
``page_hinkley``). Two detections in one window would share one id, so the id's subject also carries the
change point when there are several.
"""

from __future__ import annotations

from typing import Any

from streamer.alerts.alert import make_alert


def concept_alerts(summary: dict[str, Any], created_at_s: float) -> list[dict[str, Any]]:
    concept = summary.get("concept") or {}
    changes = concept.get("changes", [])
    common = {"model": summary["model"], "version": summary["version"], "window_start": summary["window_start"],
              "window_end": summary["window_end"], "created_at_s": created_at_s}
    alerts = []
    for change in changes:
        before, after = change["error_rate_before"], change["error_rate_after"]
        alerts.append(make_alert(
            "concept_drift_detected", "critical", subject=concept["detector"], value=after, threshold=before,
            message=(f"{concept['detector']}: error rate changed from {before:.3g} to {after:.3g} "
                     f"around {change['change_point']}"),
            details={"change_point": change["change_point"], "error_rate_before": before,
                     "error_rate_after": after, "detected_at": change["detected_at"]},
            **common))
    if len({a["id"] for a in alerts}) < len(alerts):
        for alert, change in zip(alerts, changes, strict=True):
            alert["id"] = make_alert("concept_drift_detected", "critical", subject=f"{concept['detector']}@"
                                     f"{change['change_point']}", value=None, threshold=None, message="",
                                     details={}, **common)["id"]
    return alerts
