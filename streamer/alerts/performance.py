"""``model_performance_degraded`` alerts from a window summary's ``performance`` and ``performance_estimate``.

The decision is made when the summary is built (:func:`streamer.performance.degraded.degraded_metrics`);
this module only words it. One alert per degraded metric, ``subject`` the metric, ``details.source``
``realized`` (from joined labels) or ``estimated`` (from scores, before labels; ``labelled`` is then 0).
"""

from __future__ import annotations

from typing import Any

from streamer.alerts.alert import make_alert
from streamer.alerts.concept import label_drift_alerts

_WHY = {"floor": "below its floor", "ceiling": "above its ceiling", "reference": "significantly worse than the reference"}


def performance_alerts(summary: dict[str, Any], created_at_s: float) -> list[dict[str, Any]]:
    """One ``model_performance_degraded`` alert per finding; realized findings win over estimated ones."""
    common = {"model": summary["model"], "version": summary["version"], "window_start": summary["window_start"],
              "window_end": summary["window_end"], "created_at_s": created_at_s}
    alerts, seen = [], set()
    for section, source in (("performance", "realized"), ("performance_estimate", "estimated")):
        part = summary.get(section) or {}
        for finding in part.get("degraded", []):
            metric = finding["metric"]
            if metric in seen:  # the same alert id: the realized figure is the better evidence
                continue
            seen.add(metric)
            labelled = int(part.get("labelled", 0)) if source == "realized" else 0
            rows = labelled if source == "realized" else int(part.get("scored", 0))
            reference = finding["reference"]
            against = f" (reference {reference:.4g})" if reference is not None else ""
            alerts.append(make_alert(
                "model_performance_degraded", "critical" if source == "realized" else "warning",
                subject=metric, value=finding["value"], threshold=finding["threshold"],
                message=(f"{source} {metric} {finding['value']:.4g}{against} is {_WHY[finding['reason']]} "
                         f"over {rows} {'labelled' if source == 'realized' else 'scored'} rows"),
                details={"source": source, "value": finding["value"], "reference": reference, "labelled": labelled,
                         "reason": finding["reason"], "pvalue": finding["pvalue"], "rows": rows},
                **common))
    return alerts


def ground_truth_alerts(summary: dict[str, Any], created_at_s: float) -> list[dict[str, Any]]:
    """Every alert a window summary's ground-truth sections warrant: degraded performance and label drift."""
    return performance_alerts(summary, created_at_s) + label_drift_alerts(summary, created_at_s)
