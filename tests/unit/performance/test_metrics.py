"""Performance metrics against scikit-learn on the same rows; merge equals one pass; state round-trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as sk

from streamer.performance.classification import ClassificationPerformance
from streamer.performance.regression import RegressionPerformance
from streamer.performance.scores import ScoreHistogram, auc_from_histograms
from streamer.performance.segments import SegmentPerformance, SegmentSpec, specs_from_columns, worst_segments


def _binary_rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    score = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0.0, 1.0)
    return y, (score >= 0.5).astype(int), score


def _chunks(n: int, parts: int) -> list[slice]:
    bounds = np.linspace(0, n, parts + 1).astype(int)
    return [slice(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


def test_binary_metrics_match_scikit_learn() -> None:
    y, pred, score = _binary_rows(5000)
    perf = ClassificationPerformance()
    perf.update(y.tolist(), pred.tolist(), score.tolist())
    m = perf.metrics()
    assert m["labelled"] == 5000
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, pred), abs=1e-12)
    assert m["precision"] == pytest.approx(sk.precision_score(y, pred), abs=1e-12)
    assert m["recall"] == pytest.approx(sk.recall_score(y, pred), abs=1e-12)
    assert m["f1"] == pytest.approx(sk.f1_score(y, pred), abs=1e-12)
    assert m["log_loss"] == pytest.approx(sk.log_loss(y, np.clip(score, 1e-15, 1 - 1e-15)), rel=1e-9)
    exact_auc = sk.roc_auc_score(y, score)
    assert abs(m["roc_auc"] - exact_auc) <= m["roc_auc_error_bound"] + 1e-12
    assert m["roc_auc_error_bound"] < 1e-3  # 1000 bins
    confusion = sk.confusion_matrix(y, pred)
    assert {(t, p): v for t, p, v in m["confusion"]} == {
        (str(t), str(p)): int(confusion[t, p]) for t in (0, 1) for p in (0, 1) if confusion[t, p]}


def test_auc_bound_holds_on_coarse_bins() -> None:
    y, _, score = _binary_rows(3000, seed=3)
    for bins in (5, 20, 100):
        perf = ClassificationPerformance(score_bins=bins)
        perf.update(y, (score > 0.5).astype(int), score)
        m = perf.metrics()
        assert abs(m["roc_auc"] - sk.roc_auc_score(y, score)) <= m["roc_auc_error_bound"] + 1e-12


def test_multiclass_macro_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    classes = np.array(["cat", "dog", "emu", "fox"])
    y = classes[rng.integers(0, 4, 4000)]
    pred = np.where(rng.random(4000) < 0.7, y, classes[rng.integers(0, 4, 4000)])
    pred[:50] = "gnu"  # a class that is never a label
    raw = rng.random((4000, 4)) + 2 * (classes[None, :] == y[:, None])
    proba = raw / raw.sum(axis=1, keepdims=True)
    perf = ClassificationPerformance()
    perf.update(y.tolist(), pred.tolist(), [dict(zip(classes, row, strict=True)) for row in proba])
    m = perf.metrics()
    assert m["average"] == "macro" and "roc_auc" not in m
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    for name, fn in (("precision", sk.precision_score), ("recall", sk.recall_score), ("f1", sk.f1_score)):
        assert m[name] == pytest.approx(fn(y, pred, average="macro", zero_division=0), abs=1e-12), name
    assert m["log_loss"] == pytest.approx(sk.log_loss(y, proba, labels=classes), rel=1e-9)


def test_labels_match_predictions_by_category_name_and_skip_missing() -> None:
    perf = ClassificationPerformance(positive="true")
    perf.update([True, False, None, True], ["true", "false", "true", None], [0.9, 0.1, 0.5, 0.5])
    assert perf.metrics()["labelled"] == 2 and perf.metrics()["accuracy"] == 1.0


def test_undefined_binary_ratios_are_zero_like_scikit_learn() -> None:
    perf = ClassificationPerformance()
    perf.update([0, 0, 1], [0, 0, 0])
    m = perf.metrics()
    assert (m["precision"], m["recall"], m["f1"]) == (0.0, 0.0, 0.0)
    assert ClassificationPerformance().metrics() == {"labelled": 0}


def test_classification_merge_equals_one_pass_and_round_trips() -> None:
    y, pred, score = _binary_rows(3000, seed=2)
    whole = ClassificationPerformance()
    whole.update(y, pred, score)
    merged = ClassificationPerformance()
    for part in _chunks(3000, 7):
        piece = ClassificationPerformance()
        piece.update(y[part], pred[part], score[part])
        merged.merge(ClassificationPerformance.from_bytes(piece.to_bytes()))
    merged.merge(ClassificationPerformance())  # an empty state changes nothing
    a, b = whole.metrics(), merged.metrics()
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == (pytest.approx(b[key], rel=1e-12) if isinstance(a[key], float) else b[key]), key


def test_regression_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(100, 20, 5000)
    y[:3] = 0.0  # MAPE's eps guard, as scikit-learn has it
    pred = y + rng.normal(2, 5, 5000)
    perf = RegressionPerformance()
    perf.update(y, pred)
    m = perf.metrics()
    assert m["mae"] == pytest.approx(sk.mean_absolute_error(y, pred), rel=1e-12)
    assert m["rmse"] == pytest.approx(math.sqrt(sk.mean_squared_error(y, pred)), rel=1e-12)
    assert m["mape"] == pytest.approx(sk.mean_absolute_percentage_error(y, pred), rel=1e-9)
    assert m["r2"] == pytest.approx(sk.r2_score(y, pred), rel=1e-12)
    assert m["bias"] == pytest.approx(float(np.mean(pred - y)), rel=1e-12)


def test_regression_merge_equals_one_pass_and_round_trips() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(1e6, 1, 4000)  # a large offset: the merged spread must not cancel
    pred = y + rng.normal(0, 0.5, 4000)
    whole = RegressionPerformance()
    whole.update(y, pred)
    merged = RegressionPerformance()
    for part in _chunks(4000, 9):
        piece = RegressionPerformance()
        piece.update(y[part], pred[part])
        merged.merge(RegressionPerformance.from_bytes(piece.to_bytes()))
    merged.merge(RegressionPerformance())
    for key, value in whole.metrics().items():
        assert merged.metrics()[key] == pytest.approx(value, rel=1e-9), key
    assert merged.metrics()["r2"] == pytest.approx(sk.r2_score(y, pred), rel=1e-6)


def test_regression_skips_missing_values() -> None:
    perf = RegressionPerformance()
    perf.update([1.0, None, 3.0, float("nan")], [2.0, 1.0, None, 1.0])
    assert perf.metrics()["labelled"] == 1


def test_score_histogram_auc_is_exact_when_scores_fall_in_distinct_bins() -> None:
    positive, negative = ScoreHistogram(10), ScoreHistogram(10)
    positive.update([0.95, 0.55, 0.35])
    negative.update([0.05, 0.45, 0.65])
    auc, bound = auc_from_histograms(positive.counts, negative.counts)
    assert bound == 0.0
    assert auc == pytest.approx(sk.roc_auc_score([1, 1, 1, 0, 0, 0], [0.95, 0.55, 0.35, 0.05, 0.45, 0.65]))


def test_segment_performance_matches_direct_computation_and_merges() -> None:
    rng = np.random.default_rng(6)
    amount = rng.lognormal(3, 1, 2000)
    country = rng.choice(["DE", "FR", "US", "IT"], 2000, p=[0.5, 0.3, 0.15, 0.05]).tolist()
    error = (rng.random(2000) < np.where(amount > np.quantile(amount, 0.9), 0.5, 0.1)).astype(float)
    specs = specs_from_columns({"amount": amount, "country": country}, {"amount": "numeric", "country": "categorical"},
                               top_categories=3)
    assert specs["country"].categories == ("DE", "FR", "US")
    whole = SegmentPerformance(specs)
    whole.update({"amount": amount, "country": country}, error)
    top = whole.metrics()["amount"][-1]
    direct = amount >= specs["amount"].edges[-1]
    assert top["count"] == int(direct.sum()) and top["error"] == pytest.approx(error[direct].mean())
    other = next(s for s in whole.metrics()["country"] if s["segment"] == "other")
    assert other["count"] == country.count("IT")
    merged = SegmentPerformance(specs)
    for part in _chunks(2000, 3):
        piece = SegmentPerformance(specs)
        piece.update({"amount": amount[part], "country": country[part]}, error[part])
        merged.merge(SegmentPerformance.from_bytes(piece.to_bytes()))
    for feature, segments in whole.metrics().items():
        for a, b in zip(segments, merged.metrics()[feature], strict=True):
            assert (a["segment"], a["count"]) == (b["segment"], b["count"])
            assert a["error"] == pytest.approx(b["error"], rel=1e-12)
    reference = SegmentPerformance(specs)
    reference.update({"amount": amount, "country": country}, np.full(2000, 0.1))
    worst = worst_segments(whole.metrics(), reference.metrics(), limit=1)
    assert worst[0]["feature"] == "amount" and worst[0]["segment"] == top["segment"]


def test_segment_spec_round_trips() -> None:
    spec = SegmentSpec.numeric([3.0, 1.0, 2.0])
    assert SegmentSpec.from_json(spec.to_json()) == spec and spec.edges == (1.0, 2.0, 3.0)
