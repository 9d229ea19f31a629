"""Concept-drift detectors by name, with the defaults streamer configures them with.

The classes keep River's defaults, so their behaviour can be compared with River's; streamer's defaults
differ where River's alarm on stationary streams of prediction errors. In ``make bench`` (20 streams of
100,000 0/1 errors at a 10% rate) River's defaults raised 24 false alarms for DDM and 64 for Page-Hinkley
(0 for ADWIN). So DDM waits for 1,000 rows before trusting its minimum and needs 4 standard errors (0 false
alarms; a rise from 10% to 30% after 20,000 rows found in 707 rows median, 2,760 at most), and Page-Hinkley
watches rises only, with a threshold of 100 (2 false alarms; found in 422 rows median, 502 at most).
ADWIN keeps River's defaults (0 false alarms; found in 127 rows median, 159 at most).

>>> make_detector("page_hinkley")
PageHinkley(min_instances=30, delta=0.005, threshold=100.0, alpha=0.9999, mode='up')
>>> detector = make_detector("adwin", {"delta": 0.01})
>>> type(detector_from_bytes(detector.to_bytes())).__name__, detector.delta
('ADWIN', 0.01)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamer.errors import StateFormatError
from streamer.stats.adwin import ADWIN
from streamer.stats.ddm import DDM
from streamer.stats.detector import Detector, NoDrift
from streamer.stats.page_hinkley import PageHinkley

DETECTORS: dict[str, type[Detector]] = {"adwin": ADWIN, "ddm": DDM, "page_hinkley": PageHinkley, "none": NoDrift}
DEFAULTS: dict[str, dict[str, Any]] = {"ddm": {"warm_start": 1000, "drift_threshold": 4.0},
                                       "page_hinkley": {"mode": "up", "threshold": 100.0}}
#: Detectors that assume 0/1 errors (a classifier's), not absolute errors of a regressor.
BINARY_ONLY = frozenset({"ddm"})


def make_detector(name: str, params: Mapping[str, Any] | None = None) -> Detector:
    """A detector by name with streamer's defaults, overridden by ``params``; ``ValueError`` if unknown."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; expected one of {', '.join(sorted(DETECTORS))}")
    try:
        return DETECTORS[name](**{**DEFAULTS.get(name, {}), **(params or {})})
    except TypeError as exc:
        raise ValueError(f"detector {name!r}: {exc}") from exc


def detector_from_bytes(data: bytes) -> Detector:
    for cls in DETECTORS.values():
        try:
            return cls.from_bytes(data)  # type: ignore[no-any-return]
        except StateFormatError:
            continue
    raise StateFormatError("not a stored detector")
