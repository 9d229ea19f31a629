"""Is a window's latency percentile high: above a fixed threshold, or far above the model's own baseline?

The baseline of percentile ``pNN`` is the median of that percentile over the model's recent windows
(:class:`streamer.stats.history.OpsHistory`), in log space, where latency noise is closer to
symmetric. A window's value is *far above* when it passes both

* a spread limit, ``exp(median + K_MAD * 1.4826 * MAD)`` of the log values, which adapts to how
  jittery this model's latency is, and
* a ratio floor, ``min_ratio`` times the baseline (default 2x), so a model with rock-steady latency
  does not alarm on +10%;

and the window holds evidence on counts: more of its events lie above the baseline value than
chance allows (one-sided binomial test at ``alpha``: for p99, 1% of events are expected above the
baseline p99). So one slow request among three events does not raise a p99 alarm, a 10x slowdown of
most requests does, whatever the window size. With a fixed threshold the same count test is made
against the threshold instead of the baseline.

>>> history = [10.0, 11.0, 9.5, 10.5, 10.2]
>>> verdict = latency_verdict("p99", 100.0, n=200, above=lambda x: 200, history_ms=history)
>>> verdict.high, round(verdict.baseline_ms, 1), round(verdict.limit_ms, 1)
(True, 10.2, 20.4)
>>> latency_verdict("p99", 14.0, n=200, above=lambda x: 3, history_ms=history).high
False
>>> latency_verdict("p99", 100.0, n=3, above=lambda x: 1, history_ms=history).high  # 1 slow call of 3
False
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from streamer.stats.counts import binomial_excess_pvalue
from streamer.stats.history import MAD_TO_STD, median_mad

#: The percentiles checked, with their quantile (CONTRACT 4.4 subjects).
PERCENTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
#: How many robust standard deviations above the baseline a value must be.
K_MAD = 5.0


@dataclass(frozen=True)
class LatencyVerdict:
    percentile: str
    value_ms: float
    limit_ms: float
    baseline_ms: float | None  # None with a fixed threshold
    threshold_ms: float | None  # None for the baseline rule
    pvalue: float
    high: bool


def latency_verdict(
    percentile: str, value_ms: float, *, n: int, above: Callable[[float], int], history_ms: list[float],
    threshold_ms: float = 0.0, min_ratio: float = 2.0, alpha: float = 1e-3, min_history: int = 3,
) -> LatencyVerdict | None:
    """The decision for one percentile; None when there is nothing to decide on (no baseline yet).

    ``above(x)`` counts the window's events with latency above ``x``.
    """
    tail = 1.0 - PERCENTILES[percentile]
    if threshold_ms > 0:
        pvalue = binomial_excess_pvalue(above(threshold_ms), n, tail)
        return LatencyVerdict(percentile, value_ms, threshold_ms, None, threshold_ms, pvalue,
                              value_ms > threshold_ms and pvalue < alpha)
    positive = [v for v in history_ms if v > 0]
    if len(positive) < min_history or n == 0:
        return None
    median, mad = median_mad(np.log(positive))
    baseline_ms = math.exp(median)
    limit_ms = math.exp(median + max(K_MAD * MAD_TO_STD * mad, math.log(min_ratio)))
    pvalue = binomial_excess_pvalue(above(baseline_ms), n, tail)
    return LatencyVerdict(percentile, value_ms, limit_ms, baseline_ms, None, pvalue,
                          value_ms > limit_ms and pvalue < alpha)
