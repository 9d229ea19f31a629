"""``concept_drift_detected`` and ``concept_drift_suspected`` alerts from a window summary's ``concept`` section.

One ``concept_drift_detected`` alert per detection made while the window was open, one
``concept_drift_suspected`` (severity ``warning``) per warning of a detector that has a warning level
(DDM; :mod:`streamer.performance.concept`); ``subject`` the detector (``adwin``, ``ddm``,
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
    for change in concept.get("suspected", []):
        before, after = change["error_rate_before"], change["error_rate_after"]
        alerts.append(make_alert(
            "concept_drift_suspected", "warning", subject=concept["detector"], value=after, threshold=before,
            message=(f"{concept['detector']} warning: error rate from {before:.3g} to {after:.3g} "
                     f"since {change['change_point']}"),
            details={"change_point": change["change_point"], "error_rate_before": before,
                     "error_rate_after": after, "detected_at": change["detected_at"]},
            **common))
    suspected = len(alerts)
    for change in changes:
        before, after = change["error_rate_before"], change["error_rate_after"]
        alerts.append(make_alert(
            "concept_drift_detected", "critical", subject=concept["detector"], value=after, threshold=before,
            message=(f"{concept['detector']}: error rate changed from {before:.3g} to {after:.3g} "
                     f"around {change['change_point']}"),
            details={"change_point": change["change_point"], "error_rate_before": before,
                     "error_rate_after": after, "detected_at": change["detected_at"]},
            **common))
    if len({a["id"] for a in alerts[suspected:]}) < len(alerts) - suspected:
        for alert, change in zip(alerts[suspected:], changes, strict=True):
            alert["id"] = make_alert("concept_drift_detected", "critical", subject=f"{concept['detector']}@"
                                     f"{change['change_point']}", value=None, threshold=None, message="",
                                     details={}, **common)["id"]
    return alerts


def label_drift_alerts(summary: dict[str, Any], created_at_s: float) -> list[dict[str, Any]]:
    """``concept_drift_suspected`` or ``_detected`` with subject ``label_drift`` when the window's labels moved
    from the reference's (:mod:`streamer.performance.label_drift`); the change point is the window's start and
    the error rates are the reference's and the window's."""
    performance = summary.get("performance") or {}
    drift = performance.get("label_drift") or {}
    if drift.get("status") not in ("suspected", "detected"):
        return []
    reference = performance.get("reference", {})
    before = 1.0 - reference["accuracy"] if "accuracy" in reference else None
    after = 1.0 - performance["accuracy"] if "accuracy" in performance else None
    return [make_alert(
        f"concept_drift_{drift['status']}", "critical" if drift["status"] == "detected" else "warning",
        model=summary["model"], version=summary["version"], window_start=summary["window_start"],
        window_end=summary["window_end"], created_at_s=created_at_s, subject="label_drift",
        value=drift["tvd"], threshold=None,
        message=f"label distribution moved from the reference: TVD {drift['tvd']:.3f} over {drift['count']} labels",
        details={"change_point": summary["window_start"], "error_rate_before": before, "error_rate_after": after,
                 "tvd": drift["tvd"], "chi2_pvalue": drift["chi2_pvalue"], "labelled": drift["count"],
                 "shares": drift["shares"], "reference_shares": drift["reference_shares"]})]
