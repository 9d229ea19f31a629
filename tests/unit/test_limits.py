"""Cardinality limits: many models, many feature names, many categories leave state bounded and counted."""

from __future__ import annotations

import dataclasses

import orjson

from streamer.batch import Inbound
from streamer.kafka.topics import partition_for_key
from streamer.pipeline import Pipeline
from streamer.reference.registry import ReferenceRegistry
from streamer.web.cluster_view import StatusBoard
from streamer.web.metrics import render_metrics
from tests.unit.test_pipeline import SETTINGS, T0

LIMITED = dataclasses.replace(SETTINGS, max_models=8, max_features=20, max_categories=16)


def pipeline() -> tuple[Pipeline, dict]:
    store: dict = {}
    return Pipeline(LIMITED, ReferenceRegistry(), load=lambda t, k: store.get((t, k)), clock=lambda: T0 + 5), store


def records(messages: list[dict]) -> list[Inbound]:
    return [Inbound(LIMITED.topic_predictions, partition_for_key(m["model"].encode(), LIMITED.partitions), i,
                    m["model"].encode(), orjson.dumps(m), T0) for i, m in enumerate(messages)]


def test_models_past_the_limit_are_refused_counted_and_dead_lettered():
    p, _ = pipeline()
    effects = p.process(records([{"model": f"m{i}", "timestamp": T0, "features": {"x": 1}} for i in range(1000)]))
    kept = p.worker_report()["models_with_state"]
    assert kept <= LIMITED.max_models
    assert p.counters.models_refused == 1000 - kept
    dead = [orjson.loads(m.value) for m in effects.messages if m.topic == LIMITED.topic_dead_letters]
    assert len(dead) == 1000 - kept and all(d["error"].startswith("too many models") for d in dead)
    assert p.counters.dead_letter_reasons == {"too_many_models": 1000 - kept}
    # A model that already has state keeps being accepted.
    first = next(iter(p._states)).decode().split("\x1f")[0]
    p.process(records([{"model": first, "timestamp": T0, "features": {"x": 2}}]))
    assert p.counters.models_refused == 1000 - kept


def test_an_event_with_too_many_features_is_a_dead_letter():
    p, _ = pipeline()
    p.process(records([{"model": "m", "timestamp": T0, "features": {f"f{i}": i for i in range(21)}}]))
    assert p.counters.dead_letter_reasons == {"too_many_features": 1}


def test_new_feature_names_past_the_window_limit_are_dropped_and_counted():
    p, _ = pipeline()
    p.process(records([{"model": "m", "timestamp": T0 + i * 0.001, "features": {f"f{i}-{j}": j for j in range(10)}}
                       for i in range(50)]))
    state = next(iter(p._states.values()))
    window = next(iter(state.open_windows.values()))
    assert len(window.features) == LIMITED.max_features and window.dropped_features == 500 - 20


def test_millions_of_categories_stay_within_the_category_limit():
    p, _ = pipeline()
    p.process(records([{"model": "m", "timestamp": T0, "rows": [{"features": {"c": f"v{i}-{j}"}} for j in range(1000)]}
                       for i in range(20)]))
    window = next(iter(next(iter(p._states.values())).open_windows.values()))
    sketch = window.features["c"]
    assert len(sketch.counts) <= LIMITED.max_categories and sketch.count == 20_000


def test_metrics_list_dead_letters_by_bounded_reason():
    p, _ = pipeline()
    p.process([Inbound(LIMITED.topic_predictions, 0, 0, None, b"\xff\xfe", T0),
               Inbound(LIMITED.topic_predictions, 0, 1, None, b"{", T0),
               Inbound(LIMITED.topic_predictions, 0, 2, None, b'{"features": {}}', T0)])
    text = render_metrics(p.counters, StatusBoard())
    assert 'streamer_dead_letters_by_reason_total{reason="not_utf8"} 1' in text
    assert 'streamer_dead_letters_by_reason_total{reason="not_json"} 1' in text
    assert 'streamer_dead_letters_by_reason_total{reason="model"} 1' in text
    assert "streamer_models_refused_total 0" in text and "streamer_features_dropped_total 0" in text
