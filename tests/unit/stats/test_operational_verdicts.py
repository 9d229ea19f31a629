"""The operational decisions on their own: fixed thresholds, small samples, robust baselines."""

from __future__ import annotations

import numpy as np

from streamer.stats.error_rate import error_verdict
from streamer.stats.latency import latency_verdict
from streamer.stats.volume import volume_verdict


def test_a_fixed_latency_threshold_needs_the_value_above_it_and_enough_events_above_it():
    above = {200.0: 50}
    verdict = latency_verdict("p99", 400.0, n=1000, above=lambda x: above.get(x, 0), history_ms=[],
                              threshold_ms=200.0)
    assert verdict is not None and verdict.high and verdict.threshold_ms == 200.0 and verdict.baseline_ms is None
    # p99 above the threshold from 12 slow calls of 1,000 (1.2%): not more than chance for a p99.
    quiet = latency_verdict("p99", 400.0, n=1000, above=lambda x: 12, history_ms=[], threshold_ms=200.0)
    assert quiet is not None and not quiet.high


def test_one_odd_window_in_the_history_does_not_move_the_latency_baseline():
    history = [10.0, 10.5, 9.8, 10.2, 500.0, 10.1]
    verdict = latency_verdict("p95", 25.0, n=500, above=lambda x: 500, history_ms=history)
    assert verdict is not None and verdict.high and 9.9 < verdict.baseline_ms < 10.3


def test_no_latency_verdict_without_enough_history():
    assert latency_verdict("p50", 100.0, n=100, above=lambda x: 100, history_ms=[10.0, 11.0]) is None


def test_error_threshold_and_baseline():
    assert error_verdict(5, 100, history=(0, 0)) is None  # no baseline yet
    assert not error_verdict(2, 2, history=(0, 10_000)).high  # two errors: under the minimum count
    assert error_verdict(3, 3, history=(0, 10_000)).high


def test_volume_range_widens_with_a_wandering_history():
    rng = np.random.default_rng(1)
    steady = volume_verdict(1000, history_counts=[1000] * 10)
    wandering = volume_verdict(1000, history_counts=[int(c) for c in rng.normal(1000, 200, 10)])
    assert steady is not None and wandering is not None
    assert wandering.expected_high - wandering.expected_low > steady.expected_high - steady.expected_low
    assert volume_verdict(2100, history_counts=[1000] * 10).direction == "spike"
    assert volume_verdict(400, history_counts=[1000] * 10).direction == "drop"
    assert volume_verdict(5, history_counts=[4, 6, 5, 3, 7]).direction is None
