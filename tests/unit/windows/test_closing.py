"""Closes batched across models give exactly what closing one window at a time gives."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import orjson

from streamer.batch import Inbound
from streamer.config import DriftPolicy, Settings, load_settings
from streamer.events.rows import PredictionRows
from streamer.kafka.topics import partition_for_key
from streamer.pipeline import Pipeline
from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry
from streamer.windows.accumulator import EMPTY_LAYOUT, WindowAccumulator
from streamer.windows.summary import SummaryJob, summarize, summarize_many

T0 = 1795687200.0
SETTINGS = Settings(window_seconds=10, allowed_lateness_seconds=2, idle_close_seconds=600, partitions=4)


def window_of(rng: np.random.Generator, reference: ReferenceProfile | None, shift: float, rows: int) -> WindowAccumulator:
    batch = PredictionRows.empty("m", "1")
    for i in range(rows):
        batch.append_row(timestamp_s=T0 + i * 0.01, features={"x": float(rng.normal(shift)), "y": float(rng.normal()),
                                                            "c": str(rng.choice(["a", "b"]))},
                         prediction=float(rng.random()))
    window = WindowAccumulator(T0, T0 + 60)
    window.add(batch, reference.layout() if reference else EMPTY_LAYOUT, 64)
    return window


def test_many_summaries_at_once_equal_one_summary_at_a_time() -> None:
    rng = np.random.default_rng(5)
    references = [ReferenceProfile.from_columns(
        f"m{i}", "1", {"x": rng.normal(size=2000), "y": rng.normal(size=2000), "c": list(rng.choice(["a", "b"], 2000))},
        {"prediction": rng.random(2000)}) for i in range(4)]
    jobs = []
    for i, reference in enumerate(references + [None]):
        policy = DriftPolicy(sketch_wasserstein=i % 2 == 1)  # both kinds in one call
        for shift in (0.0, 0.8):
            jobs.append(SummaryJob(window_of(rng, reference, shift, 300), reference, policy, f"m{i}", "1",
                                   "registered" if reference else "collecting", "watermark"))
    together = summarize_many(jobs)
    alone = [summarize(j.window, j.reference, j.policy, model=j.model, version=j.version,
                       reference_source=j.reference_source, closed_by=j.closed_by) for j in jobs]
    assert orjson.dumps(together) == orjson.dumps(alone)
    assert together[0]["features"]["x"]["wasserstein_norm"] is None  # not asked for
    assert together[2]["features"]["x"]["wasserstein_norm"] > 0  # asked for
    assert [s["drift"]["status"] for s in together[:8]] == ["ok", "detected"] * 4


def messages(models: int, rows: int) -> list[tuple[bytes, bytes]]:
    """Per model: rows in windows 0 and 1, then one row in window 3, which closes both windows at once."""
    rng = np.random.default_rng(11)
    first, second = [], []
    for m in range(models):
        model = f"model-{m}"
        batch = [{"timestamp": T0 + w * 10 + i * 8 / rows, "prediction": 1,
                  "features": {"x": float(rng.normal(1.5 * w)), "y": float(rng.normal())}}
                 for w in (0, 1) for i in range(rows)]
        first.append((model.encode(), orjson.dumps({"model": model, "rows": batch})))
        second.append((model.encode(), orjson.dumps({"model": model, "timestamp": T0 + 35, "features": {"x": 0.0}})))
    return first + second


def run(batches: list[list[tuple[bytes, bytes]]]) -> tuple[list[bytes], list[bytes]]:
    store: dict[tuple[str, bytes], bytes] = {}
    pipeline = Pipeline(SETTINGS, ReferenceRegistry(), load=lambda t, k: store.get((t, k)), clock=lambda: T0 + 100)
    sent: dict[str, list[bytes]] = {}
    offsets = [0] * SETTINGS.partitions
    for batch in batches:
        records = []
        for key, value in batch:
            partition = partition_for_key(key, SETTINGS.partitions)
            records.append(Inbound(SETTINGS.topic_predictions, partition, offsets[partition], key, value, T0))
            offsets[partition] += 1
        effects = pipeline.process(records)
        store.update({(w.table, w.key): w.value for w in effects.writes})
        for message in effects.messages:
            sent.setdefault(message.topic, []).append(message.value)
    return sorted(sent[SETTINGS.topic_windows]), sorted(sent.get(SETTINGS.topic_alerts, []))


def test_a_batch_closing_many_models_and_windows_sends_what_one_close_at_a_time_sends() -> None:
    stream = messages(models=6, rows=150)
    half = len(stream) // 2
    summaries_one, alerts_one = run([[message] for message in stream])  # one model's close per batch
    summaries_all, alerts_all = run([stream[:half], stream[half:]])  # every model's two closes in one batch
    assert summaries_all == summaries_one and alerts_all == alerts_one
    closed = [orjson.loads(s) for s in summaries_all]
    assert len(closed) == 12
    # The second window, closed in the same batch as the first, is compared with the baseline the first
    # completed (baseline_windows = 1), and its shift is found.
    assert sorted(s["reference"] for s in closed) == ["baseline"] * 6 + ["collecting"] * 6
    assert {s["drift"]["status"] for s in closed if s["reference"] == "baseline"} == {"detected"}
    assert any(orjson.loads(a)["kind"] == "data_drift_detected" for a in alerts_all)


def test_sketch_wasserstein_is_read_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "streamer.yaml"
    config.write_text("drift:\n  sketch_wasserstein: true\nmodels:\n  fraud:\n    drift: {sketch_wasserstein: 'no'}\n")
    settings = load_settings({"STREAMER_CONFIG": str(config)})
    assert settings.drift_policy("other").sketch_wasserstein is True
    assert settings.drift_policy("fraud").sketch_wasserstein is False
    assert dataclasses.replace(settings.default_drift).sketch_wasserstein is True
