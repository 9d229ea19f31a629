"""Hot models: a model's windows sharded over partitions and merged at close give what one model gives.

A small in-memory cluster carries every message the pipeline sends back in as a record of its topic
and partition (as Kafka would), so the home partition's spreading, the shards and the merge stage all run.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from streamer.batch import Inbound, state_key
from streamer.config import Settings, load_settings
from streamer.errors import ConfigError
from streamer.kafka.topics import partition_for_key
from streamer.pipeline import TABLE_MODELS, Pipeline
from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry
from streamer.windows.merge import TABLE_PARTIALS
from streamer.windows.model_state import ModelState
from streamer.windows.shards import HotModels, origin_of, parse_hot_models

BASE = Settings(window_seconds=10, allowed_lateness_seconds=2, idle_close_seconds=5, partitions=4)
T0 = 1795687200.0
MODEL = "fraud"
HOME = partition_for_key(MODEL.encode(), BASE.partitions)


class Cluster:
    """One pipeline owning every partition; sent messages come back as records of their partition."""

    def __init__(self, settings: Settings, registry: ReferenceRegistry,
                 store: dict[tuple[str, bytes], bytes] | None = None) -> None:
        self.settings = settings
        self.store: dict[tuple[str, bytes], bytes] = {} if store is None else store
        self.now = T0
        self.registry = registry
        self.pipeline = self.new_pipeline()
        self.offsets: dict[tuple[str, int], int] = {}
        self.queue: deque[Inbound] = deque()
        self.out: dict[str, list[bytes]] = {}
        self.deliveries = 0

    def new_pipeline(self) -> Pipeline:
        return Pipeline(self.settings, self.registry, load=lambda table, key: self.store.get((table, key)),
                        clock=lambda: self.now)

    def produce(self, topic: str, key: bytes | None, value: bytes, partition: int | None = None,
                origin: tuple[int, int] | None = None) -> None:
        if partition is None:
            partition = partition_for_key(key or b"", self.settings.partitions)
        offset = self.offsets.get((topic, partition), 0)
        self.offsets[(topic, partition)] = offset + 1
        self.queue.append(Inbound(topic, partition, offset, key, value, self.now, origin=origin))

    def run(self, batch_size: int = 40, redeliver_every: int = 0) -> None:
        """Process queued records in micro-batches until nothing is left; optionally deliver some twice."""
        while self.queue:
            batch = [self.queue.popleft() for _ in range(min(batch_size, len(self.queue)))]
            self.deliveries += 1
            if redeliver_every and self.deliveries % redeliver_every == 0:
                batch = batch + batch  # an at-least-once redelivery inside one batch
            effects = self.pipeline.process(batch)
            for write in effects.writes:
                self.store[(write.table, write.key)] = write.value
            for m in effects.messages:
                if m.topic in (self.settings.topic_predictions, self.settings.topic_partials):
                    self.produce(m.topic, m.key, m.value, m.partition, origin_of(m.headers))
                else:
                    self.out.setdefault(m.topic, []).append(m.value)

    def tick_all(self, advance_s: float) -> None:
        self.now += advance_s
        for partition in range(self.settings.partitions):
            self.produce(self.settings.topic_ticks, None, b"{}", partition)
        self.run()

    def values(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(v) for v in self.out.get(topic, [])]


def registry() -> ReferenceRegistry:
    rng = np.random.default_rng(99)
    x = rng.normal(0.0, 1.0, 4000)
    profile = ReferenceProfile.from_columns(
        MODEL, None, features={"x": x, "country": rng.choice(["DE", "FR", "US"], 4000).tolist()},
        outputs={"prediction": (x > 0).astype(int).tolist()})
    found = ReferenceRegistry()
    found.handle_record(MODEL.encode(), profile.to_json(), T0)
    return found


def traffic(cluster: Cluster, windows: int, per_window: int, drift_from: int) -> None:
    """Events of ``windows`` windows, x shifted from window ``drift_from`` on, one message each, keyed by model."""
    rng = np.random.default_rng(7)
    for w in range(windows):
        x = rng.normal(1.5 if w >= drift_from else 0.0, 1.0, per_window)
        for i in range(per_window):
            event = {"model": MODEL, "version": "1", "timestamp": T0 + w * 10 + 9.9 * i / per_window,
                     "features": {"x": float(x[i]), "country": ["DE", "FR", "US"][i % 3]},
                     "prediction": int(x[i] > 0), "latency_ms": 5.0 + i % 7}
            cluster.produce(BASE.topic_predictions, MODEL.encode(), orjson.dumps(event))
        cluster.run()
        cluster.now += 10.0
    cluster.tick_all(20.0)  # idle close of the last windows
    cluster.tick_all(1.0)   # their partials merge


SKETCH_ESTIMATES = ("wasserstein_norm",)  # from quantile sketches: a merged sketch estimates within its error


def assert_same_summary(hot: Any, plain: Any, path: str = "") -> None:
    """Equal, floats to rounding (sums in another order), quantile-sketch estimates within 0.1."""
    if isinstance(plain, dict):
        assert set(hot) - {"shards"} == set(plain), path
        for key in plain:
            assert_same_summary(hot[key], plain[key], f"{path}/{key}")
    elif isinstance(plain, list):
        assert len(hot) == len(plain), path
        for i, (h, p) in enumerate(zip(hot, plain, strict=True)):
            assert_same_summary(h, p, f"{path}/{i}")
    elif isinstance(plain, float) and not isinstance(hot, bool):
        tolerance = 0.1 if path.rsplit("/", 1)[-1] in SKETCH_ESTIMATES else 1e-9
        assert hot == pytest.approx(plain, rel=1e-9, abs=tolerance if tolerance > 1e-9 else 1e-12), path
    else:
        assert hot == plain, path


def test_sharded_windows_merge_to_the_same_summaries_and_alerts_as_one_model() -> None:
    plain, hot = Cluster(BASE, registry()), Cluster(dataclasses.replace(BASE, hot_models=f"{MODEL}:3"), registry())
    for cluster in (plain, hot):
        traffic(cluster, windows=6, per_window=300, drift_from=3)
    plain_windows, hot_windows = plain.values(BASE.topic_windows), hot.values(BASE.topic_windows)
    assert [w["events"] for w in hot_windows] == [300] * 6
    for hot_window, plain_window in zip(hot_windows, plain_windows, strict=True):
        assert_same_summary(hot_window, plain_window)
    assert all(w["shards"]["merged"] == [0, 1, 2] and not w["shards"]["timed_out"] for w in hot_windows)
    hot_alerts = [a["id"] for a in hot.values(BASE.topic_alerts)]
    assert any(a["kind"] == "data_drift_detected" for a in hot.values(BASE.topic_alerts))
    assert hot_alerts == [a["id"] for a in plain.values(BASE.topic_alerts)]
    # Each of the three shards held about a third of the rows, on its own partition.
    shard_events = [ModelState.from_bytes(hot.store[(TABLE_MODELS, hot.pipeline.hot.state_key(MODEL, "1", i))]).events_total
                     for i in range(3)]
    assert shard_events == [600, 600, 600]  # spread by offset: a third each
    statuses = hot.values(BASE.topic_status)
    assert {s["model"] for s in statuses} == {MODEL}  # one model, no shard names
    assert statuses[-1]["events_total"] == 1800


def test_redelivered_records_and_partials_are_not_counted_twice() -> None:
    hot = Cluster(dataclasses.replace(BASE, hot_models=f"{MODEL}:3"), registry())
    rng = np.random.default_rng(3)
    for w in range(3):
        for i, x in enumerate(rng.normal(0.0, 1.0, 200)):
            hot.produce(BASE.topic_predictions, MODEL.encode(), orjson.dumps(
                {"model": MODEL, "version": "1", "timestamp": T0 + w * 10 + i * 0.04, "features": {"x": float(x)}}))
        hot.run(redeliver_every=2)
        hot.now += 10.0
    hot.tick_all(20.0)
    hot.tick_all(1.0)
    assert [w["events"] for w in hot.values(BASE.topic_windows)] == [200, 200, 200]


def test_a_restart_on_the_stored_tables_closes_each_window_once_with_every_row() -> None:
    hot = Cluster(dataclasses.replace(BASE, hot_models=f"{MODEL}:2"), registry())
    for i in range(100):
        hot.produce(BASE.topic_predictions, MODEL.encode(), orjson.dumps(
            {"model": MODEL, "version": "1", "timestamp": T0 + i * 0.05, "features": {"x": 1.0}}))
    hot.run()
    hot.pipeline = hot.new_pipeline()  # a new process: caches gone, only the tables remain
    hot.tick_all(20.0)  # the shards close by idle time: partials go to the merge stage
    pending = [k for (table, k) in hot.store if table == TABLE_PARTIALS]
    assert pending == [state_key(MODEL, "1")]
    hot.pipeline = hot.new_pipeline()
    hot.tick_all(1.0)
    assert [w["events"] for w in hot.values(BASE.topic_windows)] == [100]


def test_a_shard_that_never_reports_closes_the_window_after_the_wait_and_says_so() -> None:
    settings = dataclasses.replace(BASE, hot_models=f"{MODEL}:3", hot_model_wait_seconds=30.0)
    hot = Cluster(settings, registry())
    # Records not keyed by model land where they are sent: only shards 0 and 1 get rows.
    for i in range(60):
        partition = (HOME + i % 2) % BASE.partitions
        hot.produce(BASE.topic_predictions, b"r-%d" % i, orjson.dumps(
            {"model": MODEL, "version": "1", "timestamp": T0 + i * 0.1, "features": {"x": 1.0}}), partition)
    hot.run()
    hot.tick_all(20.0)
    assert hot.values(BASE.topic_windows) == []  # shard 2 has not reported: waiting
    hot.tick_all(31.0)
    (window,) = hot.values(BASE.topic_windows)
    assert window["events"] == 60
    assert window["shards"] == {"shards": 3, "merged": [0, 1], "missing": [2], "timed_out": True}
    # Shard 2's rows of that window come after all: its partial is dropped, the window is not reported again.
    for i in range(10):
        hot.produce(BASE.topic_predictions, b"late-%d" % i, orjson.dumps(
            {"model": MODEL, "version": "1", "timestamp": T0 + i * 0.1, "features": {"x": 1.0}}), (HOME + 2) % 4)
    hot.run()
    hot.tick_all(20.0)
    hot.tick_all(1.0)
    assert len(hot.values(BASE.topic_windows)) == 1
    assert hot.pipeline.merges.partials_dropped == 1


def test_hot_models_configuration(tmp_path: Path) -> None:
    assert parse_hot_models("") == {}
    config = tmp_path / "streamer.yaml"
    config.write_text("hot_models:\n  fraud: 4\n  ads: 8\n")
    assert load_settings({"STREAMER_CONFIG": str(config)}).hot_models == "fraud:4,ads:8"
    assert HotModels({"fraud": 16, "ads": 1}, partitions=8).shards == {"fraud": 8}
    with pytest.raises(ConfigError):
        Settings(hot_models="fraud:x")
    assert load_settings({"STREAMER_HOT_MODELS": "fraud:4"}).hot_models == "fraud:4"
