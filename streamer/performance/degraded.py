"""The ``model_performance_degraded`` decision: a metric below its floor, or significantly below the reference.

For each metric a window has, against the labelled reference's value of the same metric::

    accuracy (and the estimated accuracy): one-sided two-proportion z-test, pooled
    roc_auc: z-test with Hanley and McNeil's standard error of each AUC (Radiology 143, 1982)
    mae:     z-test of the window's mean absolute error against the reference's, each with its own
             spread (from the sums of absolute and squared errors)
    degraded when  p-value < alpha  and  the metric is worse by at least min_drop
                   (points of accuracy or AUC; a share of the reference MAE for mae)

and, whatever the reference, when ``floors[metric]`` (higher is better) or ``ceilings[metric]`` (lower is
better) is crossed. Nothing is decided before ``min_labelled`` labelled rows.

Why a test on counts: the accuracy of n labelled rows wanders by ``sqrt(p (1 - p) / n)`` around the
model's true accuracy, 0.55 points at p = 0.9 and n = 3,000, so a fixed "two points below the reference"
alarms on noise over a few hundred labels and is needlessly slow over tens of thousands. The z-test uses
the window's labelled count (and the reference's, whose own figure is also a sample). Why a minimum drop:
with hundreds of thousands of labels the test flags drops too small to act on. With ``alpha = 0.005`` and
a 1-point minimum drop, against a 10,000-row reference at 90% accuracy (simulated, 4,000 windows each),
stationary windows of 3,000 to 10,000 labelled rows alarm in 0.3% to 0.45% of windows, and a 2-point drop
is caught in 71% of windows of 3,000 labelled rows, 87% of 5,000 and 97% of 10,000 (``make bench`` prints
its own run). ``alpha = 0.001`` would halve the false alarms and catch 53%, 74% and 92%.

>>> policy = PerformancePolicy()
>>> ref = {"labelled": 10_000, "accuracy": 0.90}
>>> [f["metric"] for f in degraded_metrics({"labelled": 5000, "accuracy": 0.87}, ref, policy)]
['accuracy']
>>> degraded_metrics({"labelled": 5000, "accuracy": 0.895}, ref, policy)
[]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import norm

HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "roc_auc", "r2")
LOWER_IS_BETTER = ("mae", "rmse", "mape", "log_loss")


@dataclass(frozen=True)
class PerformancePolicy:
    alpha: float = 0.005
    min_drop: float = 0.01  # accuracy and AUC points; for MAE a share of the reference's
    min_labelled: int = 200
    floors: Mapping[str, float] = field(default_factory=dict)
    ceilings: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1 or self.min_drop < 0 or self.min_labelled < 1:
            raise ValueError("performance policy needs 0 < alpha < 1, min_drop >= 0, min_labelled >= 1")
        unknown = (set(self.floors) - set(HIGHER_IS_BETTER)) | (set(self.ceilings) - set(LOWER_IS_BETTER))
        if unknown:
            raise ValueError(f"floors take {', '.join(HIGHER_IS_BETTER)}; ceilings take "
                             f"{', '.join(LOWER_IS_BETTER)}; got {', '.join(sorted(unknown))}")


def accuracy_pvalue(window: float, n_window: int, reference: float, n_reference: int) -> float:
    """One-sided p-value that the window's accuracy is below the reference's (pooled two-proportion z-test).

    >>> f"{accuracy_pvalue(0.88, 5000, 0.90, 10_000):.1e}"
    '9.2e-05'
    """
    pooled = (window * n_window + reference * n_reference) / (n_window + n_reference)
    spread = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_window + 1.0 / n_reference))
    if spread == 0:
        return 0.0 if window < reference else 1.0
    return float(norm.sf((reference - window) / spread))


def auc_stderr(auc: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil's standard error of an AUC from ``positives`` and ``negatives`` rows."""
    q1, q2 = auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc)
    variance = (auc * (1.0 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc))
    return math.sqrt(max(variance, 0.0) / (positives * negatives))


def _finding(metric: str, value: float, reference: float | None, threshold: float, reason: str,
             pvalue: float | None = None) -> dict[str, Any]:
    return {"metric": metric, "value": value, "reference": reference, "threshold": threshold,
            "reason": reason, "pvalue": pvalue}


def _against_reference(metric: str, window: Mapping[str, Any], reference: Mapping[str, Any],
                       policy: PerformancePolicy) -> dict[str, Any] | None:
    value, base = window[metric], reference[metric]
    n, n_ref = int(window["labelled"]), int(reference["labelled"])
    if metric == "accuracy":
        pvalue, drop = accuracy_pvalue(value, n, base, n_ref), base - value
        threshold = base - policy.min_drop
    elif metric == "roc_auc":
        sizes = (window.get("positives"), window.get("negatives"), reference.get("positives"),
                 reference.get("negatives"))
        if not all(sizes):
            return None
        p_w, n_w, p_r, n_r = (int(x) for x in sizes)  # type: ignore[arg-type]  # checked just above
        spread = math.hypot(auc_stderr(value, p_w, n_w), auc_stderr(base, p_r, n_r))
        pvalue = float(norm.sf((base - value) / spread)) if spread else float(value < base)
        drop, threshold = base - value, base - policy.min_drop
    else:  # mae: larger is worse
        var_w = max(window["rmse"] ** 2 - value**2, 0.0) / n
        var_r = max(reference["rmse"] ** 2 - base**2, 0.0) / n_ref
        spread = math.sqrt(var_w + var_r)
        pvalue = float(norm.sf((value - base) / spread)) if spread else float(value > base)
        drop, threshold = (value - base) / base if base else math.inf, base * (1.0 + policy.min_drop)
    if pvalue < policy.alpha and drop >= policy.min_drop:
        return _finding(metric, value, base, threshold, "reference", pvalue)
    return None


def degraded_metrics(window: Mapping[str, Any], reference: Mapping[str, Any] | None,
                     policy: PerformancePolicy) -> list[dict[str, Any]]:
    """Findings for a window's ``performance`` (or ``performance_estimate``, with ``labelled`` set to the
    scored rows) against the reference's; each names the metric, its value, the reference's, the
    threshold crossed, why (``floor``, ``ceiling`` or ``reference``) and the test's p-value."""
    if int(window.get("labelled", 0)) < policy.min_labelled:
        return []
    findings = []
    flagged = set()
    for metric, floor in policy.floors.items():
        if metric in window and window[metric] < floor:
            findings.append(_finding(metric, window[metric], (reference or {}).get(metric), floor, "floor"))
            flagged.add(metric)
    for metric, ceiling in policy.ceilings.items():
        if metric in window and window[metric] > ceiling:
            findings.append(_finding(metric, window[metric], (reference or {}).get(metric), ceiling, "ceiling"))
            flagged.add(metric)
    if reference and int(reference.get("labelled", 0)) > 0:
        for metric in ("accuracy", "roc_auc", "mae"):
            if metric in flagged or metric not in window or metric not in reference:
                continue
            if metric == "mae" and "rmse" not in reference:
                continue
            finding = _against_reference(metric, window, reference, policy)
            if finding:
                findings.append(finding)
    return findings
