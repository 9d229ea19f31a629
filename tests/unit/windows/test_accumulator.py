"""WindowAccumulator: what one window counts (errors, type mismatches, output columns)."""

from __future__ import annotations

import numpy as np

from streamer.events.rows import PredictionRows
from streamer.sketches.categorical import CategoricalSketch
from streamer.sketches.numeric import NumericSketch
from streamer.windows.accumulator import EMPTY_LAYOUT, WindowAccumulator
from streamer.windows.columns import CATEGORICAL, NUMERIC, ColumnSpec, Layout

EDGES = np.array([0.0, 10.0, 20.0])
LAYOUT = Layout(features={"amount": ColumnSpec(NUMERIC, EDGES), "country": ColumnSpec(CATEGORICAL, known=("DE",))})


def new_rows() -> PredictionRows:
    return PredictionRows.empty("fraud", "1")


def test_error_rows_are_counted_but_not_sketched():
    rows = new_rows()
    rows.append_row(timestamp_s=1.0, features={"amount": 5.0, "country": "DE"}, prediction=1, latency_ms=10.0)
    rows.append_row(timestamp_s=2.0, features={"amount": 500.0, "country": "XX"}, prediction=0, latency_ms=90.0,
                    error="upstream timeout")
    rows.append_row(timestamp_s=3.0, error="bad request", latency_ms=1.0)
    rows.append_row(timestamp_s=4.0, features={"amount": 15.0, "country": "FR"}, prediction=1)
    window = WindowAccumulator(0.0, 10.0)
    window.add(rows, LAYOUT, max_categories=16)
    assert (window.rows, window.errors) == (4, 2)
    amount = window.features["amount"]
    assert isinstance(amount, NumericSketch)
    assert (amount.count, amount.missing, amount.max) == (2, 0, 15.0)
    assert amount.counts is not None and amount.counts.tolist() == [0, 1, 1, 0]
    country = window.features["country"]
    assert isinstance(country, CategoricalSketch) and country.counts == {"DE": 1, "FR": 1}
    assert window.outputs["prediction"].count == 2
    assert window.latency_ms.count == 3  # latency is kept for failed requests too
    assert (window.first_event_s, window.last_event_s) == (1.0, 4.0)


def test_a_batch_of_only_failed_requests_creates_no_feature_sketches():
    rows = new_rows()
    rows.append_row(timestamp_s=1.0, features={"amount": 5.0}, error="timeout")
    window = WindowAccumulator(0.0, 10.0)
    window.add(rows, EMPTY_LAYOUT, max_categories=16)
    assert (window.rows, window.errors, window.features, window.outputs) == (1, 1, {}, {})


def test_strings_into_a_numeric_feature_are_type_mismatches():
    rows = new_rows()
    for value in (1.0, "abc", 3, None, "7", True):
        rows.append_row(timestamp_s=1.0, features={"amount": value})
    window = WindowAccumulator(0.0, 10.0)
    window.add(rows, LAYOUT, max_categories=16)
    amount = window.features["amount"]
    assert isinstance(amount, NumericSketch)
    assert window.type_mismatches == {"amount": 3}  # "abc", "7", True; None is missing, not a mismatch
    assert amount.count == 2


def test_type_mismatches_after_the_kind_was_inferred():
    window = WindowAccumulator(0.0, 10.0)
    first, second = new_rows(), new_rows()
    first.append_row(timestamp_s=1.0, features={"score": 0.5})
    second.append_row(timestamp_s=2.0, features={"score": "high"})
    second.append_row(timestamp_s=2.0, features={"score": "low"})
    window.add(first, EMPTY_LAYOUT, max_categories=16)
    window.add(second, EMPTY_LAYOUT, max_categories=16)
    assert isinstance(window.features["score"], NumericSketch)
    assert window.type_mismatches == {"score": 2}
    restored = WindowAccumulator.from_bytes(window.to_bytes())
    assert restored.type_mismatches == {"score": 2}


def test_kinds_are_inferred_without_a_layout():
    rows = new_rows()
    rows.append_row(timestamp_s=1.0, features={"amount": 1.5, "country": "DE", "is_new": True, "n": 3})
    window = WindowAccumulator(0.0, 10.0)
    window.add(rows, EMPTY_LAYOUT, max_categories=16)
    kinds = {name: type(sketch).__name__ for name, sketch in window.features.items()}
    assert kinds == {"amount": "NumericSketch", "country": "CategoricalSketch", "is_new": "CategoricalSketch",
                     "n": "NumericSketch"}


def test_probability_mapping_becomes_one_column_per_class():
    rows = new_rows()
    rows.append_row(timestamp_s=1.0, prediction="cat", proba={"cat": 0.7, "dog": 0.3})
    rows.append_row(timestamp_s=2.0, prediction="dog", proba={"cat": 0.1, "dog": 0.8, "eel": 0.1})
    window = WindowAccumulator(0.0, 10.0)
    window.add(rows, EMPTY_LAYOUT, max_categories=16)
    assert sorted(window.outputs) == ["prediction", "prediction_proba.cat", "prediction_proba.dog",
                                      "prediction_proba.eel"]
    dog = window.outputs["prediction_proba.dog"]
    assert isinstance(dog, NumericSketch) and (dog.count, dog.min, dog.max) == (2, 0.3, 0.8)
    eel = window.outputs["prediction_proba.eel"]
    assert isinstance(eel, NumericSketch) and (eel.count, eel.missing) == (1, 1)
    prediction = window.outputs["prediction"]
    assert isinstance(prediction, CategoricalSketch) and prediction.counts == {"cat": 1, "dog": 1}


def test_scalar_probability_is_the_prediction_proba_column():
    rows = new_rows()
    rows.append_row(timestamp_s=1.0, prediction=1, proba=0.9)
    rows.append_row(timestamp_s=1.0, prediction=0, proba={"a": 0.2})
    rows.append_row(timestamp_s=1.0, prediction=0)
    window = WindowAccumulator(0.0, 10.0)
    window.add(rows, EMPTY_LAYOUT, max_categories=16)
    assert sorted(window.outputs) == ["prediction", "prediction_proba", "prediction_proba.a"]
    proba = window.outputs["prediction_proba"]
    assert isinstance(proba, NumericSketch) and (proba.count, proba.missing) == (1, 2)


def test_merge_widens_the_bounds_and_adds_counts():
    a, b = WindowAccumulator(0.0, 10.0), WindowAccumulator(10.0, 20.0)
    for window, t in ((a, 5.0), (b, 15.0)):
        rows = new_rows()
        rows.append_row(timestamp_s=t, features={"amount": t}, latency_ms=1.0)
        window.add(rows, LAYOUT, max_categories=16)
    a.merge(b)
    assert (a.start_s, a.end_s, a.rows, a.first_event_s, a.last_event_s) == (0.0, 20.0, 2, 5.0, 15.0)
    amount = a.features["amount"]
    assert isinstance(amount, NumericSketch) and amount.counts is not None
    assert amount.counts.tolist() == [0, 1, 1, 0]


def test_adopt_bins_recounts_unbinned_numeric_sketches_over_the_layout() -> None:
    import numpy as np

    from streamer.events.rows import PredictionRows
    from streamer.reference.profile import ReferenceProfile
    from streamer.windows.accumulator import EMPTY_LAYOUT, WindowAccumulator

    rng = np.random.default_rng(1)
    rows = PredictionRows.empty("m", "1")
    for value in rng.normal(size=150):
        rows.append_row(timestamp_s=1.0, features={"x": float(value), "c": "a"})
    window = WindowAccumulator(0.0, 60.0)
    window.add(rows, EMPTY_LAYOUT, max_categories=8)
    assert window.features["x"].edges is None
    profile = ReferenceProfile.from_columns("m", None, {"x": rng.normal(size=1000), "c": ["a"] * 1000}, {})
    window.adopt_bins(profile.layout())
    x = window.features["x"]
    assert np.array_equal(x.edges, profile.layout().features["x"].edges)
    assert x.counts.sum() == x.count == 150  # exact: fewer values than the quantile sketch's k
    more = PredictionRows.empty("m", "1")
    more.append_row(timestamp_s=2.0, features={"x": 0.0})
    window.add(more, profile.layout(), max_categories=8)
    assert window.features["x"].counts.sum() == 151
