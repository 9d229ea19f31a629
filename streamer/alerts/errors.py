"""``error_rate_high`` from a closed window: see :mod:`streamer.stats.error_rate` for the decision."""

from __future__ import annotations

from streamer.alerts.alert import make_alert
from streamer.alerts.rules import Alert, RuleInput
from streamer.stats.error_rate import error_verdict


def error_rate_alerts(rule: RuleInput) -> list[Alert]:
    summary = rule.summary
    verdict = error_verdict(summary["errors"], summary["events"], history=rule.history.errors_and_events(),
                            threshold=rule.settings.error_rate_threshold, alpha=rule.settings.ops_alpha)
    if verdict is None or not verdict.high:
        return []
    details = {"error_rate": verdict.error_rate, "errors": verdict.errors, "events": verdict.events,
               "limit": verdict.limit, "pvalue": verdict.pvalue}
    if verdict.baseline is not None:
        details["baseline_rate"] = verdict.baseline
    return [make_alert(
        "error_rate_high", "critical", value=verdict.error_rate, threshold=verdict.limit,
        message=f"{verdict.errors} of {verdict.events} requests failed ({verdict.error_rate:.1%}), "
                f"above {verdict.limit:.1%}", details=details, **rule.common())]
