"""ReferenceProfile: built from raw columns or from a baseline window, and its JSON form."""

from __future__ import annotations

import base64
import copy
from typing import Any

import numpy as np
import orjson
import pytest

from streamer.errors import ReferenceProfileError
from streamer.events.rows import PredictionRows
from streamer.reference.profile import FORMAT, ReferenceProfile
from streamer.sketches.categorical import CategoricalSketch
from streamer.sketches.numeric import NumericSketch
from streamer.stats.drift import numeric_drift
from streamer.windows.accumulator import EMPTY_LAYOUT, WindowAccumulator
from streamer.windows.columns import NUMERIC

T0 = 1795687200.0


def columns(seed: int = 0, n: int = 2000) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 1.0, n)
    amount[::50] = np.nan
    features = {
        "amount": amount,
        "age": [None if i % 40 == 0 else int(v) for i, v in enumerate(rng.integers(18, 90, n))],
        "country": [["DE", "FR", "US", None][i] for i in rng.integers(0, 4, n)],
        "constant": np.full(n, 7.0),
    }
    outputs = {"prediction": rng.integers(0, 2, n).tolist(), "prediction_proba": rng.random(n)}
    return features, outputs


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    features, outputs = columns()
    return ReferenceProfile.from_columns("fraud", "3", features, outputs, source="train.parquet")


def doc_of(profile: ReferenceProfile) -> dict[str, Any]:
    return orjson.loads(profile.to_json())


def assert_same_profile(restored: ReferenceProfile, profile: ReferenceProfile) -> None:
    assert (restored.model, restored.version, restored.rows, restored.source) == (
        profile.model, profile.version, profile.rows, profile.source)
    assert list(restored.features) == list(profile.features)
    assert list(restored.outputs) == list(profile.outputs)
    for name, sketch in {**profile.features, **profile.outputs}.items():
        other = {**restored.features, **restored.outputs}[name]
        assert type(other) is type(sketch), name
        assert (other.count, other.missing) == (sketch.count, sketch.missing), name
        if isinstance(sketch, NumericSketch):
            assert isinstance(other, NumericSketch)
            assert other.edges is not None and sketch.edges is not None
            assert other.edges.tolist() == sketch.edges.tolist(), name
            assert other.counts is not None and sketch.counts is not None
            assert other.counts.tolist() == sketch.counts.tolist(), name
            assert restored.mlrun_edges[name].tolist() == profile.mlrun_edges[name].tolist(), name
            assert (other.min, other.max) == (sketch.min, sketch.max), name
            assert other.mean == pytest.approx(sketch.mean, rel=1e-12)
            if sketch.count > 1:
                assert other.std == pytest.approx(sketch.std, rel=1e-9)
            assert other.quantiles.n == sketch.quantiles.n
            assert other.quantiles.quantile(0.5) == sketch.quantiles.quantile(0.5)
        else:
            assert isinstance(other, CategoricalSketch) and isinstance(sketch, CategoricalSketch)
            assert other.counts == sketch.counts and other.other == sketch.other, name
    assert restored.layout().features.keys() == profile.layout().features.keys()
    for name, spec in profile.layout().features.items():
        assert restored.layout().features[name].known == spec.known, name


def test_from_columns_profiles_every_column(profile):
    assert profile.key == "fraud:3" and profile.rows == 2000
    layout = profile.layout()
    assert {n: s.kind for n, s in layout.features.items()} == {
        "amount": "numeric", "age": "numeric", "country": "categorical", "constant": "numeric"}
    assert layout.features["country"].known == ("DE", "FR", "US")
    assert set(layout.outputs) == {"prediction", "prediction_proba"}
    amount = profile.features["amount"]
    assert isinstance(amount, NumericSketch) and (amount.count, amount.missing) == (1960, 40)
    assert amount.counts is not None and amount.counts.sum() == 1960
    assert len(profile.mlrun_edges["amount"]) == 21
    assert set(profile.mlrun_edges["amount"].tolist()) <= set(amount.edges.tolist())  # type: ignore[union-attr]


def test_json_round_trip(profile):
    data = profile.to_json()
    doc = orjson.loads(data)
    assert doc["format"] == FORMAT and doc["model"] == "fraud" and doc["version"] == "3"
    assert_same_profile(ReferenceProfile.from_json(data), profile)
    assert_same_profile(ReferenceProfile.from_json(data.decode()), profile)  # text
    assert_same_profile(ReferenceProfile.from_json(doc), profile)  # a decoded document
    again = ReferenceProfile.from_json(ReferenceProfile.from_json(data).to_json())
    assert_same_profile(again, profile)


def test_json_round_trip_of_a_profile_for_every_version():
    features, outputs = columns(1, 300)
    profile = ReferenceProfile.from_columns("fraud", None, features, outputs)
    restored = ReferenceProfile.from_json(profile.to_json())
    assert restored.version is None and restored.key == "fraud"
    assert_same_profile(restored, profile)


def test_known_categories_survive_the_round_trip_for_booleans_and_floats():
    profile = ReferenceProfile.from_columns(
        "m", None, features={"is_new": [True, False, True], "mixed": [1.0, "a", 2.5]}, outputs={})
    restored = ReferenceProfile.from_json(profile.to_json())
    for name in ("is_new", "mixed"):
        sketch = profile.features[name]
        assert isinstance(sketch, CategoricalSketch)
        assert set(profile.layout().features[name].known) == set(sketch.counts), name
        assert restored.layout().features[name].known == profile.layout().features[name].known, name


def test_the_quantile_sketch_may_be_left_out(profile):
    restored = ReferenceProfile.from_json(orjson.dumps(_with(doc_of(profile), ("features", "amount", "quantile_sketch"),
                                                             _DELETE)))
    amount = restored.features["amount"]
    assert isinstance(amount, NumericSketch) and amount.quantiles.n == 0
    assert amount.counts is not None and amount.counts.tolist() == profile.features["amount"].counts.tolist()  # type: ignore[union-attr]


# -- rejected documents -----------------------------------------------------------------------


def _with(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(doc)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()

BAD_DOCUMENTS = {
    "wrong-format": (("format",), "streamer.reference/2"),
    "no-format": (("format",), _DELETE),
    "no-model": (("model",), _DELETE),
    "no-features": (("features",), _DELETE),
    "features-a-list": (("features",), []),
    "unknown-kind": (("features", "amount", "kind"), "text"),
    "edges-decreasing": (("features", "amount", "edges"), [3.0, 2.0, 1.0]),
    "edges-repeated": (("features", "amount", "edges"), [1.0, 1.0, 2.0]),
    "edges-one": (("features", "amount", "edges"), [1.0]),
    "edges-text": (("features", "amount", "edges"), "1,2,3"),
    "edges-null": (("features", "amount", "edges"), None),
    "edges-counts-mismatch": (("features", "amount", "counts"), [1, 2, 3]),
    "count-text": (("features", "amount", "count"), "many"),
    "categorical-counts-list": (("features", "country", "counts"), [1, 2]),
}


@pytest.mark.parametrize("name", BAD_DOCUMENTS)
def test_malformed_documents_raise_reference_profile_error(profile, name):
    path, value = BAD_DOCUMENTS[name]
    with pytest.raises(ReferenceProfileError):
        ReferenceProfile.from_json(orjson.dumps(_with(doc_of(profile), path, value)))


@pytest.mark.parametrize("data", [b"", b"not json", b"[1, 2]", b'"text"', b"null", b'{"format": 1}'])
def test_documents_that_are_not_profiles_raise_reference_profile_error(data):
    with pytest.raises(ReferenceProfileError):
        ReferenceProfile.from_json(data)


def test_error_messages_say_what_is_wrong(profile):
    with pytest.raises(ReferenceProfileError, match="'format' must be"):
        ReferenceProfile.from_json(orjson.dumps(_with(doc_of(profile), ("format",), "x")))
    with pytest.raises(ReferenceProfileError, match="column 'amount': edges must increase"):
        ReferenceProfile.from_json(orjson.dumps(_with(doc_of(profile), ("features", "amount", "edges"), [2.0, 1.0])))


def test_a_corrupt_quantile_sketch_raises_reference_profile_error(profile):
    garbage = base64.b64encode(b"garbage").decode()
    with pytest.raises(ReferenceProfileError):
        ReferenceProfile.from_json(orjson.dumps(_with(doc_of(profile), ("features", "amount", "quantile_sketch"),
                                                      garbage)))


def test_mlrun_edges_outside_the_edges_are_rejected(profile):
    doc = _with(doc_of(profile), ("features", "amount", "mlrun_edges"), [-1e9, 1e9])
    with pytest.raises(ReferenceProfileError):
        ReferenceProfile.from_json(orjson.dumps(doc))


# -- baselines from windows -------------------------------------------------------------------


def baseline_window(seed: int, n: int = 1500, near_constant: bool = False) -> WindowAccumulator:
    rng = np.random.default_rng(seed)
    rows = PredictionRows.empty("fraud", "1")
    amounts = rng.lognormal(3.0, 1.0, n)
    for i in range(n):
        features: dict[str, Any] = {"amount": float(amounts[i]), "level": int(i % 3), "constant": 2.5,
                                    "country": ["DE", "FR", "US"][i % 3], "sparse": None if i % 10 else 1.0}
        if near_constant:
            features["total"] = 0.3 if i % 2 else 0.1 + 0.2  # equal up to the last bit
        rows.append_row(timestamp_s=T0 + i * 10.0 / n, features=features, prediction=i % 2,
                        proba=float(rng.random()), latency_ms=5.0, error="boom" if i % 97 == 0 else None)
    window = WindowAccumulator(T0, T0 + 10.0)
    window.add(rows, EMPTY_LAYOUT, max_categories=64)
    return window


def assert_usable(profile: ReferenceProfile, window: WindowAccumulator) -> None:
    layout = profile.layout()
    for name, spec in {**layout.features, **layout.outputs}.items():
        if spec.kind != NUMERIC:
            continue
        assert spec.edges is not None and spec.mlrun_edges is not None
        assert np.all(np.diff(spec.edges) > 0), name
        assert np.all(np.diff(spec.mlrun_edges) > 0), name
        assert set(spec.mlrun_edges.tolist()) <= set(spec.edges.tolist()), name
        assert (spec.mlrun_edges[0], spec.mlrun_edges[-1]) == (spec.edges[0], spec.edges[-1]), name
    # A later window laid over the profile compares against it without error.
    later = WindowAccumulator(window.end_s, window.end_s + 10.0)
    rows = PredictionRows.empty("fraud", "1")
    rows.append_row(timestamp_s=window.end_s + 1.0, features={"amount": 20.0, "level": 1, "constant": 2.5,
                                                               "country": "DE", "sparse": 1.0, "total": 0.3},
                    prediction=1, proba=0.5)
    later.add(rows, layout, max_categories=64)
    for group, reference in (("features", profile.features), ("outputs", profile.outputs)):
        for name, ref in reference.items():
            sketch = getattr(later, group)[name]
            if isinstance(ref, NumericSketch):
                assert isinstance(sketch, NumericSketch) and ref.edges is not None
                numeric_drift(ref, sketch.rebinned(ref.edges), profile.mlrun_edges[name])


def test_from_window_gives_a_usable_layout():
    window = baseline_window(5)
    profile = ReferenceProfile.from_window("fraud", "1", window, "baseline: 1 window")
    assert profile.rows == window.rows - window.errors
    assert set(profile.features) == {"amount", "level", "constant", "country", "sparse"}
    assert set(profile.outputs) == {"prediction", "prediction_proba"}
    amount = profile.features["amount"]
    assert isinstance(amount, NumericSketch) and amount.counts is not None
    assert abs(int(amount.counts.sum()) - amount.count) <= 2  # counts rebinned from the quantile sketch
    assert profile.layout().features["country"].known == ("DE", "FR", "US")
    assert_usable(profile, window)
    assert_usable(ReferenceProfile.from_json(profile.to_json()), window)


def test_from_window_with_a_nearly_constant_column_gives_a_usable_layout():
    window = baseline_window(6, n=200, near_constant=True)
    assert_usable(ReferenceProfile.from_window("fraud", "1", window, "baseline"), window)


def test_from_columns_with_a_nearly_constant_column_gives_strictly_increasing_mlrun_edges():
    profile = ReferenceProfile.from_columns("m", None, features={"total": [0.3, 0.1 + 0.2] * 50}, outputs={})
    assert np.all(np.diff(profile.mlrun_edges["total"]) > 0)
