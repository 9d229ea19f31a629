"""resolved follow-ups: drift needs a run of clean windows, volume counts only full windows."""

from __future__ import annotations

from streamer.alerts.resolved import follow_ups
from streamer.windows.model_state import ModelState

SUMMARY = {"model": "m", "version": "1", "window_start": "s", "window_end": "e", "events": 10}


def test_drift_resolves_after_three_clean_windows_and_a_relapse_starts_over():
    book: dict = {}
    follow_ups(book, [{"id": "d1", "kind": "data_drift_detected", "subject": None}], SUMMARY, True, 0.0)
    assert follow_ups(book, [], SUMMARY, True, 0.0) == [] and follow_ups(book, [], SUMMARY, True, 0.0) == []
    follow_ups(book, [{"id": "d2", "kind": "data_drift_detected", "subject": None}], SUMMARY, True, 0.0)
    assert [follow_ups(book, [], SUMMARY, True, 0.0) for _ in range(2)] == [[], []]
    resolved = follow_ups(book, [], SUMMARY, True, 0.0)
    assert [a["details"]["resolves"] for a in resolved] == ["d2"] and book == {}


def test_volume_resolves_only_on_a_full_window():
    book: dict = {}
    follow_ups(book, [{"id": "v1", "kind": "throughput_anomaly", "subject": "drop"}], SUMMARY, True, 0.0)
    assert follow_ups(book, [], SUMMARY, False, 0.0) == []
    assert [a["subject"] for a in follow_ups(book, [], SUMMARY, True, 0.0)] == ["drop"]


def test_resolved_ids_differ_per_resolved_alert_in_one_window():
    book: dict = {}
    opened = [{"id": "e1", "kind": "error_rate_high", "subject": None},
              {"id": "l1", "kind": "latency_high", "subject": None}]
    follow_ups(book, opened, SUMMARY, True, 0.0)
    resolved = follow_ups(book, [], SUMMARY, True, 0.0)
    assert len({a["id"] for a in resolved}) == 2


def test_model_state_keeps_history_and_open_conditions_and_loads_older_state():
    state = ModelState("m", "1")
    state.ops.update({"events": 10, "errors": 1, "latency_ms": {"p99": 5.0}}, full=True)
    state.open_conditions = {"k": {"id": "a", "kind": "latency_high", "subject": "p99", "clean": 0}}
    state.missing_alert_id = "x"
    restored = ModelState.from_bytes(state.to_bytes())
    assert restored.ops.counts() == [10] and restored.open_conditions == state.open_conditions
    assert restored.missing_alert_id == "x"
    from streamer.sketches.codec import pack, unpack
    header, blobs = unpack(state.to_bytes(), "model_state", 1)
    for key in ("ops", "open_conditions", "missing_alert"):
        del header[key]  # state written before these existed
    older = ModelState.from_bytes(pack("model_state", 1, header, blobs))
    assert len(older.ops) == 0 and older.open_conditions == {} and older.missing_alert_id is None
