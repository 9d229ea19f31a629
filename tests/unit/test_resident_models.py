"""A model that stops sending costs nothing in Python memory once its windows close (its state stays in the table)."""

from __future__ import annotations

from streamer.batch import state_key
from streamer.pipeline import TABLE_MODELS
from tests.unit.test_pipeline import MODEL, SETTINGS, T0, Harness, event, window_events

KEY = state_key(MODEL, "1")


class CountingHarness(Harness):
    """Counts reads of the model_state table."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        load = self.pipeline.load

        def counting(table: str, key: bytes) -> bytes | None:
            self.reads += table == TABLE_MODELS
            return load(table, key)

        self.pipeline.load = counting


def silent_after_two_windows() -> CountingHarness:
    h = CountingHarness()
    h.send(window_events(T0, 40, seed=1) + window_events(T0 + 10, 40, seed=2))
    return h


def test_a_model_with_an_open_window_stays_in_memory():
    h = silent_after_two_windows()
    assert KEY in h.pipeline._states  # its second window is open
    assert h.pipeline.worker_report()["models_cached"] == 1


def test_once_its_windows_close_by_idleness_the_model_leaves_memory_and_ticks_do_not_read_it():
    h = silent_after_two_windows()
    h.now += SETTINGS.idle_close_seconds
    h.process([h.tick()])
    assert [w["events"] for w in h.windows()] == [40, 40]
    assert KEY not in h.pipeline._states and h.pipeline.worker_report()["models_cached"] == 0
    reads = h.reads
    for _ in range(20):  # ten seconds of ticks, far from data_missing: nothing to do, nothing read
        h.now += 0.5
        h.process([h.tick()])
    assert h.reads == reads
    assert h.pipeline._status_sent == {} and len(h.pipeline._open_summaries) == 0


def test_an_evicted_model_still_raises_data_missing_on_time_then_counts_on_from_the_table():
    h = silent_after_two_windows()
    h.now += SETTINGS.idle_close_seconds
    h.process([h.tick()])
    h.now += SETTINGS.missing_after_seconds - SETTINGS.idle_close_seconds - 1
    h.process([h.tick()])
    assert [a["kind"] for a in h.alerts()] == []
    h.now += 2
    h.process([h.tick()])
    assert [a["kind"] for a in h.alerts()] == ["data_missing"]
    assert KEY not in h.pipeline._states
    h.now += 60
    h.process([h.tick()])
    assert [a["kind"] for a in h.alerts()] == ["data_missing"]  # raised once per silence
    h.process([h.record(event(T0 + 100.0, 0.5))])  # data returns: loaded back with its counts
    assert [a["kind"] for a in h.alerts()] == ["data_missing", "resolved"]
    assert h.statuses()[-1]["events_total"] == 81


def test_eviction_keeps_counts_exact_across_a_restart_on_the_same_table():
    h = silent_after_two_windows()
    h.now += SETTINGS.idle_close_seconds
    h.process([h.tick()])
    again = Harness(store=h.store, clock_s=h.now)
    again.next_offset = dict(h.next_offset)
    again.send(window_events(T0 + 30, 40, seed=3))
    assert again.statuses()[-1]["events_total"] == 120
