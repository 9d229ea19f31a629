"""Concept-drift monitoring of one model: a change detector over its per-prediction errors, in event time.

:class:`ConceptMonitor` feeds joined rows' errors (0/1 for a classifier, absolute error for a regressor)
to a detector (:mod:`streamer.stats.detectors`) and turns each detection into an event with the
contract's details (CONTRACT 4.4): ``change_point`` (the event time of the row where the detector places
the change), ``error_rate_before`` and ``error_rate_after``. Rows are indexed by the detector; to turn a
row index back into an event time the monitor keeps one (row, event time) checkpoint every
``checkpoint_rows`` rows, thinned by half whenever there are more than ``max_checkpoints``, so its state
stays bounded while recent change points stay precise.

A detector with a warning level (DDM: ``p + s`` past ``p_min + 2 s_min``) also gives a ``warning``
event, once per warning, which the stage raises as ``concept_drift_suspected``: only once the warning has
lasted ``warning_min_rows`` rows and the error rate since it began exceeds the rate before by at least
``warning_min_effect`` (an effect floor, so that a brief wobble on few rows does not alarm) and by
``warning_min_z`` binomial standard errors (a test on the counts since the warning began). ADWIN and
Page-Hinkley have no warning level: they only detect.

>>> import numpy as np
>>> from streamer.stats.adwin import ADWIN
>>> monitor = ConceptMonitor(ADWIN())
>>> rng = np.random.default_rng(0)
>>> errors = (rng.random(6000) < np.where(np.arange(6000) < 4000, 0.1, 0.4)).astype(float)
>>> events = monitor.update(errors, 1_800_000_000.0 + np.arange(6000.0))
>>> [(e["detector"], e["change_point_s"] - 1_800_000_000.0, round(e["error_rate_before"], 2)) for e in events]
[('adwin', 3968.0, 0.1)]
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamer.labels.fences import Fences
from streamer.sketches.codec import pack, unpack
from streamer.stats.detector import Change, Detector
from streamer.stats.detectors import BINARY_ONLY, detector_from_bytes, make_detector

RECENT_EVENTS = 4


class ConceptMonitor:
    def __init__(self, detector: Detector, checkpoint_rows: int = 64, max_checkpoints: int = 512,
                 warning_min_rows: int = 50, warning_min_effect: float = 0.02, warning_min_z: float = 3.0) -> None:
        if checkpoint_rows < 1 or max_checkpoints < 2:
            raise ValueError("checkpoint_rows must be >= 1 and max_checkpoints >= 2")
        self.detector = detector
        self.checkpoint_rows = checkpoint_rows
        self.max_checkpoints = max_checkpoints
        self.checkpoints: list[tuple[int, float]] = []  # (row index, event time in seconds), rows increasing
        self.warning = False
        self.warning_min_rows = warning_min_rows
        self.warning_min_effect = warning_min_effect
        self.warning_min_z = warning_min_z
        self.warning_reported = False  # the current warning has given its event
        self.fences = Fences()  # joined pairs fed (streamer.labels.fences)
        self.recent: list[dict[str, Any]] = []  # the last events, to send again after a crash

    def _time_of_row(self, row: int, batch_start: int, times: np.ndarray) -> float:
        if batch_start <= row < batch_start + len(times):
            return float(times[row - batch_start])
        i = bisect.bisect_right(self.checkpoints, (row, float("inf"))) - 1
        return self.checkpoints[max(i, 0)][1] if self.checkpoints else float(times[0])

    def update(self, errors: Sequence[float] | np.ndarray, times_s: Sequence[float] | np.ndarray) -> list[dict[str, Any]]:
        """Feed errors (NaN skipped) in arrival order with their predictions' event times; the detections."""
        err = np.asarray(errors, dtype=np.float64)
        times = np.asarray(times_s, dtype=np.float64)
        keep = ~np.isnan(err)
        err, times = err[keep], times[keep]
        events = []
        start = self.detector.rows
        for i, x in enumerate(err.tolist()):
            row = start + i
            if row % self.checkpoint_rows == 0:
                self._checkpoint(row, float(times[i]))
            self.detector.update(x)
            warning = self.detector.warning_change
            if warning is None or self.detector.drift_detected:
                self.warning_reported = False
            elif not self.warning_reported and self._significant(warning, self.detector.rows - warning.at_row):
                self.warning_reported = True
                events.append({"detector": self.detector.name, "kind": "warning",
                               "change_point_s": self._time_of_row(warning.at_row, start, times),
                               "detected_at_s": float(times[i]),
                               "error_rate_before": warning.before, "error_rate_after": warning.after})
            if self.detector.drift_detected and self.detector.change is not None:
                change = self.detector.change
                events.append({"detector": self.detector.name, "kind": "drift",
                               "change_point_s": self._time_of_row(change.at_row, start, times),
                               "detected_at_s": float(times[i]),
                               "error_rate_before": change.before, "error_rate_after": change.after})
        self.warning = self.detector.warning_detected
        self.recent = (self.recent + events)[-RECENT_EVENTS:]
        return events

    def _significant(self, warning: Change, rows: int) -> bool:
        """Whether a warning is worth raising: it has lasted ``warning_min_rows`` rows, the error rate since
        it began exceeds the rate before by ``warning_min_effect`` and by ``warning_min_z`` binomial standard
        errors of that many rows (the detector's own level, 2 standard errors of the best rate seen, fires
        often on a stationary stream)."""
        if rows < self.warning_min_rows or warning.after - warning.before < self.warning_min_effect:
            return False
        spread = math.sqrt(max(warning.before * (1.0 - warning.before), 1e-12) / rows)
        return (warning.after - warning.before) / spread >= self.warning_min_z

    def _checkpoint(self, row: int, time_s: float) -> None:
        self.checkpoints.append((row, time_s))
        if len(self.checkpoints) > self.max_checkpoints:
            # Thin the older half: recent change points keep their precision.
            half = len(self.checkpoints) // 2
            self.checkpoints = self.checkpoints[:half:2] + self.checkpoints[half:]

    @classmethod
    def stored_or_new(cls, stored: bytes | None, name: str, params: Mapping[str, Any], binary_errors: bool) -> ConceptMonitor:
        """The stored monitor, or a new one when there is none or the configured detector changed."""
        if name in BINARY_ONLY and not binary_errors:
            name, params = "adwin", {}  # DDM reads 0/1 errors only
        monitor = cls.from_bytes(stored) if stored else None
        return monitor if monitor is not None and monitor.detector.name == name else cls(make_detector(name, params))

    def to_bytes(self) -> bytes:
        header = {"checkpoint_rows": self.checkpoint_rows, "max_checkpoints": self.max_checkpoints,
                  "checkpoints": self.checkpoints, "warning": self.warning, "fences": self.fences.to_json(),
                  "warning_min_rows": self.warning_min_rows, "warning_min_effect": self.warning_min_effect,
                  "warning_min_z": self.warning_min_z,
                  "warning_reported": self.warning_reported, "recent": self.recent}
        return pack("concept_monitor", 1, header, [self.detector.to_bytes()])

    @classmethod
    def from_bytes(cls, data: bytes) -> ConceptMonitor:
        header, blobs = unpack(data, "concept_monitor", 1)
        monitor = cls(detector_from_bytes(blobs[0]), int(header["checkpoint_rows"]), int(header["max_checkpoints"]))
        monitor.checkpoints = [(int(r), float(t)) for r, t in header["checkpoints"]]
        monitor.warning = bool(header["warning"])
        monitor.fences = Fences(header.get("fences"))
        monitor.warning_min_rows = int(header.get("warning_min_rows", monitor.warning_min_rows))
        monitor.warning_min_effect = float(header.get("warning_min_effect", monitor.warning_min_effect))
        monitor.warning_reported = bool(header.get("warning_reported", False))
        monitor.recent = list(header.get("recent", []))
        monitor.warning_min_z = float(header.get("warning_min_z", monitor.warning_min_z))
        return monitor

    def __repr__(self) -> str:
        return f"ConceptMonitor({self.detector!r}, rows={self.detector.rows})"
