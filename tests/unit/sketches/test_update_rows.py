import math

import numpy as np
import pytest

from streamer.sketches import numeric
from streamer.sketches.numeric import NumericSketch, update_rows
from streamer.windows.columns import update_sketches


def state(sketch: NumericSketch) -> tuple:
    return (sketch.count, sketch.missing, sketch.min, sketch.max, sketch.quantiles.n,
            None if sketch.counts is None else sketch.counts.tolist())


@pytest.mark.parametrize("edges", [None, np.linspace(-2, 2, 9)])
def test_update_rows_matches_one_update_per_sketch(edges: np.ndarray | None) -> None:
    rng = np.random.default_rng(7)
    together = [NumericSketch(edges) for _ in range(5)]
    alone = [NumericSketch(edges) for _ in range(5)]
    for _ in range(30):
        matrix = rng.normal(size=(5, 20))
        matrix[1, rng.integers(0, 20, 3)] = np.nan  # rows with missing values take the per-sketch path
        matrix[3, 0] = np.inf if rng.random() < 0.5 else matrix[3, 0]
        update_rows(together, matrix)
        for sketch, row in zip(alone, matrix, strict=True):
            sketch.update(row.copy())
    for a, b in zip(together, alone, strict=True):
        assert state(a) == state(b)
        assert math.isclose(a.mean, b.mean, rel_tol=1e-12, abs_tol=1e-12)
        assert math.isclose(a.m2, b.m2, rel_tol=1e-9)


def test_update_sketches_counts_non_finite_and_nulls_per_column() -> None:
    sketches: dict = {}
    mismatches: dict[str, int] = {}
    non_finite: dict[str, int] = {}
    columns = {"a": [1.0, None, 3.0], "b": [float("nan"), 2.0, float("inf")], "c": [1, "x", 2], "d": [1.0, 2.0]}
    update_sketches(sketches, columns, {}, 16, mismatches, non_finite)
    assert (sketches["a"].count, sketches["a"].missing) == (2, 1)
    assert (sketches["b"].count, sketches["b"].missing) == (1, 2)
    assert non_finite == {"b": 2}
    assert sketches["d"].count == 2  # a column of another length still counts
    assert sorted(sketches) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("seed", range(20))
def test_bin_counts_of_rows_equal_bin_counts_row_by_row(seed: int) -> None:
    """Columns over edges of different lengths (and none), values on edges, on the last edge, beyond both ends."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    edges = [None if rng.random() < 0.2 else np.unique(rng.normal(size=int(rng.integers(2, 40))).round(1))
             for _ in range(int(rng.integers(1, 8)))]
    edges = [e if e is None or len(e) >= 2 else np.array([0.0, 1.0]) for e in edges]
    rows = rng.normal(scale=2.0, size=(len(edges), n)).round(1)
    for i, e in enumerate(edges):
        if e is not None:
            rows[i, : min(n, 3)] = [e[0], e[-1], e[len(e) // 2]][: min(n, 3)]
    for cells in (1 << 20, 0):  # the padded matrix, and one call per row
        monkey = pytest.MonkeyPatch()
        monkey.setattr(numeric, "_BIN_MATRIX_CELLS", cells)
        found = numeric._bin_counts_of_rows(edges, rows)
        monkey.undo()
        for e, row, counts in zip(edges, rows, found, strict=True):
            if e is None:
                assert counts is None
            else:
                assert counts.tolist() == numeric.bin_counts(row, e).tolist()
