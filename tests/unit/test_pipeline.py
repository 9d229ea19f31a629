"""Pipeline: one micro-batch in, state writes and messages out, driven without Kafka or Faust.

The harness keeps the state tables in a dict (applying each batch's writes, as topology.py does),
reads time from a fake clock, and builds the Kafka records by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson

from streamer.config import Settings
from streamer.kafka.topics import partition_for_key
from streamer.pipeline import TABLE_MODELS, Effects, Inbound, Outbound, Pipeline, state_key
from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry
from streamer.windows.model_state import RecordMark

SETTINGS = Settings(window_seconds=10, allowed_lateness_seconds=2, idle_close_seconds=5, partitions=4)
T0 = 1795687200.0  # 2026-11-26T10:00:00Z, a multiple of the window length
MODEL = "fraud"
PARTITION = partition_for_key(MODEL.encode(), SETTINGS.partitions)


class Harness:
    """A Pipeline over an in-memory table store, a fake clock and hand-made Kafka records."""

    def __init__(self, registry: ReferenceRegistry | None = None, *, clock_s: float = T0,
                 store: dict[tuple[str, bytes], bytes] | None = None) -> None:
        self.store: dict[tuple[str, bytes], bytes] = {} if store is None else store
        self.now = clock_s
        self.registry = registry or ReferenceRegistry()
        self.pipeline = Pipeline(SETTINGS, self.registry, load=lambda table, key: self.store.get((table, key)),
                                 clock=lambda: self.now)
        self.next_offset: dict[tuple[str, int], int] = {}
        self.sent: list[Outbound] = []

    def record(self, payload: bytes | dict[str, Any], *, partition: int = PARTITION, offset: int | None = None,
               topic: str = SETTINGS.topic_predictions, key: bytes | None = MODEL.encode()) -> Inbound:
        if offset is None:
            offset = self.next_offset.get((topic, partition), 0)
        self.next_offset[(topic, partition)] = max(self.next_offset.get((topic, partition), 0), offset + 1)
        value = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        return Inbound(topic, partition, offset, key, value, self.now)

    def tick(self, partition: int = PARTITION) -> Inbound:
        return Inbound(SETTINGS.topic_ticks, partition, self.next_offset.get(("ticks", partition), 0), None, b"{}",
                       self.now)

    def process(self, records: Iterable[Inbound]) -> Effects:
        effects = self.pipeline.process(list(records))
        for write in effects.writes:
            self.store[(write.table, write.key)] = write.value
        self.sent.extend(effects.messages)
        return effects

    def send(self, events: Iterable[dict[str, Any]], *, batch_size: int = 50, advance_s: float = 0.0) -> None:
        """Send events as single-event messages, ``batch_size`` records per micro-batch."""
        events = list(events)
        for i in range(0, len(events), batch_size):
            self.now += advance_s
            self.process([self.record(e) for e in events[i : i + batch_size]])

    def on(self, topic: str) -> list[Outbound]:
        return [m for m in self.sent if m.topic == topic]

    def values(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(m.value) for m in self.on(topic)]

    def windows(self) -> list[dict[str, Any]]:
        return self.values(SETTINGS.topic_windows)

    def alerts(self) -> list[dict[str, Any]]:
        return self.values(SETTINGS.topic_alerts)

    def statuses(self) -> list[dict[str, Any]]:
        return self.values(SETTINGS.topic_status)


def event(t: float, x: float, country: str = "DE", *, model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {"model": model, "version": "1", "timestamp": t, "features": {"x": x, "country": country},
            "prediction": int(x > 0), "latency_ms": 12.0, **extra}


def window_events(start_s: float, n: int, seed: int, shift: float = 0.0) -> list[dict[str, Any]]:
    """``n`` events spread over the window starting at ``start_s``; ``x`` ~ N(shift, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    countries = rng.choice(["DE", "FR", "US"], n, p=[0.5, 0.3, 0.2])
    return [event(start_s + 9.9 * i / n, float(x[i]), str(countries[i])) for i in range(n)]


def reference_registry() -> ReferenceRegistry:
    rng = np.random.default_rng(99)
    n = 4000
    x = rng.normal(0.0, 1.0, n)
    profile = ReferenceProfile.from_columns(
        MODEL, None, features={"x": x, "country": rng.choice(["DE", "FR", "US"], n, p=[0.5, 0.3, 0.2]).tolist()},
        outputs={"prediction": (x > 0).astype(int).tolist()})
    registry = ReferenceRegistry()
    registry.handle_record(MODEL.encode(), profile.to_json(), T0)
    assert not registry.rejected
    return registry


def close_all(h: Harness) -> None:
    """Push event time far ahead of every open window with one event of another window."""
    h.process([h.record(event(h.now + 1000.0, 0.0))])


# -- rejected and misrouted records -----------------------------------------------------------


BAD_PAYLOADS = [  # (payload, a fragment of its dead-letter reason)
    (b"not json", "not valid JSON"),
    (b"", "empty"),
    (b"[1, 2, 3]", "array"),
    (orjson.dumps({"features": {"x": 1.0}}), "model is missing"),
    (orjson.dumps({"model": "no spaces allowed", "features": {"x": 1.0}}), "characters other than"),
    (orjson.dumps({"model": MODEL, "features": {"x": [1, 2]}}), "features.x"),
    (orjson.dumps({"model": MODEL, "timestamp": "yesterday", "features": {"x": 1.0}}), "RFC 3339"),
    (orjson.dumps({"model": MODEL, "timestamp": T0 + 3 * 86400, "features": {"x": 1.0}}), "ahead of the worker"),
    (b"\xff\xfe not utf-8", "UTF-8"),
]


def test_malformed_payloads_go_to_dead_letters_and_good_events_still_count():
    h = Harness()
    bad = [h.record(payload) for payload, _ in BAD_PAYLOADS]
    h.process(bad)
    dead = h.on(SETTINGS.topic_dead_letters)
    assert len(dead) == len(BAD_PAYLOADS)
    assert h.pipeline.counters.dead_letters == len(BAD_PAYLOADS)
    for message, record, (_, reason) in zip(dead, bad, BAD_PAYLOADS, strict=True):
        letter = orjson.loads(message.value)
        assert set(letter) >= {"error", "topic", "partition", "offset", "payload", "received_at"}
        assert reason in letter["error"]
        assert (letter["topic"], letter["partition"], letter["offset"]) == (
            SETTINGS.topic_predictions, PARTITION, record.offset)
        assert letter["payload"] == record.value.decode("utf-8", "replace")
        assert letter["received_at"] == "2026-11-26T10:00:00.000Z"
    assert h.on(SETTINGS.topic_status) == [] and h.store == {}

    h.now += 1.0
    h.send([event(T0 + 1.0, 0.5), event(T0 + 2.0, -0.5)])
    h.now += 1.0
    h.process([h.record(b"{broken"), h.record(event(T0 + 3.0, 1.5))])  # bad and good in one batch
    assert len(h.on(SETTINGS.topic_dead_letters)) == len(BAD_PAYLOADS) + 1
    assert h.statuses()[-1]["events_total"] == 3
    assert h.pipeline.counters.rows_accepted == 3


def test_a_record_on_the_wrong_partition_is_forwarded_not_counted():
    h = Harness()
    wrong = (PARTITION + 1) % SETTINGS.partitions
    record = h.record(event(T0 + 1.0, 0.5), partition=wrong, key=None)
    effects = h.process([record])
    assert effects.messages == [Outbound(SETTINGS.topic_predictions, MODEL.encode(), record.value)]
    assert effects.writes == []
    assert h.pipeline.counters.forwarded == 1 and h.pipeline.counters.rows_accepted == 0
    assert (TABLE_MODELS, state_key(MODEL, "1")) not in h.store
    # Delivered again on the model's own partition, it counts once.
    h.process([h.record(orjson.loads(record.value))])
    assert h.statuses()[-1]["events_total"] == 1


def test_redelivered_offsets_are_not_counted_twice():
    h = Harness()
    records = [h.record(event(T0 + i, 0.1 * i)) for i in range(5)]
    h.process(records)
    h.now += 1.0
    h.process(records[2:])  # redelivered after a crash
    assert h.statuses()[-1]["events_total"] == 5
    assert h.pipeline.counters.rows_duplicate == 3
    # A new Pipeline over the same tables (a restarted worker) still knows the applied offsets.
    restarted = Harness(store=h.store, clock_s=h.now + 1.0)
    restarted.next_offset = dict(h.next_offset)
    restarted.process(records + [restarted.record(event(T0 + 6.0, 0.0))])
    assert restarted.pipeline.counters.rows_duplicate == 5
    assert restarted.statuses()[-1]["events_total"] == 6


def restarted_on_a_new_log(h: Harness) -> Harness:
    """A restarted worker over the same tables, reading a replaced log whose offsets start again at 0."""
    return Harness(store=h.store, clock_s=h.now + 60.0)


def test_a_replaced_log_is_recognised_in_the_batch_and_every_new_record_counts():
    h = Harness()
    h.process([h.record(event(T0 + i, 0.1 * i)) for i in range(5)])
    restarted = restarted_on_a_new_log(h)
    fresh = [restarted.record(event(T0 + 20 + i, -0.1 * i)) for i in range(8)]  # offsets 0..7 again
    restarted.process(fresh)
    assert restarted.pipeline.counters.rows_duplicate == 0
    assert restarted.pipeline.counters.log_resets == 1
    assert restarted.statuses()[-1]["events_total"] == 13
    # Redelivered from the new log, the same records are duplicates again.
    again = Harness(store=restarted.store, clock_s=restarted.now + 1.0)
    again.process(fresh[3:])
    assert (again.pipeline.counters.rows_duplicate, again.pipeline.counters.log_resets) == (5, 0)


def test_a_replaced_log_shorter_than_the_old_one_is_recognised_by_a_lookup():
    h = Harness()
    h.process([h.record(event(T0 + i, 0.1 * i)) for i in range(10)])
    restarted = restarted_on_a_new_log(h)
    fresh = [restarted.record(event(T0 + 20 + i, 0.0)) for i in range(3)]  # offsets 0..2; 9 was applied
    plan = restarted.pipeline.plan(fresh)
    assert restarted.pipeline.lookups(plan) == [(PARTITION, 9)]
    restarted.pipeline.settle(plan, {(PARTITION, 9): None})  # the log has no record at offset 9
    restarted.pipeline.apply(plan)
    assert restarted.pipeline.counters.rows_accepted == 3 and restarted.pipeline.counters.log_resets == 1


def test_a_lookup_that_finds_the_applied_record_confirms_a_redelivery():
    h = Harness()
    records = [h.record(event(T0 + i, 0.1 * i)) for i in range(10)]
    h.process(records)
    restarted = Harness(store=h.store, clock_s=h.now + 1.0)
    plan = restarted.pipeline.plan(records[:4])  # redelivered from the committed offset; 9 is not in the batch
    assert restarted.pipeline.lookups(plan) == [(PARTITION, 9)]
    restarted.pipeline.settle(plan, {(PARTITION, 9): RecordMark.of(records[9].value, records[9].timestamp_s)})
    restarted.pipeline.apply(plan)
    assert restarted.pipeline.counters.rows_duplicate == 4 and restarted.pipeline.counters.log_resets == 0
    # Once confirmed, later batches need no lookup.
    assert restarted.pipeline.lookups(restarted.pipeline.plan(records[4:6])) == []


def test_the_same_bytes_produced_again_at_another_time_are_a_new_log():
    h = Harness()
    records = [h.record(event(T0 + i, 0.0)) for i in range(3)]
    h.process(records)
    restarted = Harness(store=h.store, clock_s=h.now + 60.0)  # a replay of the same file: same bytes, later
    restarted.process([restarted.record(orjson.loads(r.value)) for r in records])
    assert restarted.pipeline.counters.log_resets == 1 and restarted.pipeline.counters.rows_duplicate == 0


# -- drift against a registered reference -----------------------------------------------------


def test_a_stationary_stream_with_a_reference_raises_no_alert():
    h = Harness(reference_registry())
    for w in range(3):
        h.send(window_events(T0 + 10.0 * w, 400, seed=w), batch_size=100, advance_s=1.0)
    close_all(h)
    windows = h.windows()
    assert [w["events"] for w in windows] == [400, 400, 400]
    assert [w["reference"] for w in windows] == ["registered"] * 3
    assert [w["status"] for w in windows] == ["ok"] * 3
    assert h.alerts() == []


def test_a_shifted_stream_raises_data_drift_detected_naming_the_feature():
    h = Harness(reference_registry())
    h.send(window_events(T0, 400, seed=1), batch_size=100, advance_s=1.0)
    h.send(window_events(T0 + 10.0, 400, seed=2, shift=1.0), batch_size=100, advance_s=1.0)
    close_all(h)
    windows = h.windows()
    assert [w["status"] for w in windows] == ["ok", "critical"]
    assert windows[1]["drift"]["drifted_features"] == ["x"]
    drift = [a for a in h.alerts() if a["kind"].startswith("data_drift")]
    assert len(drift) == 1
    alert = drift[0]
    assert alert["kind"] == "data_drift_detected" and alert["severity"] == "critical"
    assert (alert["model"], alert["version"]) == (MODEL, "1")
    assert (alert["window_start"], alert["window_end"]) == ("2026-11-26T10:00:10.000Z", "2026-11-26T10:00:20.000Z")
    assert {n for n, m in alert["details"]["features"].items() if m["status"] == "detected"} == {"x"}
    assert alert["details"]["features"]["country"]["status"] == "ok"
    assert alert["message"].endswith("drifted: x")
    assert all(m.key == MODEL.encode() for m in h.on(SETTINGS.topic_alerts))


# -- baseline without a reference -------------------------------------------------------------


def test_without_a_reference_the_first_window_is_the_baseline():
    h = Harness()
    h.send(window_events(T0, 400, seed=1), batch_size=100, advance_s=1.0)
    assert h.statuses()[-1]["status"] == "baseline"
    assert h.statuses()[-1]["reference"] == "collecting"
    h.send(window_events(T0 + 10.0, 400, seed=2), batch_size=100, advance_s=1.0)
    h.send(window_events(T0 + 20.0, 400, seed=3, shift=1.5), batch_size=100, advance_s=1.0)
    close_all(h)
    first, second, third = h.windows()[:3]
    assert first["status"] == "baseline" and first["drift"] is None and first["reference"] == "collecting"
    assert first["baseline_progress"] == "1/1"
    assert second["reference"] == "baseline" and second["drift"] is not None
    assert set(second["drift"]) >= {"status", "drifted_features"} and "x" in second["features"]
    assert second["status"] == "ok"
    assert third["reference"] == "baseline"
    assert third["status"] == "critical" and third["drift"]["drifted_features"] == ["x"]
    assert [a["window_start"] for a in h.alerts() if a["kind"] == "data_drift_detected"] == [
        "2026-11-26T10:00:20.000Z"]
    status = h.statuses()[-1]
    assert status["reference"] == "baseline" and status["baseline_windows"] == 1


# -- idle close by ticks ----------------------------------------------------------------------


def test_ticks_close_idle_windows_after_idle_close_seconds():
    h = Harness()
    h.send([event(T0 + 1.0, 0.5), event(T0 + 2.0, 0.7)])
    h.now += 4.9
    h.process([h.tick()])
    assert h.windows() == []
    h.now += 0.1
    h.process([h.tick((PARTITION + 1) % SETTINGS.partitions)])  # another partition's tick: not this model
    assert h.windows() == []
    h.process([h.tick()])
    windows = h.windows()
    assert len(windows) == 1
    assert (windows[0]["window_start"], windows[0]["events"], windows[0]["closed_by"]) == (
        "2026-11-26T10:00:00.000Z", 2, "idle")
    # The close was written to the state table: a restarted pipeline does not close it again.
    restarted = Harness(store=h.store, clock_s=h.now + 60.0)
    restarted.process([restarted.tick()])
    assert restarted.windows() == []


def test_a_tick_on_a_partition_without_models_does_nothing():
    h = Harness()
    effects = h.process([h.tick()])
    assert effects.messages == [] and effects.writes == []


# -- determinism and counts -------------------------------------------------------------------


def test_alert_ids_are_deterministic_across_independent_runs():
    def run(clock_s: float, batch_size: int) -> list[dict[str, Any]]:
        h = Harness(reference_registry(), clock_s=clock_s)
        h.send(window_events(T0, 300, seed=5, shift=1.0), batch_size=batch_size, advance_s=0.5)
        h.send(window_events(T0 + 10.0, 300, seed=6, shift=-1.0), batch_size=batch_size, advance_s=0.5)
        close_all(h)
        return h.alerts()

    first, second = run(T0, 100), run(T0 + 500.0, 37)
    assert len(first) >= 2
    assert [(a["id"], a["kind"], a["window_start"]) for a in first] == [
        (a["id"], a["kind"], a["window_start"]) for a in second]
    assert len({a["id"] for a in first}) == len(first)
    assert first[0]["created_at"] != second[0]["created_at"]  # the wall clock differs, the id does not


def test_status_events_total_equals_rows_sent():
    h = Harness()
    sent = 0
    for w in range(3):
        events = window_events(T0 + 10.0 * w, 120, seed=w)
        h.send(events, batch_size=40, advance_s=1.0)
        sent += len(events)
    batch_message = {"model": MODEL, "version": "1", "timestamp": T0 + 31.0, "features": {"x": 1.0},
                     "rows": [{"features": {"x": float(i)}} for i in range(25)] + [{"error": "timeout"}]}
    h.now += 1.0
    h.process([h.record(batch_message)])
    sent += 26
    status = h.statuses()[-1]
    assert status["events_total"] == sent
    assert (status["model"], status["version"]) == (MODEL, "1")
    assert status["late_events"] == 0
    assert sum(w["events"] for w in h.windows()) + sum(w["events"] for w in status["open_windows"]) == sent


def test_late_events_are_reported_and_not_counted():
    h = Harness()
    h.send([event(T0 + 1.0, 0.0), event(T0 + 13.0, 0.0)])  # closes [T0, T0 + 10)
    h.now += 1.0
    h.send([event(T0 + 2.0, 0.0), event(T0 + 14.0, 0.0)])
    status = h.statuses()[-1]
    assert (status["events_total"], status["late_events"]) == (3, 1)
    assert h.pipeline.counters.rows_late == 1


def test_status_is_sent_at_most_once_a_second_between_closes():
    h = Harness()
    h.send([event(T0 + 1.0, 0.0)])
    h.send([event(T0 + 2.0, 0.0)])
    assert len(h.statuses()) == 1
    h.now += 1.0
    h.send([event(T0 + 3.0, 0.0)])
    assert [s["events_total"] for s in h.statuses()] == [1, 3]


def test_models_are_kept_apart():
    other = next(name for name in (f"model-{i}" for i in range(100))
                 if partition_for_key(name.encode(), SETTINGS.partitions) == PARTITION)
    h = Harness()
    h.send([event(T0 + 1.0, 0.0), event(T0 + 2.0, 0.0, model=other), event(T0 + 3.0, 0.0)])
    totals = {s["model"]: s["events_total"] for s in h.statuses()}
    assert totals == {MODEL: 2, other: 1}


def test_a_nearly_constant_feature_in_the_baseline_does_not_stop_the_pipeline():
    h = Harness()
    h.send([event(T0 + i * 0.1, 0.0) | {"features": {"total": 0.3 if i % 2 else 0.1 + 0.2}}
            for i in range(50)])
    h.send([event(T0 + 10.0 + i * 0.1, 0.0) | {"features": {"total": 0.3}} for i in range(50)])
    close_all(h)  # closes the second window, compared with the baseline
    assert [w["reference"] for w in h.windows()][:2] == ["collecting", "baseline"]
