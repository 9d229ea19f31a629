"""A model's recent operational figures: the baseline the latency, error and volume rules compare with.

Three short series, each of the newest ``max_windows`` values: latency percentiles per closed window,
(errors, events) per closed window, and the event counts of *full* windows (closed by the watermark
right after the model's previous window, so the count measures a whole window of traffic). A window
whose rule alerted does not enter that rule's series: a lasting incident does not become the model's
normal and "resolve" itself, and the baseline stays what it was before the incident. Robust statistics
(median, MAD) make one odd window in a series harmless.

>>> history = OpsHistory(max_windows=3)
>>> for events in (100, 110, 90, 500):
...     history.update({"events": events, "errors": 1, "latency_ms": {"p99": 20.0}}, full=True)
>>> history.update({"events": 5, "errors": 4, "latency_ms": {"p99": 900.0}}, full=True,
...                alerted=frozenset({"latency_high", "error_rate_high", "throughput_anomaly"}))
>>> history.counts(), history.latencies("p99"), history.errors_and_events()
([110, 90, 500], [20.0, 20.0, 20.0], (3, 700))
>>> median_mad([110.0, 90.0, 500.0])
(110.0, 20.0)
>>> OpsHistory.from_dict(history.to_dict(), 3).counts()
[110, 90, 500]
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

#: MAD times this estimates a normal standard deviation.
MAD_TO_STD = 1.4826
HISTORY_WINDOWS = 20


def median_mad(values: list[float] | np.ndarray) -> tuple[float, float]:
    """Median and median absolute deviation (numpy's figures; in plain Python, cheaper for a short series)."""
    numbers = [float(v) for v in values]
    if not numbers or any(v != v for v in numbers):  # empty, or NaN: numpy's answer (nan)
        array = np.asarray(numbers, dtype=np.float64)
        median = float(np.median(array))
        return median, float(np.median(np.abs(array - median)))
    median = _median(numbers)
    return median, _median([abs(v - median) for v in numbers])


def _median(numbers: list[float]) -> float:
    ordered = sorted(numbers)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


class OpsHistory:
    def __init__(self, max_windows: int = HISTORY_WINDOWS) -> None:
        self.max_windows = max_windows
        self.latency: deque[dict[str, float]] = deque(maxlen=max_windows)
        self.errors: deque[tuple[int, int]] = deque(maxlen=max_windows)
        self.full_counts: deque[int] = deque(maxlen=max_windows)

    def __len__(self) -> int:
        return len(self.errors)

    def update(self, summary: dict[str, Any], full: bool, alerted: frozenset[str] = frozenset()) -> None:
        """Remember a closed window's figures (from its summary); ``alerted``: the kinds it raised."""
        latency = {k: v for k, v in (summary.get("latency_ms") or {}).items() if v is not None}
        if latency and "latency_high" not in alerted:
            self.latency.append(latency)
        if "error_rate_high" not in alerted:
            self.errors.append((int(summary["errors"]), int(summary["events"])))
        if full and "throughput_anomaly" not in alerted:
            self.full_counts.append(int(summary["events"]))

    def counts(self) -> list[int]:
        """Event counts of the full windows."""
        return list(self.full_counts)

    def latencies(self, name: str) -> list[float]:
        return [w[name] for w in self.latency if name in w]

    def errors_and_events(self) -> tuple[int, int]:
        return sum(e for e, _ in self.errors), sum(n for _, n in self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {"latency": list(self.latency), "errors": [list(p) for p in self.errors],
                "counts": list(self.full_counts)}

    @classmethod
    def from_dict(cls, stored: dict[str, Any] | None, max_windows: int = HISTORY_WINDOWS) -> OpsHistory:
        history = cls(max_windows)
        if isinstance(stored, dict):
            history.latency.extend(stored.get("latency", []))
            history.errors.extend((int(e), int(n)) for e, n in stored.get("errors", []))
            history.full_counts.extend(stored.get("counts", []))
        return history

    def __repr__(self) -> str:
        return (f"OpsHistory(latency={len(self.latency)}, errors={len(self.errors)}, "
                f"counts={len(self.full_counts)}, max_windows={self.max_windows})")
