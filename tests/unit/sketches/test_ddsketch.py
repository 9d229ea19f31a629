"""The latency sketch's relative value error against exact percentiles on skewed data."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.events.rows import PredictionRows
from streamer.sketches.codec import pack
from streamer.sketches.ddsketch import DDSketch
from streamer.sketches.numeric import NumericSketch
from streamer.windows.accumulator import EMPTY_LAYOUT, WindowAccumulator

QUANTILES = (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)
DATA = {
    "lognormal": lambda rng, n: rng.lognormal(3.0, 1.2, n),
    "pareto": lambda rng, n: (rng.pareto(1.5, n) + 1.0) * 5.0,
    "exponential-with-zeros": lambda rng, n: np.where(rng.random(n) < 0.1, 0.0, rng.exponential(20.0, n)),
}


def _relative_errors(sketch: DDSketch, values: np.ndarray) -> np.ndarray:
    exact = np.quantile(values, QUANTILES, method="lower")
    got = sketch.quantiles(QUANTILES)
    return np.where(exact == 0, np.abs(got), np.abs(got - exact) / np.where(exact == 0, 1.0, exact))


@pytest.mark.parametrize("name", sorted(DATA))
@pytest.mark.parametrize("n", [1, 17, 1000, 200_000])
def test_every_quantile_is_within_one_percent_of_the_exact_value(name, n):
    values = DATA[name](np.random.default_rng(n), n)
    sketch = DDSketch()
    sketch.update(values)
    assert _relative_errors(sketch, values).max() <= 0.01 + 1e-12
    assert sketch.quantile(1.0) == values.max() and sketch.count == n


@pytest.mark.parametrize("name", sorted(DATA))
def test_merged_parts_keep_the_error_bound(name):
    rng = np.random.default_rng(5)
    parts = [DATA[name](rng, n) for n in (10, 5000, 30_000, 1)]
    merged = DDSketch()
    for part in parts:
        sketch = DDSketch()
        sketch.update(part)
        merged.merge(sketch)
    assert _relative_errors(merged, np.concatenate(parts)).max() <= 0.01 + 1e-12


def test_a_kll_sketch_would_miss_the_heavy_tail_by_more():
    """Why latency moved to DDSketch: on Pareto data KLL's p99.9 is off by far more than 1% of the value."""
    values = DATA["pareto"](np.random.default_rng(3), 200_000)
    exact = float(np.quantile(values, 0.999, method="lower"))
    kll = NumericSketch()
    kll.update(values)
    sketch = DDSketch()
    sketch.update(values)
    assert abs(sketch.quantile(0.999) - exact) / exact <= 0.01
    assert abs(kll.quantiles.quantile(0.999) - exact) / exact > 0.01


def test_serialised_form_is_compact():
    sketch = DDSketch()
    sketch.update(DATA["lognormal"](np.random.default_rng(1), 100_000))
    assert len(sketch.to_bytes()) < 12 * np.count_nonzero(sketch.counts) + 300


def test_cdf_counts_values_at_or_below():
    sketch = DDSketch()
    sketch.update(np.array([0.0, 1.0, 10.0, 100.0]))
    assert [sketch.cdf(x) for x in (-1.0, 0.0, 1.0, 50.0, 1000.0)] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError):
        DDSketch(relative_accuracy=0.0)


def test_a_window_stored_before_the_sketch_change_still_loads():
    """Window state v1 kept latency in a KLL sketch; its items carry over into the DDSketch."""
    rows = PredictionRows.empty("fraud", "1")
    for i in range(50):
        rows.append_row(timestamp_s=float(i), features={"x": float(i)}, latency_ms=float(i + 1))
    window = WindowAccumulator(0.0, 60.0)
    window.add(rows, EMPTY_LAYOUT, max_categories=16)
    from streamer.sketches.codec import unpack
    header, blobs = unpack(window.to_bytes(), "window", 2)
    old_latency = NumericSketch()
    old_latency.update(np.arange(1.0, 51.0))
    restored = WindowAccumulator.from_bytes(pack("window", 1, header, [old_latency.to_bytes(), *blobs[1:]]))
    assert restored.latency_ms.count == 50 and restored.latency_ms.max == 50.0
    assert restored.rows == 50 and restored.features["x"].count == 50
