"""Is a window's error rate high: above a fixed threshold, or significantly above the model's baseline?

The baseline rate is the model's pooled rate over its recent windows, smoothed so that a history
without errors still has a small positive rate. A window is flagged when

* its errors are more than chance under the baseline rate (one-sided binomial test at ``alpha``,
  the test rate never below ``MIN_TEST_RATE``),
* the rate passes an effect floor, ``max(min_ratio * baseline, baseline + min_increase)``
  (default: double, and at least 5 points more), and
* there are at least ``MIN_ERRORS`` errors.

With a fixed ``threshold`` the rate must pass it and the test is made against it. So 1 error in 3
events never alarms; 30 in 100 against a 1% baseline does.

>>> error_verdict(1, 3, history=(0, 1000)).high
False
>>> verdict = error_verdict(30, 100, history=(10, 1000))
>>> verdict.high, round(verdict.baseline, 4), verdict.limit
(True, 0.0105, 0.06049)
>>> error_verdict(30, 100, history=(0, 0), threshold=0.2).high, error_verdict(40, 100, history=(0, 0), threshold=0.2).high
(False, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from streamer.stats.counts import binomial_excess_pvalue, smoothed_rate

MIN_ERRORS = 3
MIN_TEST_RATE = 0.001


@dataclass(frozen=True)
class ErrorVerdict:
    errors: int
    events: int
    error_rate: float
    baseline: float | None
    limit: float
    pvalue: float
    high: bool


def error_verdict(
    errors: int, events: int, *, history: tuple[int, int], threshold: float = 0.0, alpha: float = 1e-3,
    min_ratio: float = 2.0, min_increase: float = 0.05, min_history_events: int = 100,
) -> ErrorVerdict | None:
    """``history`` is (errors, events) of the model's recent windows; None without a baseline."""
    if events == 0:
        return None
    rate = errors / events
    if threshold > 0:
        pvalue = binomial_excess_pvalue(errors, events, threshold)
        return ErrorVerdict(errors, events, rate, None, threshold, pvalue,
                            rate > threshold and pvalue < alpha and errors >= MIN_ERRORS)
    history_errors, history_events = history
    if history_events < min_history_events:
        return None
    baseline = smoothed_rate(history_errors, history_events)
    limit = round(max(min_ratio * baseline, baseline + min_increase), 6)
    pvalue = binomial_excess_pvalue(errors, events, max(baseline, MIN_TEST_RATE))
    return ErrorVerdict(errors, events, rate, baseline, limit, pvalue,
                        rate > limit and pvalue < alpha and errors >= MIN_ERRORS)
