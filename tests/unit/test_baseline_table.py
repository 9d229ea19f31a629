"""A collected baseline's profile: written once under its own key, not with every state write, and found again
after an eviction, a restart, or in a record written before the table existed."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from streamer.batch import Effects, state_key
from streamer.pipeline import BASELINE_KEY_PREFIX, TABLE_MODELS, baseline_key
from streamer.reference.profile import ReferenceProfile
from streamer.sketches.codec import pack, unpack
from tests.unit.test_pipeline import SETTINGS, T0, Harness, event, window_events

KEY = state_key("fraud", "1")
BASELINE = (TABLE_MODELS, baseline_key(KEY))  # where the profile is stored


class RecordingHarness(Harness):
    """Keeps every batch's writes, in order, and counts reads of the baseline table."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batches: list[Effects] = []
        self.baseline_reads = 0
        load = self.pipeline.load

        def counting(table: str, key: bytes) -> bytes | None:
            self.baseline_reads += key.startswith(BASELINE_KEY_PREFIX)
            return load(table, key)

        self.pipeline.load = counting
        self.pipeline.closer.load_baseline = lambda key: counting(TABLE_MODELS, baseline_key(key))

    def process(self, records: Any) -> Effects:
        effects = super().process(records)
        self.batches.append(effects)
        return effects

    def writes(self, table: str) -> list[bytes]:
        """The state records written to ``table`` (baseline profiles apart: :meth:`baseline_writes`)."""
        return [w.value for effects in self.batches for w in effects.writes
                if w.table == table and not w.key.startswith(BASELINE_KEY_PREFIX)]

    def baseline_writes(self) -> list[bytes]:
        return [w.value for effects in self.batches for w in effects.writes if w.key.startswith(BASELINE_KEY_PREFIX)]


def without_parse_time(profile: ReferenceProfile) -> dict[str, Any]:
    """The profile's content (``created_at`` is when it was parsed)."""
    document = orjson.loads(profile.to_json(compact=True, quantile_sketches=False))
    return {k: v for k, v in document.items() if k != "created_at"}


def with_baseline() -> RecordingHarness:
    """A model whose first window formed its baseline; its second window is open."""
    h = RecordingHarness()
    h.send(window_events(T0, 400, seed=1), batch_size=100, advance_s=1.0)
    h.send(window_events(T0 + 10.0, 400, seed=2), batch_size=100, advance_s=1.0)
    return h


def closed_by_idleness(h: Harness) -> Harness:
    """Close the open window by idleness, which opens no other (the model leaves memory)."""
    h.now += SETTINGS.idle_close_seconds
    h.process([h.tick()])
    return h


def restarted(h: Harness, store: dict[tuple[str, bytes], bytes] | None = None) -> RecordingHarness:
    again = RecordingHarness(store=dict(h.store) if store is None else store, clock_s=h.now + 1.0)
    again.next_offset = dict(h.next_offset)
    return again


def older_form(record: bytes, profile: bytes) -> bytes:
    """A state record as the previous release wrote it: no ``baseline_formed``, the profile in the last blob."""
    header, blobs = unpack(record, "model_state", 1)
    del header["baseline_formed"]
    return pack("model_state", 1, header, [*blobs[:-1], profile])


def shifted_window(h: Harness, start_s: float) -> dict[str, Any]:
    """Send a window whose ``x`` moved by 1.5 std, close it, and return its summary."""
    h.send(window_events(start_s, 400, seed=3, shift=1.5), batch_size=100, advance_s=1.0)
    h.process([h.record(event(start_s + 100.0, 0.0))])
    return next(w for w in h.windows() if w["window_start_s"] == start_s)


def test_the_baseline_goes_once_to_its_table_before_the_state_write_of_its_batch():
    h = closed_by_idleness(with_baseline())
    assert len(h.baseline_writes()) == 1
    formed = next(e for e in h.batches if any(w.key == baseline_key(KEY) for w in e.writes))
    tables = [(w.table, w.key) for w in formed.writes if w.key in (KEY, baseline_key(KEY))]
    assert tables == [BASELINE, (TABLE_MODELS, KEY)]  # same batch and table (one changelog partition), baseline first
    handles = {w.key: w.handle for w in formed.writes if w.key in (KEY, baseline_key(KEY))}
    assert handles[KEY] is handles[baseline_key(KEY)]  # under the same event: the same partition
    profile, record = h.store[BASELINE], h.store[(TABLE_MODELS, KEY)]
    assert profile.startswith(b'{"format":"streamer.reference/1"')
    assert unpack(record, "model_state", 1)[0]["baseline_formed"]
    assert not any(b"streamer.reference/1" in v for v in h.writes(TABLE_MODELS))
    # What each state write no longer carries: the profile, for a flag in the header.
    assert len(older_form(record, profile)) - len(record) >= len(profile) - len(b',"baseline_formed":true')
    assert [w["reference"] for w in h.windows()] == ["collecting", "baseline"]


def test_an_evicted_model_reads_its_baseline_back_and_compares_with_the_same_profile():
    h = with_baseline()
    formed = without_parse_time(h.pipeline.closer._baselines[KEY])
    assert h.baseline_reads == 0  # parsed when it formed, kept while the model is in memory
    closed_by_idleness(h)
    assert KEY not in h.pipeline._states and KEY not in h.pipeline.closer._baselines
    assert h.statuses()[-1]["reference"] == "baseline"
    summary = shifted_window(h, T0 + 20.0)
    assert h.baseline_reads == 1  # read once, then cached while the model is in memory
    assert without_parse_time(h.pipeline.closer._baselines[KEY]) == formed
    assert summary["reference"] == "baseline" and summary["drift"]["drifted_features"] == ["x"]
    assert len(h.baseline_writes()) == 1
    assert h.statuses()[-1]["reference"] == "baseline"


def test_a_restarted_worker_finds_the_baseline_in_its_table():
    h = closed_by_idleness(with_baseline())
    again = restarted(h)
    summary = shifted_window(again, T0 + 20.0)
    assert summary["reference"] == "baseline" and summary["drift"]["drifted_features"] == ["x"]
    assert again.baseline_writes() == [] and again.baseline_reads == 1  # formed once, before the restart
    assert again.statuses()[-1]["reference"] == "baseline"


def test_forget_drops_the_parsed_baselines_and_they_are_read_again():
    h = with_baseline()
    assert KEY in h.pipeline.closer._baselines
    h.pipeline.forget()  # a rebalance
    assert h.pipeline.closer._baselines == {}
    assert shifted_window(h, T0 + 20.0)["reference"] == "baseline"
    assert h.baseline_reads == 1


def test_a_record_with_the_profile_inline_still_loads_and_moves_it_to_the_table():
    h = closed_by_idleness(with_baseline())
    profile = h.store[BASELINE]
    store = {k: v for k, v in h.store.items() if k != BASELINE}
    store[(TABLE_MODELS, KEY)] = older_form(h.store[(TABLE_MODELS, KEY)], profile)
    again = restarted(h, store)
    summary = shifted_window(again, T0 + 20.0)
    assert summary["reference"] == "baseline" and summary["drift"]["drifted_features"] == ["x"]
    assert again.baseline_reads == 0  # taken from the record itself
    assert again.baseline_writes() == [profile]  # moved with the first state write, once
    assert again.store[BASELINE] == profile
    assert unpack(again.store[(TABLE_MODELS, KEY)], "model_state", 1)[0]["baseline_formed"] is True


def test_a_baseline_whose_write_was_lost_in_a_crash_is_collected_again(caplog: pytest.LogCaptureFixture):
    h = closed_by_idleness(with_baseline())
    # The state record's write reached its changelog, the baseline table's did not.
    store = {k: v for k, v in h.store.items() if k != BASELINE}
    again = restarted(h, store)
    with caplog.at_level(logging.WARNING, logger="streamer.windows.closing"):
        again.send(window_events(T0 + 20.0, 400, seed=4), batch_size=100, advance_s=1.0)
    assert "baseline profile is not stored" in caplog.text
    summary = shifted_window(again, T0 + 30.0)
    first = next(w for w in again.windows() if w["window_start_s"] == T0 + 20.0)
    assert first["reference"] == "collecting" and first["baseline_progress"] == "1/1"
    assert summary["reference"] == "baseline" and summary["drift"]["drifted_features"] == ["x"]
    assert len(again.baseline_writes()) == 1 and BASELINE in again.store


def test_an_older_record_moved_by_a_batch_of_redelivered_records_keeps_its_baseline(caplog: pytest.LogCaptureFixture):
    # The batch applies nothing (every record was applied), yet writes the state, and its status reads the
    # open window's drift against the baseline after that write, before the table has the profile.
    h = with_baseline()
    profile = h.pipeline.closer._baselines[KEY].to_json(compact=True, quantile_sketches=False)
    store = {k: v for k, v in h.store.items() if k != BASELINE}
    store[(TABLE_MODELS, KEY)] = older_form(h.store[(TABLE_MODELS, KEY)], profile)
    again = restarted(h, store)
    with caplog.at_level(logging.WARNING, logger="streamer.windows.closing"):
        again.process([again.record(event(T0 + 1.0, 0.0), offset=0)])
    assert again.pipeline.counters.rows_duplicate == 1 and again.baseline_writes() == [profile]
    assert "not stored" not in caplog.text
    status = again.statuses()[-1]
    assert status["reference"] == "baseline" and status["open_windows"][0]["reference"] == "baseline"
