"""The label join across a crash that kept only part of a micro-batch's table records (no broker).

After a SIGKILL, each table's changelog keeps a prefix of what the worker wrote: the ``model_state``
table and the ``ground_truth`` table independently, and within ``ground_truth`` any prefix of a
micro-batch's records (window states, concept monitor, then join blocks). The records after the last
committed offsets are delivered again, possibly interleaved differently across the predictions and
labels topics. Every label must still count exactly once in its prediction's window.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from streamer.batch import Inbound
from streamer.labels.stage import TABLE_GROUND_TRUTH
from streamer.performance.window import WindowPerformance
from tests.unit.labels.test_stage import _registry, _stream
from tests.unit.test_pipeline import SETTINGS, Harness

Store = dict[tuple[str, bytes], bytes]


def _labelled(store: Store) -> int:
    return sum(WindowPerformance.from_bytes(v).realized.labelled for (table, key), v in store.items()
               if table == TABLE_GROUND_TRUTH and key.split(b"\x1f")[1:2] == [b"w"] and v)


def _records(harness: Harness, predictions: list, labels: list, label_lag: int) -> list[Inbound]:
    """Predictions in order, each label ``label_lag`` predictions after its own (negative: before)."""
    records: list[Inbound] = []
    at: dict[int, list[int]] = {}
    for i in range(len(labels)):
        at.setdefault(min(max(i + label_lag, 0), len(predictions) - 1), []).append(i)
    for step, prediction in enumerate(predictions):
        if label_lag < 0:
            records += [harness.record(labels[i], topic=SETTINGS.topic_labels) for i in at.get(step, [])]
        records.append(harness.record(prediction))
        if label_lag >= 0:
            records += [harness.record(labels[i], topic=SETTINGS.topic_labels) for i in at.get(step, [])]
    return records


def _reinterleave(records: list[Inbound], rng: np.random.Generator) -> list[Inbound]:
    """The same records, each topic in its own order, the two topics merged another way (a redelivery)."""
    by_topic = [[r for r in records if r.topic == t] for t in (SETTINGS.topic_predictions, SETTINGS.topic_labels)]
    out: list[Inbound] = []
    while by_topic[0] or by_topic[1]:
        side = 0 if not by_topic[1] else 1 if not by_topic[0] else int(rng.random() < 0.5)
        out.append(by_topic[side].pop(0))
    return out


def _crash_run(rng: np.random.Generator, label_lag: int, cut: Any, batch_size: int = 25) -> tuple[int, int]:
    """Process the stream; at one micro-batch, keep only ``cut(writes)`` of it and of the batches before it
    since the last commit, then restart on that store and process the uncommitted records again."""
    registry = _registry(rng)
    harness = Harness(registry)
    predictions, labels = _stream(rng, 400, per_s=20.0)
    records = _records(harness, predictions, labels, label_lag)
    batches = [records[i : i + batch_size] for i in range(0, len(records), batch_size)]
    committed_at = len(batches) // 3
    crash_at = committed_at + 2
    for batch in batches[:committed_at]:
        harness.now = max(harness.now, batch[-1].timestamp_s)
        harness.process(batch)
    committed: Store = dict(harness.store)
    uncommitted_writes = []
    for batch in batches[committed_at:crash_at]:
        effects = harness.pipeline.process(batch)
        uncommitted_writes += effects.writes
        for write in effects.writes:
            harness.store[(write.table, write.key)] = write.value
    survived = dict(committed)
    for write in cut(uncommitted_writes):
        survived[(write.table, write.key)] = write.value
    restarted = Harness(registry, clock_s=harness.now, store=survived)
    restarted.next_offset = harness.next_offset
    replay = _reinterleave([r for b in batches[committed_at:] for r in b], rng)
    for i in range(0, len(replay), batch_size):
        restarted.now = max(restarted.now, replay[i].timestamp_s)
        restarted.process(replay[i : i + batch_size])
    restarted.now += 60
    restarted.process([restarted.tick()])
    return _labelled(restarted.store), len(labels)


def _prefix_of_each_table(ground_truth: float, model_state: float) -> Any:
    """Each table's changelog keeps a prefix of its writes: these fractions of them."""
    def cut(writes: list) -> list:
        out = []
        for table, fraction in ((TABLE_GROUND_TRUTH, ground_truth), ("model_state", model_state),
                                ("partition_models", model_state)):
            mine = [w for w in writes if w.table == table]
            out += mine[: int(round(fraction * len(mine)))]
        return out
    return cut


@pytest.mark.parametrize("label_lag", [30, -3])
@pytest.mark.parametrize(("ground_truth", "model_state"), [
    (1.0, 0.0),   # join blocks and windows written, the model's state not
    (0.0, 1.0),   # the model's state written, no block nor window
    (0.5, 1.0), (0.5, 0.0), (0.25, 0.5), (0.75, 0.25), (1.0, 1.0), (0.0, 0.0)])
def test_every_label_counts_once_whatever_part_of_the_batch_survived(label_lag: int, ground_truth: float,
                                                                      model_state: float) -> None:
    rng = np.random.default_rng(int(ground_truth * 100 + model_state * 10) + label_lag + 10)
    labelled, sent = _crash_run(rng, label_lag, _prefix_of_each_table(ground_truth, model_state))
    assert labelled == sent


def test_every_label_counts_once_at_every_cut_of_the_ground_truth_writes() -> None:
    rng = np.random.default_rng(7)
    for k in range(0, 40, 3):
        def cut(writes: list, k: int = k) -> list:
            ground_truth = [w for w in writes if w.table == TABLE_GROUND_TRUTH]
            return [w for w in writes if w.table != TABLE_GROUND_TRUTH] + ground_truth[:k]
        labelled, sent = _crash_run(rng, 30, cut)
        assert labelled == sent, k


def test_every_label_counts_once_across_random_crashes() -> None:
    rng = np.random.default_rng(11)
    for run in range(24):
        lag = int(rng.choice([-3, 0, 5, 30]))
        cut = _prefix_of_each_table(float(rng.random()), float(rng.random()))
        labelled, sent = _crash_run(rng, lag, cut, batch_size=int(rng.integers(5, 60)))
        assert labelled == sent, (run, lag)


def test_messages_lost_with_the_worker_are_sent_again_on_redelivery() -> None:
    """Every table record of the last micro-batches survived, their window updates and alerts did not."""
    from tests.unit.labels.test_stage import _labelled_total

    rng = np.random.default_rng(5)
    registry = _registry(rng)
    harness = Harness(registry)
    predictions, labels = _stream(rng, 600, per_s=20.0, flip_from=300)
    records = _records(harness, predictions, labels, 100)
    batches = [records[i : i + 25] for i in range(0, len(records), 25)]
    for batch in batches:
        harness.now = max(harness.now, batch[-1].timestamp_s)
        harness.process(batch)
    harness.now += 60
    harness.process([harness.tick()])
    expected = _labelled_total(harness)
    assert expected == 600
    kept = list(harness.sent)
    lost_from = len(batches) - 12
    replayed = Harness(registry)
    for batch in batches[:lost_from]:
        replayed.now = max(replayed.now, batch[-1].timestamp_s)
        replayed.process(batch)
    sent_before = len(replayed.sent)
    for batch in batches[lost_from:]:
        replayed.now = max(replayed.now, batch[-1].timestamp_s)
        replayed.process(batch)
    replayed.now += 60
    replayed.process([replayed.tick()])  # every window closes
    del replayed.sent[sent_before:]  # the worker died before sending these, after its table writes
    restarted = Harness(registry, clock_s=replayed.now, store=replayed.store)
    for batch in batches[lost_from:]:
        restarted.process(batch)
    restarted.sent = replayed.sent + restarted.sent
    assert _labelled_total(restarted) == expected
    kinds = {a["kind"] for a in restarted.alerts()}
    assert {orjson.loads(m.value)["kind"] for m in kept if m.topic == SETTINGS.topic_alerts} <= kinds
