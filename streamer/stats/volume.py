"""Is a window's event count far outside the range the model's own history predicts?

From the counts of the model's recent *full* windows (closed by the watermark right after the
previous window, so a model's first, partial window and the window cut short by a silence do not
count) the expected range is the widest of

* the Poisson range of the median count at ``alpha`` (what chance alone gives a steady stream),
* median +- ``K_MAD`` robust standard deviations (MAD, at least sqrt(median)), for a stream whose
  volume wanders more than Poisson, and
* median / ``min_ratio`` .. median * ``min_ratio`` (default half to double), the effect floor, so
  ordinary ups and downs of a large stream do not alarm.

A count below the range is a ``drop``, above it a ``spike``.

>>> verdict = volume_verdict(40, history_counts=[600, 610, 590, 605, 598])
>>> verdict.direction, verdict.expected_low, verdict.expected_high
('drop', 300, 1200)
>>> volume_verdict(580, history_counts=[600, 610, 590, 605, 598]).direction is None
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from streamer.stats.counts import poisson_range
from streamer.stats.history import MAD_TO_STD, median_mad

K_MAD = 3.0


@dataclass(frozen=True)
class VolumeVerdict:
    events: int
    expected: float
    expected_low: int
    expected_high: int
    direction: str | None  # "spike", "drop" or None


def volume_verdict(
    events: int, *, history_counts: list[int], alpha: float = 1e-3, min_ratio: float = 2.0, min_history: int = 3,
) -> VolumeVerdict | None:
    if len(history_counts) < min_history:
        return None
    median, mad = median_mad([float(c) for c in history_counts])
    spread = max(MAD_TO_STD * mad, math.sqrt(median))
    poisson_low, poisson_high = poisson_range(median, alpha)
    low = max(0, math.floor(min(poisson_low, median - K_MAD * spread, median / min_ratio)))
    high = math.ceil(max(poisson_high, median + K_MAD * spread, median * min_ratio))
    direction = "drop" if events < low else "spike" if events > high else None
    return VolumeVerdict(events, median, low, high, direction)
