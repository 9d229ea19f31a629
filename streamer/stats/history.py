"""A model's recent operational figures: the baseline the latency, error and volume rules compare with.

One entry per closed window (events, errors, latency percentiles, whether the window was *full*:
closed by the watermark right after the model's previous window, so its count measures a whole
window of traffic). Only the newest ``max_windows`` are kept, so the baseline follows slow change
and the state stays small. Robust statistics (median, MAD) make one odd window in the history
harmless.

>>> history = OpsHistory(max_windows=3)
>>> for events in (100, 110, 90, 500):
...     history.update({"events": events, "errors": 1, "latency_ms": {"p99": 20.0}}, full=True)
>>> history.counts(), history.latencies("p99"), history.errors_and_events()
([110, 90, 500], [20.0, 20.0, 20.0], (3, 700))
>>> median_mad([110.0, 90.0, 500.0])
(110.0, 20.0)
>>> OpsHistory.from_list(history.to_list(), 3).counts()
[110, 90, 500]
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

#: MAD times this estimates a normal standard deviation.
MAD_TO_STD = 1.4826


def median_mad(values: list[float] | np.ndarray) -> tuple[float, float]:
    """Median and median absolute deviation."""
    array = np.asarray(values, dtype=np.float64)
    median = float(np.median(array))
    return median, float(np.median(np.abs(array - median)))


class OpsHistory:
    def __init__(self, max_windows: int = 20) -> None:
        self.max_windows = max_windows
        self.windows: deque[dict[str, Any]] = deque(maxlen=max_windows)

    def __len__(self) -> int:
        return len(self.windows)

    def update(self, summary: dict[str, Any], full: bool) -> None:
        """Remember a closed window's figures (from its summary)."""
        latency = summary.get("latency_ms") or {}
        self.windows.append({"events": int(summary["events"]), "errors": int(summary["errors"]),
                             "latency": {k: v for k, v in latency.items() if v is not None}, "full": bool(full)})

    def counts(self) -> list[int]:
        """Event counts of the full windows."""
        return [w["events"] for w in self.windows if w["full"]]

    def latencies(self, name: str) -> list[float]:
        return [w["latency"][name] for w in self.windows if name in w["latency"]]

    def errors_and_events(self) -> tuple[int, int]:
        return sum(w["errors"] for w in self.windows), sum(w["events"] for w in self.windows)

    def to_list(self) -> list[dict[str, Any]]:
        return list(self.windows)

    @classmethod
    def from_list(cls, entries: list[dict[str, Any]] | None, max_windows: int = 20) -> OpsHistory:
        history = cls(max_windows)
        history.windows.extend(entries or [])
        return history

    def __repr__(self) -> str:
        return f"OpsHistory(windows={len(self.windows)}, max_windows={self.max_windows})"
