"""ADWIN, adaptive windowing (Bifet and Gavaldà, "Learning from time-changing data with adaptive
windowing", SIAM SDM 2007), with the exponential-histogram memory of their ADWIN2.

ADWIN keeps a window of recent values and drops its oldest part whenever the window splits into an
older part ``W0`` and a newer part ``W1`` whose means differ by more than

    eps = sqrt(2 m v d) + (2 / 3) d m,   m = 1/(n0 - L + 1) + 1/(n1 - L + 1),   d = ln(2 ln(n) / delta)

(``v`` the window's variance, ``n`` its length, ``L`` the shortest part considered): a Bernstein bound,
so a stationary stream splits with probability at most about ``delta`` per check, and a real change is
found as soon as enough rows on each side make the difference significant, whatever its size. The
window is stored as buckets of 1, 2, 4, ... values, at most ``max_buckets`` of each size, so memory and
each check cost ``O(log n)``; cuts are only tried between buckets, and only every ``clock`` values.

The defaults are River's (``river.drift.ADWIN``); as there, the detector starts afresh after each
detection. :attr:`change` places the change at the most significant split of the window at detection
(the largest ratio of mean difference to ``eps``) and gives the means on either side.

>>> import random
>>> rng = random.Random(0)
>>> adwin = ADWIN()
>>> for i in range(8000):
...     adwin.update(rng.random() < (0.1 if i < 5000 else 0.3))
...     if adwin.drift_detected:
...         break
>>> i, adwin.change.at_row, round(adwin.change.before, 2), round(adwin.change.after, 2)
(5183, 4992, 0.1, 0.26)
"""

from __future__ import annotations

import math
from typing import Any

from streamer.stats.detector import Change, Detector


class ADWIN(Detector):
    name = "adwin"
    kind = "adwin"

    def __init__(self, delta: float = 0.002, clock: int = 32, max_buckets: int = 5, min_window_length: int = 5,
                 grace_period: int = 10) -> None:
        if not 0 < delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {delta}")
        if clock < 1 or max_buckets < 2 or min_window_length < 1 or grace_period < 1:
            raise ValueError("ADWIN needs clock >= 1, max_buckets >= 2, min_window_length >= 1, grace_period >= 1")
        super().__init__()
        self.delta, self.clock, self.max_buckets = delta, clock, max_buckets
        self.min_window_length, self.grace_period = min_window_length, grace_period
        self._reset()

    def _reset(self) -> None:
        # rows[i] holds buckets of 2**i values, oldest first, as [total, variance (sum of squared deviations)].
        self.buckets: list[list[list[float]]] = [[]]
        self.width = 0
        self.total = 0.0
        self.variance = 0.0
        self.tick = 0

    @property
    def estimation(self) -> float:
        """Mean of the values in the window."""
        return self.total / self.width if self.width else 0.0

    def _step(self, x: float) -> None:
        if self._drift:
            self._reset()
            self._drift = False
        self._insert(x)
        self.tick += 1
        if self.tick % self.clock == 0 and self.width > self.grace_period:
            split = self._splits()
            if split is not None:
                _, n0, u0, n1, u1 = split
                self._change = Change(self.rows - n1 + 1, u0 / n0, u1 / n1)
                self._drift = True
                self._shrink()

    def _insert(self, x: float) -> None:
        if self.width:
            mean = self.total / self.width
            self.variance += self.width * (x - mean) ** 2 / (self.width + 1)
        self.width += 1
        self.total += x
        self.buckets[0].append([x, 0.0])
        row = 0
        while len(self.buckets[row]) > self.max_buckets:
            (t1, v1), (t2, v2) = self.buckets[row][0], self.buckets[row][1]
            size = 2.0**row
            merged = [t1 + t2, v1 + v2 + size * size * (t1 / size - t2 / size) ** 2 / (2 * size)]
            del self.buckets[row][:2]
            if row + 1 == len(self.buckets):
                self.buckets.append([])
            self.buckets[row + 1].append(merged)
            row += 1

    def _shrink(self) -> None:
        """Drop the oldest bucket while some split of the window is significant."""
        while self.width > self.grace_period and self._has_cut():
            self._drop_oldest()

    def _has_cut(self) -> bool:
        return self._splits(first=True) is not None

    def _splits(self, first: bool = False) -> tuple[float, int, float, int, float] | None:
        """The significant split with the largest ratio of mean difference to ``eps`` (the first one found
        with ``first``) as ``(ratio, n0, u0, n1, u1)``; ``None`` when no split is significant."""
        best = None
        n0, u0, n1, u1 = 0, 0.0, self.width, self.total
        d = math.log(2.0 * math.log(self.width) / self.delta)
        spread = self.variance / self.width
        least = self.min_window_length
        for row in range(len(self.buckets) - 1, -1, -1):
            size = 1 << row
            for total, _ in self.buckets[row]:
                n0, u0, n1, u1 = n0 + size, u0 + total, n1 - size, u1 - total
                if n1 < least:
                    return best
                if n0 < least:
                    continue
                m = 1.0 / (n0 - least + 1) + 1.0 / (n1 - least + 1)
                ratio = abs(u0 / n0 - u1 / n1) / (math.sqrt(2.0 * m * spread * d) + 2.0 / 3.0 * d * m)
                if ratio > 1.0 and (best is None or ratio > best[0]):
                    best = (ratio, n0, u0, n1, u1)
                    if first:
                        return best
        return best

    def _drop_oldest(self) -> tuple[int, float]:
        while not self.buckets[-1]:
            self.buckets.pop()
        row = len(self.buckets) - 1
        total, variance = self.buckets[row].pop(0)
        size = 1 << row
        self.width -= size
        self.total -= total
        if self.width:
            mean = self.total / self.width
            self.variance -= variance + size * self.width * (total / size - mean) ** 2 / (size + self.width)
            self.variance = max(self.variance, 0.0)
        else:
            self.variance = 0.0
        return size, total

    def params(self) -> dict[str, Any]:
        return {"delta": self.delta, "clock": self.clock, "max_buckets": self.max_buckets,
                "min_window_length": self.min_window_length, "grace_period": self.grace_period}

    def _state(self) -> dict[str, Any]:
        return {"buckets": self.buckets, "width": self.width, "total": self.total, "variance": self.variance,
                "tick": self.tick}

    def _load(self, state: dict[str, Any]) -> None:
        self.buckets = [[[float(t), float(v)] for t, v in row] for row in state["buckets"]] or [[]]
        self.width, self.total = int(state["width"]), float(state["total"])
        self.variance, self.tick = float(state["variance"]), int(state["tick"])
