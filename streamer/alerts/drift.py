"""Drift alerts from a closed window's summary (:func:`streamer.windows.summary.summarize`)."""

from __future__ import annotations

from typing import Any

from streamer.alerts.alert import make_alert

_FEATURE_METRICS = ("kind", "status", "count", "tvd", "hellinger", "kl_divergence", "js_distance", "psi",
                    "ks_statistic", "ks_pvalue", "wasserstein_norm", "wasserstein_binned_norm", "reference_noise_norm",
                    "chi2_pvalue", "linf", "mean", "reference_mean")


def _compact(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: metrics[k] for k in _FEATURE_METRICS if k in metrics}


def drift_alerts(summary: dict[str, Any], created_at_s: float) -> list[dict[str, Any]]:
    """``data_drift_suspected`` or ``_detected`` and ``prediction_drift_detected``, as the summary warrants."""
    drift = summary.get("drift")
    if not drift:
        return []
    common = {"model": summary["model"], "version": summary["version"], "window_start": summary["window_start"],
              "window_end": summary["window_end"], "created_at_s": created_at_s}
    alerts = []
    features = summary["features"]
    tested = [n for n, m in features.items() if "tvd" in m]
    if drift["status"] in ("suspected", "detected"):
        named = drift["drifted_features"] if drift["status"] == "detected" else (
            drift["drifted_features"] + drift["suspected_features"])
        verb = "drifted" if drift["status"] == "detected" else "may have drifted"
        alerts.append(make_alert(
            f"data_drift_{drift['status']}", "critical" if drift["status"] == "detected" else "warning",
            value=drift["drifted_share"], threshold=1 / len(tested) if tested else None,
            message=f"{len(named)} of {len(tested)} features {verb}: {', '.join(named)}",
            details={"features": {n: _compact(m) for n, m in features.items()},
                     "drifted_share": drift["drifted_share"], "general_drift": drift["general_drift"],
                     "events": summary["events"]},
            **common))
    if drift["prediction_status"] == "detected":
        outputs = summary["outputs"]
        named = drift["drifted_outputs"]
        alerts.append(make_alert(
            "prediction_drift_detected", "critical",
            value=len(named) / max(1, len(outputs)), threshold=None,
            message=f"prediction distribution drifted: {', '.join(named)}",
            details={"outputs": {n: _compact(m) for n, m in outputs.items()}, "events": summary["events"]},
            **common))
    return alerts
