"""ModelState: the window lifecycle of one model (CONTRACT 5) as pure transitions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.events.rows import PredictionRows
from streamer.sketches.codec import pack, unpack
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.model_state import EMPTY_LAYOUT, ModelState, RecordMark, WindowRules

RULES = WindowRules(window_seconds=10.0, allowed_lateness_seconds=2.0, idle_close_seconds=5.0, max_categories=16)
T0 = 1795687200.0  # 2026-11-26T10:00:00Z, a multiple of 10
WALL = 5_000_000_000.0  # the wall clock is unrelated to event time (a replay of old data)


def rows_at(*times: float, error: str | None = None) -> PredictionRows:
    rows = PredictionRows.empty("fraud", "1")
    for t in times:
        rows.append_row(timestamp_s=t, features={"x": t % 7, "c": "a"}, prediction=1, latency_ms=3.0, error=error)
    return rows


def ingest(state: ModelState, *times: float, wall: float = WALL) -> int:
    return state.ingest(rows_at(*times), EMPTY_LAYOUT, RULES, now_wall_s=wall)


def spans(windows: list[WindowAccumulator]) -> list[tuple[float, float, int]]:
    return [(w.start_s, w.end_s, w.rows) for w in windows]


def test_windows_are_aligned_to_multiples_of_the_window_length():
    state = ModelState("fraud", "1")
    ingest(state, 7.5, T0 + 3.0, T0 + 13.0, T0 + 19.999, T0 + 20.0)
    assert sorted(state.open_windows) == [0.0, T0, T0 + 10.0, T0 + 20.0]
    for start, window in state.open_windows.items():
        assert start % 10.0 == 0.0
        assert (window.start_s, window.end_s) == (start, start + 10.0)
    assert state.open_windows[T0 + 10.0].rows == 2  # 13.0 and 19.999: [start, start + W)
    assert state.open_windows[T0 + 20.0].rows == 1


def test_window_closes_when_event_time_passes_end_plus_lateness():
    state = ModelState("fraud", "1")
    ingest(state, T0 + 1.0, T0 + 9.0, T0 + 11.0)
    assert state.due_windows(RULES, WALL) == []
    ingest(state, T0 + 11.999)
    assert state.due_windows(RULES, WALL) == []  # watermark 11.999 < end 10 + lateness 2
    ingest(state, T0 + 12.0)
    assert spans(state.due_windows(RULES, WALL)) == [(T0, T0 + 10.0, 2)]
    assert sorted(state.open_windows) == [T0 + 10.0]
    assert state.closed_until_s == T0 + 10.0
    assert state.due_windows(RULES, WALL) == []  # closed once


def test_several_windows_close_together_oldest_first():
    state = ModelState("fraud", "1")
    ingest(state, T0 + 25.0, T0 + 1.0, T0 + 15.0)
    ingest(state, T0 + 31.0)
    assert spans(state.due_windows(RULES, WALL)) == [(T0, T0 + 10.0, 1), (T0 + 10.0, T0 + 20.0, 1)]
    assert sorted(state.open_windows) == [T0 + 20.0, T0 + 30.0]


def test_idle_close_by_wall_clock():
    state = ModelState("fraud", "1")
    ingest(state, T0 + 1.0, T0 + 11.0, wall=WALL)
    assert state.due_windows(RULES, WALL + 4.999) == []
    closed = state.due_windows(RULES, WALL + 5.0)
    assert spans(closed) == [(T0, T0 + 10.0, 1), (T0 + 10.0, T0 + 20.0, 1)]
    assert state.open_windows == {}
    assert state.closed_until_s == T0 + 20.0


def test_new_events_reset_the_idle_clock():
    state = ModelState("fraud", "1")
    ingest(state, T0 + 1.0, wall=WALL)
    ingest(state, T0 + 2.0, wall=WALL + 4.0)
    assert state.due_windows(RULES, WALL + 8.0) == []
    assert len(state.due_windows(RULES, WALL + 9.0)) == 1


def test_late_rows_are_counted_not_applied():
    state = ModelState("fraud", "1")
    ingest(state, T0 + 1.0, T0 + 12.0)
    state.due_windows(RULES, WALL)  # closes [T0, T0 + 10)
    late = state.ingest(rows_at(T0 + 3.0, T0 + 9.9, T0 + 13.0), EMPTY_LAYOUT, RULES, WALL)
    assert late == 2
    assert state.late_events == 2
    assert T0 not in state.open_windows  # a closed window is not reopened
    assert state.open_windows[T0 + 10.0].rows == 2
    assert state.events_total == 3


def test_rows_before_an_idle_closed_window_are_late():
    state = ModelState("fraud", "1")
    ingest(state, T0 + 15.0)
    state.due_windows(RULES, WALL + 5.0)
    assert ingest(state, T0 + 5.0, T0 + 19.0, T0 + 20.0) == 2
    assert sorted(state.open_windows) == [T0 + 20.0]


def test_events_total_counts_every_accepted_row():
    state = ModelState("fraud", "1")
    state.ingest(rows_at(T0 + 1.0, T0 + 2.0, error="timeout"), EMPTY_LAYOUT, RULES, WALL)
    ingest(state, T0 + 3.0, T0 + 25.0, T0 + 26.0)
    assert state.events_total == 5  # failed requests are accepted rows too
    state.due_windows(RULES, WALL)
    ingest(state, T0 + 4.0)  # late
    assert (state.events_total, state.late_events) == (5, 1)
    assert state.ingest(PredictionRows.empty("fraud", "1"), EMPTY_LAYOUT, RULES, WALL) == 0
    assert state.events_total == 5


def test_applied_offsets_dedupe_per_partition():
    state = ModelState("fraud", "1")
    assert not state.is_applied(0, 0)
    state.mark_applied(0, 5)
    assert state.is_applied(0, 5) and state.is_applied(0, 0)
    assert not state.is_applied(0, 6)
    assert not state.is_applied(1, 5)  # offsets are per partition
    state.mark_applied(0, 3)  # never goes back
    assert state.is_applied(0, 5) and not state.is_applied(0, 6)
    state.mark_applied(1, 0)
    assert state.applied_offsets == {0: 5, 1: 0}


def test_positions_keep_the_mark_of_the_last_applied_record_and_rebase_forgets_them():
    state = ModelState("fraud", "1")
    state.mark_applied(0, 5, RecordMark.of(b"five", 1.0))
    state.mark_applied(0, 3, RecordMark.of(b"three", 1.0))  # older: changes nothing
    assert state.position(0) == (5, RecordMark.of(b"five", 1.0)) and state.position(1) is None
    restored = ModelState.from_bytes(state.to_bytes())
    assert restored.position(0) == (5, RecordMark.of(b"five", 1.0))
    restored.rebase(0)
    assert restored.position(0) is None and not restored.is_applied(0, 0)


def test_round_trip_keeps_open_windows_baseline_and_counters():
    state = ModelState("fraud", "1")
    ingest(state, T0 + 1.0, T0 + 12.0, T0 + 14.0, T0 + 21.0)
    state.due_windows(RULES, WALL)
    ingest(state, T0 + 2.0)  # late
    state.mark_applied(3, 41)
    state.baseline = WindowAccumulator(T0 - 10.0, T0)
    state.baseline.add(rows_at(T0 - 5.0, T0 - 4.0), EMPTY_LAYOUT, 16)
    state.baseline_windows = 1
    state.baseline_formed, state.baseline_unstored_json = True, b'{"format": "x"}'
    state.last_status, state.last_window_end_s = "baseline", T0 + 10.0

    restored = ModelState.from_bytes(state.to_bytes())

    assert (restored.model, restored.version) == ("fraud", "1")
    assert sorted(restored.open_windows) == sorted(state.open_windows) == [T0 + 10.0, T0 + 20.0]
    for start, window in state.open_windows.items():
        assert restored.open_windows[start].to_bytes() == window.to_bytes()
    assert restored.watermark_s == state.watermark_s == T0 + 21.0
    assert restored.closed_until_s == T0 + 10.0
    assert restored.last_seen_wall_s == WALL
    assert (restored.events_total, restored.late_events) == (4, 1)
    assert restored.applied_offsets == {3: 41}
    assert restored.baseline is not None and restored.baseline.to_bytes() == state.baseline.to_bytes()
    assert restored.baseline_windows == 1
    assert restored.baseline_formed and restored.baseline_unstored_json is None  # the profile is not in the record
    assert (restored.last_status, restored.last_window_end_s) == ("baseline", T0 + 10.0)
    # The restored state goes on exactly like the original.
    assert ingest(restored, T0 + 3.0) == 1
    ingest(restored, T0 + 40.0)
    assert spans(restored.due_windows(RULES, WALL)) == [(T0 + 10.0, T0 + 20.0, 2), (T0 + 20.0, T0 + 30.0, 1)]


def test_round_trip_of_a_fresh_state():
    restored = ModelState.from_bytes(ModelState("m", "v").to_bytes())
    assert restored.open_windows == {} and restored.baseline is None
    assert not restored.baseline_formed and restored.baseline_unstored_json is None
    assert restored.watermark_s == restored.closed_until_s == restored.last_seen_wall_s == -math.inf
    assert restored.last_status == "no_data" and restored.last_window_end_s is None


def older_record(state: ModelState, profile_json: bytes) -> bytes:
    """``state`` as a worker wrote it before baselines had a table: the profile inline, no ``baseline_formed``."""
    header, blobs = unpack(state.to_bytes(), "model_state", 1)
    del header["baseline_formed"]
    return pack("model_state", 1, header, [*blobs[:-1], profile_json])


def test_the_record_does_not_carry_the_baseline_profile():
    state = ModelState("fraud", "1")
    ingest(state, T0 + 1.0)
    without = len(state.to_bytes())
    state.baseline_formed, state.baseline_unstored_json = True, b'{"format": "x", "features": {}}' * 100
    assert b'"format"' not in state.to_bytes() and len(state.to_bytes()) == without - 1  # "true" for "false"
    assert len(older_record(state, state.baseline_unstored_json)) > without + 3000


def test_an_older_record_with_the_profile_inline_still_loads_and_hands_the_profile_on():
    state = ModelState("fraud", "1")
    ingest(state, T0 + 1.0, T0 + 12.0)
    state.baseline_windows = 1
    restored = ModelState.from_bytes(older_record(state, b'{"format": "x"}'))
    assert restored.baseline_formed and restored.baseline_unstored_json == b'{"format": "x"}'
    assert sorted(restored.open_windows) == [T0, T0 + 10.0] and restored.events_total == 2
    never_formed = ModelState.from_bytes(older_record(ModelState("fraud", "1"), b""))
    assert not never_formed.baseline_formed and never_formed.baseline_unstored_json is None


def test_the_previous_release_reads_a_new_record_as_one_without_a_baseline():
    # Its reader took the profile from the blob after the baseline accumulator's: that slot stays, empty.
    state = ModelState("fraud", "1")
    ingest(state, T0 + 1.0)
    state.baseline_formed = True
    header, blobs = unpack(state.to_bytes(), "model_state", 1)
    assert blobs[len(header["windows"]) + 1] == b""


@pytest.mark.parametrize("lateness", [0.0, 2.0])
def test_watermark_only_moves_forward(lateness):
    rules = WindowRules(10.0, lateness, 5.0, 16)
    state = ModelState("fraud", "1")
    state.ingest(rows_at(T0 + 30.0), EMPTY_LAYOUT, rules, WALL)
    state.ingest(rows_at(T0 + 5.0), EMPTY_LAYOUT, rules, WALL)
    assert state.watermark_s == T0 + 30.0
    assert [w.start_s for w in state.due_windows(rules, WALL)] == [T0]


def test_a_row_older_than_a_window_its_own_batch_closed_is_late():
    # T0 + 25 passes window T0's end plus the lateness: T0 + 3, after it, is late even in the same batch.
    state = ModelState("fraud", "1")
    assert ingest(state, T0 + 5.0, T0 + 25.0, T0 + 3.0) == 1
    assert (state.events_total, state.late_events) == (2, 1)
    assert spans(state.due_windows(RULES, now_wall_s=WALL)) == [(T0, T0 + 10.0, 1)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.0, 60.0, allow_nan=False), min_size=1, max_size=40),
       st.lists(st.integers(1, 40), min_size=1, max_size=40))
def test_how_rows_are_batched_never_changes_what_is_counted_or_closed(offsets, batch_sizes):
    """A worker that falls behind takes a model's rows in big batches; the counts must be those of one at a time."""
    times = [T0 + o for o in offsets]

    def run(sizes: list[int]) -> tuple[int, int, list[tuple[float, float, int]]]:
        state, closed, i = ModelState("fraud", "1"), [], 0
        for size in sizes:
            if i < len(times):
                ingest(state, *times[i : i + size])
                closed += state.due_windows(RULES, now_wall_s=WALL)
                i += size
        return state.events_total, state.late_events, sorted(spans(closed + list(state.open_windows.values())))

    one_at_a_time = run([1] * len(times))
    assert run(batch_sizes + [len(times)]) == one_at_a_time
    assert one_at_a_time[0] + one_at_a_time[1] == len(times)
