"""The Page-Hinkley test (Page, "Continuous inspection schemes", Biometrika 41, 1954; Hinkley,
"Inference about the change-point from cumulative sum tests", Biometrika 58, 1971).

It sums each value's deviation from the running mean, less a tolerance ``delta``:
``m_t = alpha * m_{t-1} + (x_t - mean_t - delta)``. While the stream is stationary the sum drifts down; once
the mean rises it climbs, and a drift is declared when it stands more than ``threshold`` above its lowest
point (``mode="up"``; ``"down"`` watches falls, ``"both"`` either). The lowest point is also the
maximum-likelihood estimate of where the change began (Hinkley 1971), which :attr:`change` reports.
``alpha`` slowly forgets old deviations. Defaults and update rule are River's
(``river.drift.PageHinkley``, whose detections this class reproduces exactly).

For 0/1 errors, a rise of the error rate by ``d`` adds about ``d - delta`` per row, so the delay is
close to ``threshold / (d - delta)`` rows: about 260 rows for a rise from 10% to 30% at the defaults.

>>> import random
>>> rng = random.Random(0)
>>> ph = PageHinkley(mode="up")
>>> for i in range(8000):
...     ph.update(rng.random() < (0.1 if i < 5000 else 0.3))
...     if ph.drift_detected:
...         break
>>> i, ph.change.at_row, round(ph.change.before, 2), round(ph.change.after, 2)
(5236, 4470, 0.1, 0.17)
"""

from __future__ import annotations

import math
from typing import Any

from streamer.stats.detector import Change, Detector

MODES = ("up", "down", "both")


class PageHinkley(Detector):
    name = "page_hinkley"
    kind = "page_hinkley"

    def __init__(self, min_instances: int = 30, delta: float = 0.005, threshold: float = 50.0,
                 alpha: float = 1 - 0.0001, mode: str = "both") -> None:
        if min_instances < 1 or threshold <= 0 or delta < 0 or not 0 < alpha <= 1:
            raise ValueError("Page-Hinkley needs min_instances >= 1, threshold > 0, delta >= 0, 0 < alpha <= 1")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        super().__init__()
        self.min_instances, self.delta, self.threshold, self.alpha, self.mode = (
            min_instances, delta, threshold, alpha, mode)
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self.total = 0.0
        self.sum_increase = 0.0
        self.sum_decrease = 0.0
        self.min_increase = math.inf
        self.max_decrease = -1.0  # River starts here
        self.at_min = (0, 0.0)  # (rows, total) where sum_increase was lowest
        self.at_max = (0, 0.0)

    def _step(self, x: float) -> None:
        if self._drift:
            self._reset()
            self._drift = False
        self.n += 1
        self.total += x
        deviation = x - self.total / self.n
        self.sum_increase = self.alpha * self.sum_increase + deviation - self.delta
        self.sum_decrease = self.alpha * self.sum_decrease + deviation + self.delta
        if self.sum_increase < self.min_increase:
            self.min_increase, self.at_min = self.sum_increase, (self.n, self.total)
        if self.sum_decrease > self.max_decrease:
            self.max_decrease, self.at_max = self.sum_decrease, (self.n, self.total)
        if self.n < self.min_instances:
            return
        up = self.mode != "down" and self.sum_increase - self.min_increase > self.threshold
        down = self.mode != "up" and self.max_decrease - self.sum_decrease > self.threshold
        if up or down:
            n_at, total_at = self.at_min if up else self.at_max
            before = total_at / n_at if n_at else math.nan
            after = (self.total - total_at) / (self.n - n_at) if self.n > n_at else math.nan
            self._change = Change(self.rows - (self.n - n_at) + 1, before, after)
            self._drift = True

    def params(self) -> dict[str, Any]:
        return {"min_instances": self.min_instances, "delta": self.delta, "threshold": self.threshold,
                "alpha": self.alpha, "mode": self.mode}

    def _state(self) -> dict[str, Any]:
        return {"n": self.n, "total": self.total, "sum_increase": self.sum_increase,
                "sum_decrease": self.sum_decrease,
                "min_increase": None if math.isinf(self.min_increase) else self.min_increase,
                "max_decrease": self.max_decrease, "at_min": list(self.at_min), "at_max": list(self.at_max)}

    def _load(self, state: dict[str, Any]) -> None:
        self.n, self.total = int(state["n"]), float(state["total"])
        self.sum_increase, self.sum_decrease = float(state["sum_increase"]), float(state["sum_decrease"])
        self.min_increase = math.inf if state["min_increase"] is None else float(state["min_increase"])
        self.max_decrease = float(state["max_decrease"])
        self.at_min = (int(state["at_min"][0]), float(state["at_min"][1]))
        self.at_max = (int(state["at_max"][0]), float(state["at_max"][1]))
