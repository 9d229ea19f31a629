"""The many-column drift metrics equal the one-column ones, column by column."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamer.sketches.numeric import NumericSketch
from streamer.sketches.quantiles import QuantileSketch
from streamer.stats.drift import numeric_drift
from streamer.stats.drift_columns import numeric_drift_columns


def _column(rng: np.random.Generator, bins: int, ref_rows: int, win_rows: int, shift: float):
    edges = np.quantile(rng.normal(size=2000), np.linspace(0.0, 1.0, bins))
    reference, window = NumericSketch(edges), NumericSketch(edges)
    reference.update(rng.normal(size=ref_rows))
    if win_rows:
        window.update(rng.normal(shift, 1.5, size=win_rows).round(1))
    return reference, window, edges[:: max(1, (bins - 1) // 4)] if (bins - 1) % 4 == 0 else edges[[0, -1]]


def _assert_same(many: dict[str, float], one: dict[str, float]) -> None:
    assert list(many) == list(one)
    for name, value in one.items():
        if math.isnan(value):
            assert math.isnan(many[name]), name
        else:
            assert many[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name


@pytest.mark.parametrize("seed", range(5))
def test_many_columns_equal_one_column_each(seed: int) -> None:
    rng = np.random.default_rng(seed)
    columns = [
        _column(rng, 41, 5000, 120, 0.0), _column(rng, 9, 300, 2000, 2.0), _column(rng, 21, 5000, 1, -3.0),
        _column(rng, 41, 50, 0, 0.0), _column(rng, 13, 20000, 30000, 0.3), _column(rng, 2, 100, 100, 5.0),
    ]
    many = numeric_drift_columns(columns)
    assert len(many) == len(columns)
    for (reference, window, coarse), metrics in zip(columns, many, strict=True):
        _assert_same(metrics, numeric_drift(reference, window, coarse))


def test_ks_statistic_and_pvalue_are_exactly_the_same() -> None:
    rng = np.random.default_rng(7)
    columns = [_column(rng, 41, 5000, rows, 0.1) for rows in (30, 120, 1000, 20000)]
    for (reference, window, coarse), metrics in zip(columns, numeric_drift_columns(columns), strict=True):
        one = numeric_drift(reference, window, coarse)
        for name in ("ks_statistic", "ks_pvalue", "wasserstein_norm", "reference_noise_norm", "mean", "std"):
            assert metrics[name] == one[name], name


def test_no_columns() -> None:
    assert numeric_drift_columns([]) == []


def test_retained_items_match_iterating_the_sketch() -> None:
    rng = np.random.default_rng(5)
    for rows in (1, 2, 199, 201, 5000, 100_000):
        sketch, other = QuantileSketch(), QuantileSketch()
        sketch.update(rng.normal(size=rows))
        other.update(rng.normal(size=rows))
        sketch.merge(other)
        items, weights = sketch.weighted_items()
        pairs = np.array(list(sketch._kll), dtype=np.float64)
        order = np.argsort(pairs[:, 0], kind="stable")
        assert np.array_equal(items, pairs[order, 0]) and np.array_equal(weights, pairs[order, 1])
        assert weights.sum() == sketch.n
