"""A recovering worker reads a model's backlog before its idle windows close (and before data_missing fires).

After a restart or a rebalance, a model's last event is old and ticks come before its backlog of
predictions: without the catch-up rule the first tick closes the open window and the backlog's rows
of that window turn late.
"""

from __future__ import annotations

from tests.unit.test_pipeline import PARTITION, SETTINGS, T0, Harness, event


def recovered(h: Harness) -> Harness:
    """The same state tables, read by a worker that took the partition 60 s later (longer than any idle timeout)."""
    worker = Harness(store=h.store, clock_s=h.now + 60.0)
    worker.next_offset = dict(h.next_offset)
    worker.pipeline.catch_up.assigned([PARTITION], worker.now)
    return worker


def test_a_tick_before_the_backlog_does_not_close_the_window_the_backlog_continues():
    h = Harness()
    h.send([event(T0 + 1.0, 0.5), event(T0 + 2.0, 0.7)])
    worker = recovered(h)
    backlog = [worker.record(event(T0 + 3.0 + i, 0.1 * i)) for i in range(5)]
    log_end = backlog[-1].offset + 1
    worker.pipeline.catch_up.observe(PARTITION, processed=None, consumer=backlog[0].offset, log_end=log_end,
                                     now_s=worker.now)
    worker.process([worker.tick()])  # the tick comes first: the model was last seen 60 s ago
    assert worker.windows() == []
    worker.process(backlog)
    worker.pipeline.catch_up.observe(PARTITION, processed=log_end, consumer=None, log_end=log_end, now_s=worker.now)
    worker.now += SETTINGS.idle_close_seconds
    worker.process([worker.tick()])
    windows = worker.windows()
    assert [(w["events"], w["closed_by"]) for w in windows] == [(7, "idle")]
    assert worker.pipeline.counters.rows_late == 0


def test_without_the_catch_up_rule_the_same_order_loses_the_backlog_to_late_rows():
    """What the rule prevents, shown on a worker that was never told of its assignment."""
    h = Harness()
    h.send([event(T0 + 1.0, 0.5), event(T0 + 2.0, 0.7)])
    worker = Harness(store=h.store, clock_s=h.now + 60.0)
    worker.next_offset = dict(h.next_offset)
    backlog = [worker.record(event(T0 + 3.0 + i, 0.1 * i)) for i in range(5)]
    worker.process([worker.tick()])
    worker.process(backlog)
    assert [w["events"] for w in worker.windows()] == [2]
    assert worker.pipeline.counters.rows_late == 5


def test_silence_counts_from_the_catch_up_not_from_a_last_event_seen_elsewhere():
    h = Harness()
    h.send([event(T0 + 1.0, 0.5)])
    worker = recovered(h)
    worker.now += SETTINGS.missing_after_seconds  # silent for longer than that, but only just taken over
    worker.process([worker.tick()])
    assert [a for a in worker.alerts() if a["kind"] == "data_missing"] == []
    end = worker.next_offset[(SETTINGS.topic_predictions, PARTITION)]
    worker.pipeline.catch_up.observe(PARTITION, processed=end, consumer=None, log_end=end, now_s=worker.now)
    worker.now += SETTINGS.missing_after_seconds - 1.0
    worker.process([worker.tick()])
    assert [a for a in worker.alerts() if a["kind"] == "data_missing"] == []
    worker.now += 1.0
    worker.process([worker.tick()])
    assert [a["kind"] for a in worker.alerts()] == ["data_missing"]
