"""``data_quality`` from a closed window: one alert per feature with problems, named by its worst one.

The decision (a test on counts and an effect floor against the reference's own rate) is
:func:`streamer.stats.quality.quality_problems`.
"""

from __future__ import annotations

from typing import Any

from streamer.alerts.alert import make_alert
from streamer.alerts.rules import Alert, RuleInput
from streamer.stats.quality import quality_problems


def quality_alerts(rule: RuleInput) -> list[Alert]:
    flagged = quality_problems(rule.summary.get("data_quality") or {}, alpha=rule.settings.ops_alpha,
                               min_effect=rule.settings.quality_min_effect)
    per_feature: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for feature, problem, figures in flagged:
        per_feature.setdefault(feature, []).append((problem, figures))
    alerts = []
    for feature, problems in per_feature.items():
        problem, worst = max(problems, key=lambda item: item[1]["observed"] - item[1]["reference"])
        alerts.append(make_alert(
            "data_quality", "warning", subject=feature, value=worst["observed"], threshold=worst["reference"],
            message=f"{feature}: {problem.replace('_', ' ')} in {worst['observed']:.1%} of rows "
                    f"(reference {worst['reference']:.1%})",
            details={"problem": problem, "observed": worst["observed"], "reference": worst["reference"],
                     "count": worst["count"], "rows": worst["rows"], "pvalue": worst["pvalue"],
                     "problems": {p: {k: f[k] for k in ("observed", "reference", "count", "rows")}
                                  for p, f in problems}},
            **rule.common()))
    return alerts
