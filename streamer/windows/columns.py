"""Column layouts and the conversion of raw JSON values into sketch input.

A :class:`ColumnSpec` says how one monitored column is summarised: numeric over fixed bins, or
categorical over known categories. A model's layout comes from its reference profile; a model
without one gets an empty layout and every column's kind is inferred from its first values.

>>> to_numeric([1, 2.5, None, "x", True])
(array([1. , 2.5, nan, nan, nan]), 2)
>>> infer_kind([None, 3, 4.5]), infer_kind(["a", 1]), infer_kind([True])
('numeric', 'categorical', 'categorical')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamer.events.rows import PredictionRows
from streamer.sketches.categorical import CategoricalSketch
from streamer.sketches.numeric import NumericSketch, update_rows

Sketch = NumericSketch | CategoricalSketch
NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class ColumnSpec:
    kind: str
    edges: np.ndarray | None = None  # fine partition (numeric)
    mlrun_edges: np.ndarray | None = None  # MLRun partition (numeric)
    known: tuple[str, ...] = ()  # reference categories (categorical)

    def new_sketch(self, max_categories: int) -> Sketch:
        if self.kind == NUMERIC:
            return NumericSketch(self.edges)
        return CategoricalSketch(max_categories, self.known)


@dataclass(frozen=True)
class Layout:
    """Specs of the feature columns and the output columns (prediction, probabilities)."""

    features: Mapping[str, ColumnSpec] = field(default_factory=dict)
    outputs: Mapping[str, ColumnSpec] = field(default_factory=dict)


EMPTY_LAYOUT = Layout()


_NUMBERS = frozenset({float, int})
_PLAIN_NUMBERS = _NUMBERS | {type(None)}


def _is_number(value: Any) -> bool:
    return type(value) is float or type(value) is int


def to_numeric(values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, int]:
    """Float64 array of ``values`` (NaN where missing) and how many were not numbers at all."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype(np.float64, copy=False), 0
    if _PLAIN_NUMBERS.issuperset(map(type, values)):
        return np.array(values, dtype=np.float64), 0  # numpy reads None as NaN
    array = np.fromiter((v if _is_number(v) else math.nan for v in values), dtype=np.float64, count=len(values))
    mismatches = sum(1 for v in values if v is not None and not _is_number(v))
    return array, mismatches


def _count_none(values: Sequence[Any] | np.ndarray) -> int:
    return values.count(None) if isinstance(values, list) else 0


def infer_kind(values: Sequence[Any] | np.ndarray) -> str:
    """Numeric when every present value is a number (booleans are categorical)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return NUMERIC
    present = set(map(type, values)) - {type(None)}
    return NUMERIC if present and present <= _NUMBERS else CATEGORICAL


def output_columns(rows: PredictionRows) -> dict[str, list[Any]]:
    """``prediction`` and the probability columns (``prediction_proba`` or ``prediction_proba.<class>``)."""
    columns: dict[str, list[Any]] = {}
    if rows.predictions.count(None) < len(rows.predictions):
        columns["prediction"] = rows.predictions
    probas = rows.probas
    kinds = set(map(type, probas))
    if kinds & _NUMBERS:
        columns["prediction_proba"] = [None if isinstance(p, Mapping) else p for p in probas]
    if kinds - _PLAIN_NUMBERS:
        classes = dict.fromkeys(c for p in probas if isinstance(p, Mapping) for c in p)
        for name in classes:
            columns[f"prediction_proba.{name}"] = [p.get(name) if isinstance(p, Mapping) else None for p in probas]
    return columns


def update_sketches(
    sketches: dict[str, Sketch],
    columns: Mapping[str, Sequence[Any]],
    specs: Mapping[str, ColumnSpec],
    max_categories: int,
    type_mismatches: dict[str, int],
    non_finite: dict[str, int] | None = None,
) -> None:
    """Add each column's values to its sketch, creating sketches for columns seen the first time."""
    plain: dict[str, list[Any]] = {}  # numeric columns of plain numbers and nulls: one matrix (update_rows)
    for name, values in columns.items():
        sketch = sketches.get(name)
        if sketch is None:
            spec = specs.get(name) or ColumnSpec(infer_kind(values))
            sketch = sketches[name] = spec.new_sketch(max_categories)
        if isinstance(sketch, NumericSketch):
            if type(values) is list and _PLAIN_NUMBERS.issuperset(map(type, values)):
                plain[name] = values
                continue
            array, mismatches = to_numeric(values)
            sketch.update(array)
            if mismatches:
                type_mismatches[name] = type_mismatches.get(name, 0) + mismatches
            if non_finite is not None and sketch.missing:
                # NaN and infinities sent as numbers (not null, not a mismatch): counted apart.
                n_bad = int(np.count_nonzero(~np.isfinite(array))) - mismatches - _count_none(values)
                if n_bad > 0:
                    non_finite[name] = non_finite.get(name, 0) + n_bad
        else:
            sketch.update(values)
    if plain:
        _update_plain(sketches, plain, non_finite)


def _update_plain(sketches: dict[str, Sketch], plain: dict[str, list[Any]], non_finite: dict[str, int] | None) -> None:
    """Numeric columns of plain numbers and nulls (of one length), as one float64 matrix."""
    numeric: list[NumericSketch] = [sketches[name] for name in plain]  # type: ignore[misc]
    matrix: Sequence[np.ndarray]
    if len(set(map(len, plain.values()))) == 1:
        whole = np.array(list(plain.values()), dtype=np.float64)  # numpy reads None as NaN
        update_rows(numeric, whole)
        matrix = list(whole)
    else:
        matrix = [np.array(values, dtype=np.float64) for values in plain.values()]
        for sketch, row in zip(numeric, matrix, strict=True):
            sketch.update(row)
    if non_finite is None:
        return
    for (name, values), sketch, row in zip(plain.items(), numeric, matrix, strict=True):
        if sketch.missing:
            # NaN and infinities sent as numbers (not null): counted apart.
            n_bad = int(np.count_nonzero(~np.isfinite(row))) - values.count(None)
            if n_bad > 0:
                non_finite[name] = non_finite.get(name, 0) + n_bad
