"""DDM's warning level raises ``concept_drift_suspected``: on counts, with an effect floor."""

from __future__ import annotations

import numpy as np

from streamer.alerts.concept import concept_alerts
from streamer.performance.concept import ConceptMonitor
from streamer.performance.window import concept_section
from streamer.stats.adwin import ADWIN
from streamer.stats.detectors import make_detector

T = 1_800_000_000.0


def _events(monitor: ConceptMonitor, errors: np.ndarray) -> list[dict]:
    return monitor.update(errors, T + np.arange(len(errors), dtype=float))


def test_a_rise_in_the_error_rate_is_suspected_before_it_is_detected() -> None:
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(20):
        errors = (rng.random(8000) < np.where(np.arange(8000) < 5000, 0.1, 0.3)).astype(float)
        events = _events(ConceptMonitor(make_detector("ddm")), errors)
        kinds = [e["kind"] for e in events]
        drift = events[kinds.index("drift")]
        early = [e for e in events if e["kind"] == "warning" and 5000 <= e["detected_at_s"] - T <= drift["detected_at_s"] - T]
        for warning in early:
            assert warning["error_rate_after"] - warning["error_rate_before"] >= 0.02
        found += bool(early)
    assert found >= 18  # a warning after the change and before the detection, in nearly every stream


def test_a_stationary_stream_is_rarely_suspected() -> None:
    rng = np.random.default_rng(1)
    warnings = [sum(e["kind"] == "warning" for e in _events(ConceptMonitor(make_detector("ddm")),
                                                             (rng.random(100_000) < 0.1).astype(float)))
                for _ in range(5)]
    assert sum(warnings) <= 10  # measured: see make bench --only ground-truth (DDM warnings per 100k)


def test_the_effect_floor_keeps_a_small_rise_quiet() -> None:
    rng = np.random.default_rng(2)
    errors = (rng.random(20_000) < np.where(np.arange(20_000) < 5000, 0.1, 0.11)).astype(float)
    strict = ConceptMonitor(make_detector("ddm"), warning_min_effect=0.05)
    assert not [e for e in _events(strict, errors) if e["kind"] == "warning"]


def test_detectors_without_a_warning_level_only_detect() -> None:
    rng = np.random.default_rng(3)
    errors = (rng.random(8000) < np.where(np.arange(8000) < 5000, 0.1, 0.4)).astype(float)
    assert {e["kind"] for e in _events(ConceptMonitor(ADWIN()), errors)} == {"drift"}


def test_a_warning_becomes_a_suspected_alert_with_the_contract_details() -> None:
    event = {"kind": "warning", "change_point_s": T, "detected_at_s": T + 60, "error_rate_before": 0.1,
             "error_rate_after": 0.2}
    doc = {"model": "m", "version": "v", "window_start": "2027-01-15T08:00:00.000Z",
           "window_end": "2027-01-15T08:01:00.000Z", "concept": concept_section([event], True, "ddm")}
    [alert] = concept_alerts(doc, T + 61)
    assert alert["kind"] == "concept_drift_suspected" and alert["subject"] == "ddm" and alert["severity"] == "warning"
    assert {"change_point", "error_rate_before", "error_rate_after"} <= set(alert["details"])
