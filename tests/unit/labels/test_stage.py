"""Ground truth through the pipeline (no broker): joins, window performance, updates of closed windows, alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from streamer.config import load_settings
from streamer.errors import ConfigError
from streamer.performance.reference import ground_truth_section
from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry
from streamer.web.cluster_view import WindowHistory
from tests.unit.test_pipeline import MODEL, SETTINGS, T0, Harness


def _registry(rng: np.random.Generator) -> ReferenceRegistry:
    p = rng.beta(2, 2, 5000)
    label = (rng.random(5000) < p).astype(int)
    x = rng.normal(size=5000)
    profile = ReferenceProfile.from_columns(MODEL, None, {"x": x}, {"prediction": (p >= 0.5).astype(int),
                                                                  "prediction_proba": p})
    profile.ground_truth = ground_truth_section(label, (p >= 0.5).astype(int), p, {"x": x}, {"x": "numeric"})
    registry = ReferenceRegistry()
    registry.handle_record(profile.key.encode(), profile.to_json(), 0.0)
    return registry


def _stream(rng: np.random.Generator, n: int, per_s: float, flip_from: int | None = None) -> tuple[list, list]:
    """Predictions (one per 1/per_s s) and their labels; after ``flip_from`` the labels are inverted."""
    predictions, labels = [], []
    for i in range(n):
        p = float(rng.beta(2, 2))
        label = int(rng.random() < p)
        if flip_from is not None and i >= flip_from:
            label = 1 - label
        t = T0 + i / per_s
        predictions.append({"model": MODEL, "timestamp": t, "request_id": f"r{i}", "features": {"x": float(rng.normal())},
                            "prediction": int(p >= 0.5), "prediction_proba": p})
        labels.append({"model": MODEL, "request_id": f"r{i}", "label": label, "timestamp": t + 15.0})
    return predictions, labels


def _labelled_total(harness: Harness) -> int:
    history = WindowHistory(1000)
    for message in harness.on(SETTINGS.topic_windows):
        history.handle_record(message.key, message.value, 0.0)
    return sum(w.get("performance", {}).get("labelled", 0) for w in history.newest(MODEL, "default", 1000))


def _run(harness: Harness, predictions: list, labels: list, rng: np.random.Generator,
         early_labels: int = 0) -> Harness:
    """Labels 15 s after their predictions in event time; ``early_labels`` of them sent before their prediction."""
    label_at = {i: i + 150 for i in range(len(labels))}  # 150 rows at 10/s = 15 s later
    for i in rng.choice(len(labels), early_labels, replace=False):
        label_at[int(i)] = max(0, int(i) - 5)
    due: dict[int, list[int]] = {}
    for i, at in label_at.items():
        due.setdefault(min(at, len(predictions) - 1), []).append(i)
    batch: list[Any] = []
    for step, prediction in enumerate(predictions):
        batch.append(harness.record(prediction))
        batch += [harness.record(labels[i], topic=SETTINGS.topic_labels) for i in due.get(step, [])]
        if len(batch) >= 40:
            harness.now = prediction["timestamp"]
            harness.process(batch)
            batch = []
    if batch:
        harness.process(batch)
    harness.now += 60
    harness.process([harness.tick()])
    return harness


def test_labels_join_once_count_in_their_windows_and_update_closed_ones() -> None:
    rng = np.random.default_rng(0)
    harness = Harness(_registry(rng))
    predictions, labels = _stream(rng, 3000, per_s=10.0)
    harness = _run(harness, predictions, labels, rng, early_labels=300)
    assert _labelled_total(harness) == 3000
    closes = [w for w in harness.windows() if "update" not in w]
    updates = [w for w in harness.windows() if w.get("update") == "performance"]
    assert updates, "labels 15 s late reach windows after they closed"
    assert all("performance_estimate" in w for w in closes)
    estimate = closes[5]["performance_estimate"]["accuracy"]
    merged = {w["window_start_s"]: w for w in updates}
    realized = merged[closes[5]["window_start_s"]]["performance"]["accuracy"]
    assert abs(estimate - realized) < 0.15  # 100 rows a window: only a sanity check here
    stage = harness.pipeline.ground_truth
    assert stage.counters.labels_joined == 3000 and stage.counters.labels == 3000


def test_joins_survive_restarts_exactly_once() -> None:
    rng = np.random.default_rng(1)
    harness = Harness(_registry(rng))
    predictions, labels = _stream(rng, 2000, per_s=10.0)
    store = harness.store
    all_sent = []
    label_at = {i: i + 150 for i in range(2000)}
    batch: list[Any] = []
    for step, prediction in enumerate(predictions):
        batch.append(harness.record(prediction))
        batch += [harness.record(labels[i], topic=SETTINGS.topic_labels) for i, at in label_at.items() if at == step]
        if len(batch) >= 40:
            harness.now = prediction["timestamp"]
            harness.process(batch)
            batch = []
            if rng.random() < 0.2:
                all_sent += harness.sent
                offsets = harness.next_offset
                harness = Harness(harness.registry, clock_s=harness.now, store=store)
                harness.next_offset = offsets
    harness.process(batch + [harness.record(labels[i], topic=SETTINGS.topic_labels)
                             for i, at in label_at.items() if at >= 2000])
    harness.now += 60
    harness.process([harness.tick()])
    harness.sent = all_sent + harness.sent
    assert _labelled_total(harness) == 2000


def test_an_error_rate_jump_raises_concept_drift_and_degraded_performance() -> None:
    rng = np.random.default_rng(2)
    harness = Harness(_registry(rng))
    predictions, labels = _stream(rng, 6000, per_s=50.0, flip_from=3000)  # 200 rows a window
    harness = _run(harness, predictions, labels, rng)
    kinds = {a["kind"] for a in harness.alerts()}
    assert {"concept_drift_detected", "model_performance_degraded"} <= kinds
    concept = next(a for a in harness.alerts() if a["kind"] == "concept_drift_detected")
    assert concept["details"]["error_rate_after"] > concept["details"]["error_rate_before"]
    degraded = [a for a in harness.alerts() if a["kind"] == "model_performance_degraded"]
    assert all(a["details"]["source"] == "realized" and a["details"]["labelled"] > 0 for a in degraded)


def test_a_model_without_reference_is_tracked_from_its_first_label() -> None:
    rng = np.random.default_rng(3)
    harness = Harness()
    predictions, labels = _stream(rng, 400, per_s=10.0)
    harness.process([harness.record(labels[0], topic=SETTINGS.topic_labels)])  # the first label: tracking starts
    harness = _run(harness, predictions, labels[1:] + [labels[0]], rng)
    assert _labelled_total(harness) >= 390  # the label sent twice joins once; none before tracking is lost


def test_invalid_labels_go_to_dead_letters() -> None:
    harness = Harness()
    harness.process([harness.record(b"{not json", topic=SETTINGS.topic_labels),
                     harness.record({"model": MODEL, "rows": [{"request_id": "a"}]}, topic=SETTINGS.topic_labels)])
    harness.process([harness.record({"model": MODEL, "request_id": "b", "label": 1, "timestamp": T0 + 5 * 86400},
                                    topic=SETTINGS.topic_labels)])
    reasons = [orjson.loads(m.value)["error"] for m in harness.on(SETTINGS.topic_dead_letters)]
    assert len(reasons) == 3 and "label is missing" in reasons[1] and "ahead of the worker's clock" in reasons[2]


def test_detector_and_performance_policy_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "streamer.yaml"
    config.write_text("ground_truth: {detector: page_hinkley, performance: {min_drop: 0.02}}\n"
                      "models:\n  credit:\n    ground_truth: {detector: ddm, detector_params: {warm_start: 500},"
                      " performance: {floors: {accuracy: 0.9}}}\n")
    settings = load_settings({"STREAMER_CONFIG": str(config)})
    assert settings.ground_truth_policy("other").detector == "page_hinkley"
    credit = settings.ground_truth_policy("credit")
    assert (credit.detector, dict(credit.detector_params)) == ("ddm", {"warm_start": 500})
    assert credit.performance.min_drop == 0.02 and dict(credit.performance.floors) == {"accuracy": 0.9}
    for bad, message in [("ground_truth: {detector: cusum}", "ground_truth.detector"),
                         ("ground_truth: {performance: {alpha: 2}}", "ground_truth.performance"),
                         ("models: {m: {ground_truth: {detector_params: {nope: 1}}}}", "models.m.ground_truth"),
                         ("ground_truth: {performance: {floors: {mae: 1}}}", "ground_truth.performance")]:
        config.write_text(bad + "\n")
        with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
            load_settings({"STREAMER_CONFIG": str(config)})


def test_ground_truth_counters_are_exposed_as_metrics() -> None:
    from streamer.batch import PipelineCounters
    from streamer.labels.stage import GroundTruthCounters
    from streamer.web.cluster_view import StatusBoard
    from streamer.web.metrics import render_metrics

    text = render_metrics(PipelineCounters(), StatusBoard(), GroundTruthCounters(labels=5, labels_joined=4))
    assert "streamer_labels_joined_total 4" in text and "streamer_labels_expired_total 0" in text


def test_pending_rows_stay_in_the_table_and_ticks_expire_untouched_blocks() -> None:
    from streamer.labels.join import shard_of
    from streamer.labels.stage import SWEEP_SHARDS_PER_TICK

    rng = np.random.default_rng(4)
    harness = Harness(_registry(rng))
    predictions, _ = _stream(rng, 500, per_s=10.0)
    harness.send(predictions, batch_size=50)
    stage = harness.pipeline.ground_truth
    join = stage._joins[MODEL]
    assert join.pending() == (500, 0) and join.held_blocks() == 0  # nothing pending held between batches
    harness.now = T0 + SETTINGS.label_ttl_seconds + 1000
    late = {"model": MODEL, "request_id": "unknown", "label": 1, "timestamp": harness.now}
    harness.process([harness.record(late, topic=SETTINGS.topic_labels)])  # the clock passes every row's TTL
    touched = stage.counters.predictions_expired
    assert touched < 500  # only the label's own block was touched
    for _ in range(SETTINGS.label_shards // SWEEP_SHARDS_PER_TICK):
        harness.process([harness.tick()])
    assert stage.counters.predictions_expired == 500 and join.pending() == (0, 1)
    stored = [k for (t, k), v in harness.store.items() if b"\x1fs\x1f" in k and v]
    assert stored == [f"{MODEL}\x1fs\x1f{shard_of('unknown', SETTINGS.label_shards)}".encode()]  # the label's only


def test_a_model_expected_to_get_labels_keeps_its_predictions_from_the_first() -> None:
    from dataclasses import replace

    from tests.unit.test_pipeline import Harness as _Harness
    rng = np.random.default_rng(4)
    predictions, labels = _stream(rng, 400, per_s=10.0)
    counts = {}
    for name, settings in [("not expected", SETTINGS), ("expected", replace(SETTINGS, labels_expected=MODEL))]:
        harness = _Harness()
        harness.pipeline = type(harness.pipeline)(settings, harness.registry,
                                                  load=lambda table, key, h=harness: h.store.get((table, key)),
                                                  clock=lambda h=harness: h.now)
        harness.process([harness.record(p) for p in predictions])  # every prediction before any label
        harness.now = predictions[-1]["timestamp"]
        harness.process([harness.record(x, topic=SETTINGS.topic_labels) for x in labels])
        harness.now += 60
        harness.process([harness.tick()])
        counts[name] = (_labelled_total(harness), harness.pipeline.ground_truth.counters.labels_joined)
    assert counts["expected"] == (400, 400)
    # Not expected: nothing was kept before the first label, so no label joins (their predictions are gone).
    assert counts["not expected"] == (0, 0)


def test_expect_labels_per_model_in_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "streamer.yaml"
    config.write_text("models:\n  credit:\n    ground_truth: {expect_labels: true}\n")
    settings = load_settings({"STREAMER_CONFIG": str(config)})
    assert settings.ground_truth_policy("credit").expect_labels and not settings.ground_truth_policy("x").expect_labels
    config.write_text("ground_truth: {expect_labels: maybe}\n")
    with pytest.raises(ConfigError, match=r"ground_truth\.expect_labels"):
        load_settings({"STREAMER_CONFIG": str(config)})
    assert load_settings({"STREAMER_LABELS_EXPECTED": "a,b"}).labels_expected == "a,b"
