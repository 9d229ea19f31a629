"""DDM, the Drift Detection Method (Gama, Medas, Castillo and Rodrigues, "Learning with drift
detection", SBIA 2004), for a stream of 0/1 errors.

The error count of ``n`` rows is binomial, so the error rate ``p`` is known to within
``s = sqrt(p (1 - p) / n)``. DDM remembers the point where ``p + s`` was smallest (``p_min``,
``s_min``): the model at its best. A warning is raised when ``p + s`` passes ``p_min + 2 s_min`` and a
drift when it passes ``p_min + 3 s_min`` (River's defaults); the detector then starts afresh. The change
is placed where the current warning began. The defaults are River's (``river.drift.binary.DDM``, whose
detections this class reproduces exactly); with River's ``warm_start`` of 30 the first ``p_min`` comes from
so few rows that it is often far too low, and the detector alarms within a few hundred rows of every
start, hence streamer's configured default of 1,000 (:mod:`streamer.stats.detectors`). DDM suits abrupt changes; it is slow on gradual ones and,
because ``s_min`` keeps shrinking, a long stationary stream eventually raises a false alarm (measured in
``make bench``).

>>> import random
>>> rng = random.Random(0)
>>> ddm = DDM(warm_start=1000)
>>> for i in range(8000):
...     ddm.update(rng.random() < (0.1 if i < 5000 else 0.3))
...     if ddm.drift_detected:
...         break
>>> i, ddm.change.at_row, round(ddm.change.before, 2), round(ddm.change.after, 2)
(5212, 5122, 0.11, 0.36)
"""

from __future__ import annotations

import math
from typing import Any

from streamer.stats.detector import Change, Detector


class DDM(Detector):
    name = "ddm"
    kind = "ddm"

    def __init__(self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0) -> None:
        if warm_start < 1:
            raise ValueError("warm_start must be >= 1")
        if not 0 < warning_threshold <= drift_threshold:
            raise ValueError("DDM needs 0 < warning_threshold <= drift_threshold")
        super().__init__()
        self.warm_start = warm_start
        self.warning_threshold = warning_threshold
        self.drift_threshold = drift_threshold
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self.errors = 0.0
        self.p_min = math.inf
        self.s_min = math.inf
        self.warning_at = -1  # row where the current warning began, -1 outside a warning
        self.errors_at_warning = 0.0
        self.n_at_warning = 0

    def _step(self, x: float) -> None:
        if self._drift:
            self._reset()
            self._drift = False
        self.n += 1
        self.errors += x
        p = self.errors / self.n
        s = math.sqrt(p * (1.0 - p) / self.n)
        if self.n < self.warm_start:
            return
        if p + s <= self.p_min + self.s_min:
            self.p_min, self.s_min = p, s
        level = p + s
        if level > self.p_min + self.drift_threshold * self.s_min:
            if self.warning_at < 0:
                self._mark_warning()
            before = self.errors_at_warning / self.n_at_warning if self.n_at_warning else self.p_min
            after_n = self.n - self.n_at_warning
            self._change = Change(self.warning_at, before,
                                  (self.errors - self.errors_at_warning) / after_n if after_n else p)
            self._drift, self._warning = True, False
        elif level > self.p_min + self.warning_threshold * self.s_min:
            if self.warning_at < 0:
                self._mark_warning()
            self._warning = True
        else:
            self.warning_at, self._warning = -1, False

    @property
    def warning_change(self) -> Change | None:
        if not self._warning or self.warning_at < 0:
            return None
        before = self.errors_at_warning / self.n_at_warning if self.n_at_warning else self.p_min
        after_n = self.n - self.n_at_warning
        return Change(self.warning_at, before, (self.errors - self.errors_at_warning) / after_n if after_n else before)

    def _mark_warning(self) -> None:
        self.warning_at = self.rows
        self.n_at_warning, self.errors_at_warning = self.n - 1, self.errors - 0.0

    def params(self) -> dict[str, Any]:
        return {"warm_start": self.warm_start, "warning_threshold": self.warning_threshold,
                "drift_threshold": self.drift_threshold}

    def _state(self) -> dict[str, Any]:
        return {"n": self.n, "errors": self.errors, "p_min": _finite(self.p_min), "s_min": _finite(self.s_min),
                "warning_at": self.warning_at, "errors_at_warning": self.errors_at_warning,
                "n_at_warning": self.n_at_warning}

    def _load(self, state: dict[str, Any]) -> None:
        self.n, self.errors = int(state["n"]), float(state["errors"])
        self.p_min = math.inf if state["p_min"] is None else float(state["p_min"])
        self.s_min = math.inf if state["s_min"] is None else float(state["s_min"])
        self.warning_at, self.errors_at_warning = int(state["warning_at"]), float(state["errors_at_warning"])
        self.n_at_warning = int(state["n_at_warning"])


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
