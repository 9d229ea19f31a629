"""The label join store: labels before and after predictions, out of order, across reloads, join exactly once."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.labels.join import JoinStore, shard_of


def _events(rng: np.random.Generator, n: int, max_delay_s: float) -> list[tuple]:
    """Predictions one per 0.1 s and their labels up to ``max_delay_s`` before or after, in arrival order."""
    events = []
    for i in range(n):
        t = 1_800_000_000.0 + i * 0.1
        events.append((t, "p", f"r{i}", i % 2, float(rng.random())))
        events.append((t + rng.uniform(-max_delay_s, max_delay_s), "l", f"r{i}", (i + 1) % 2, None))
    return sorted(events, key=lambda e: e[0])


def _feed(store: JoinStore, batch: list[tuple]) -> list[str]:
    joined = []
    for kind in ("p", "l"):
        rows = [e for e in batch if e[1] == kind]
        if not rows:
            continue
        if kind == "p":
            result = store.add_predictions("v1", [e[2] for e in rows], [e[0] for e in rows], [e[3] for e in rows],
                                           [e[4] for e in rows], [(int(e[0]) % 10,) for e in rows])
        else:
            result = store.add_labels([e[2] for e in rows], [e[3] for e in rows], [e[0] for e in rows])
        joined += result.request_ids
        assert all(t < lt + 60 for t, lt in zip(result.times_s, result.label_times_s, strict=True))
    return joined


def test_every_pair_joins_exactly_once_whichever_comes_first() -> None:
    rng = np.random.default_rng(0)
    events = _events(rng, 5000, max_delay_s=30.0)
    table: dict = {}
    store = JoinStore(ttl_seconds=120, segment_width=1, shards=16, load=table.get)
    joined = []
    for start in range(0, len(events), 97):
        joined += _feed(store, events[start : start + 97])
        store.expire()
        table.update(store.take_dirty())
        assert store.held_blocks() == 0  # between micro-batches nothing pending is held in memory
    assert sorted(joined) == sorted(f"r{i}" for i in range(5000))
    assert store.pending() == (0, 0) and store.joined_total == 5000
    assert store.expired_predictions == store.expired_labels == 0


def test_reloading_from_the_stored_blocks_at_any_point_changes_nothing() -> None:
    rng = np.random.default_rng(1)
    events = _events(rng, 3000, max_delay_s=20.0)
    table: dict = {}
    meta = None
    store = JoinStore(ttl_seconds=60, segment_width=1, shards=8, load=table.get)
    joined = []
    for start in range(0, len(events), 50):
        if meta is not None and rng.random() < 0.3:  # a restart: state comes back from the table alone
            store = JoinStore.load_meta(meta, table.get)
        joined += _feed(store, events[start : start + 50])
        store.expire()
        for key, value in store.take_dirty().items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
        meta = store.meta_bytes()
    assert sorted(joined) == sorted(f"r{i}" for i in range(3000))
    assert table == {}  # everything joined: no block left behind


def test_unmatched_rows_expire_and_are_counted() -> None:
    table: dict = {}
    store = JoinStore(ttl_seconds=600, shards=4, load=table.get)
    store.add_predictions("v1", ["a", "b", None], [0.0, 10.0, 20.0], [1, 0, 1], [None, None, None])
    store.add_labels(["x"], [1], [30.0])
    assert store.expire() == (0, 0)
    store.add_predictions("v1", ["c"], [700.0], [1], [None])  # the clock moves past the first rows' TTL
    assert store.expire() == (2, 1)
    assert store.pending() == (1, 0) and (store.expired_predictions, store.expired_labels) == (2, 1)
    assert store.add_labels(["a"], [0], [701.0]).rows == 0  # too late: it waits (and will expire) instead
    table.update(store.take_dirty())
    assert store.held_blocks() == 0
    assert {k for k, v in table.items() if v is not None} == {shard_of("c", 4), shard_of("a", 4)}


def test_each_row_expires_on_its_own_time_and_the_sweep_reaches_untouched_blocks() -> None:
    table: dict = {}
    store = JoinStore(ttl_seconds=100, shards=8, load=table.get)
    ids = [f"r{i}" for i in range(40)]
    store.add_predictions("v1", ids, [float(i) for i in range(40)], [1] * 40, [None] * 40)
    table.update(store.take_dirty())
    store.add_labels(["late"], [1], [125.0])  # the clock: rows before t=25 are past their TTL
    touched = store.expire()[0]
    table.update(store.take_dirty())
    assert touched == sum(shard_of(r, 8) == shard_of("late", 8) for r in ids[:25])  # only its own block
    swept = store.sweep(8)  # every shard once: the rest of the expired rows, counted
    table.update(store.take_dirty())
    assert touched + swept[0] == 25 and store.expired_predictions == 25
    assert store.pending() == (15, 1) and store.sweep(8) == (0, 0)
    restored = JoinStore.load_meta(store.meta_bytes(), table.get)
    assert restored.add_labels(ids[30:], [0] * 10, [126.0] * 10).rows == 10 and restored.pending() == (5, 1)


def test_repeats_keep_the_first_row() -> None:
    store = JoinStore()
    store.add_predictions("v1", ["a"], [0.0], [1], [0.9])
    store.add_predictions("v2", ["a"], [1.0], [0], [0.1])
    joined = store.add_labels(["a", "a"], [1, 0], [2.0, 3.0])
    assert (joined.versions, joined.predictions, joined.labels) == (["v1"], [1], [1])
    assert store.pending() == (0, 1)


def test_bytes_per_pending_prediction() -> None:
    # Measured: 56.1 bytes per pending prediction with a 10-character request id (only its 8-byte hash is
    # kept), a 0/1 prediction, a 4-digit score, its source record (10 bytes, for the fences) and 10
    # monitored features (one byte of segment index each; 46.1 bytes without them).
    rng = np.random.default_rng(2)
    store = JoinStore(segment_width=10, shards=64)
    n = 10_000
    store.add_predictions("v1", [f"r-{i:08d}" for i in range(n)], (1_800_000_000 + np.arange(n) * 0.01).tolist(),
                          rng.integers(0, 2, n).tolist(), np.round(rng.random(n), 4).tolist(),
                          rng.integers(0, 10, (n, 10)).tolist())
    stored = sum(len(v) for v in store.take_dirty().values() if v is not None)
    assert stored / n < 60


def test_arguments_are_validated() -> None:
    with pytest.raises(ValueError):
        JoinStore(ttl_seconds=0)
    with pytest.raises(ValueError):
        JoinStore(shards=0)
    with pytest.raises(ValueError, match="segment indices"):
        JoinStore(segment_width=2).add_predictions("v", ["a"], [0.0], [1], [None], [(1,)])
