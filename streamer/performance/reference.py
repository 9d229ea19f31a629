"""The ground-truth section of a reference profile, built from a labelled reference file.

``reference build --label COL`` (with ``--prediction`` and/or ``--proba``) adds to the profile:

* ``task``: ``classification`` or ``regression`` (numeric labels with more than
  :data:`MAX_CLASSES` distinct values, or with fractions, are a regression);
* ``positive``: the positive class of a classifier (``1``, ``true``, else the last class in sorted order);
* ``performance``: the reference's own metrics, the yardstick of ``model_performance_degraded``;
* ``calibration``: for binary classifiers with scores, the map :class:`~streamer.performance.estimate.Calibration`
  that the estimate before labels uses;
* ``segments``: per feature the segment bounds and the reference's own error in each segment;
* ``label_counts``: a classifier's labels per class, the yardstick of label drift.

All of it is plain JSON lists and numbers.

>>> section = ground_truth_section([0, 1, 1, 0] * 50, [0, 1, 0, 0] * 50, [0.2, 0.9, 0.4, 0.1] * 50,
...                                {"x": list(range(200))}, {"x": "numeric"})
>>> section["task"], section["positive"], section["performance"]["accuracy"], len(section["calibration"]["scores"])
('classification', '1', 0.75, 100)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamer.performance.classification import ClassificationPerformance
from streamer.performance.estimate import Calibration
from streamer.performance.regression import RegressionPerformance
from streamer.performance.segments import SegmentPerformance, specs_from_columns
from streamer.sketches.categorical import category_of
from streamer.windows.columns import NUMERIC, infer_kind, to_numeric

MAX_CLASSES = 20
DECISION_THRESHOLD = 0.5


def infer_task(labels: Sequence[Any] | np.ndarray) -> str:
    """``regression`` for numeric labels with fractions or many values, else ``classification``.

    >>> infer_task([0, 1, 1]), infer_task([0.5, 1.25]), infer_task(["a", "b"])
    ('classification', 'regression', 'classification')
    """
    if infer_kind(labels) != NUMERIC:
        return "classification"
    y, _ = to_numeric(labels)
    y = y[np.isfinite(y)]
    if len(np.unique(y)) > MAX_CLASSES or np.any(y != np.round(y)):
        return "regression"
    return "classification"


def positive_class(classes: Sequence[str]) -> str:
    for name in ("1", "true"):
        if name in classes:
            return name
    return sorted(classes)[-1] if classes else "1"


def row_errors(task: str, labels: Sequence[Any] | np.ndarray, predictions: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Per row: 0/1 (wrong) for a classifier, the absolute error for a regressor; NaN where unknown."""
    if task == "regression":
        y, _ = to_numeric(labels)
        p, _ = to_numeric(predictions)
        return np.abs(p - y)
    true = [category_of(v) for v in labels]
    pred = [category_of(v) for v in predictions]
    return np.array([np.nan if t is None or q is None else float(t != q) for t, q in zip(true, pred, strict=True)])


def predictions_from_scores(scores: Sequence[Any] | np.ndarray, positive: str, negative: str) -> list[str | None]:
    s, _ = to_numeric(scores)
    return [None if np.isnan(x) else (positive if x >= DECISION_THRESHOLD else negative) for x in s]


Column = Sequence[Any] | np.ndarray


def ground_truth_section(labels: Column, predictions: Column | None, scores: Column | None,
                         features: Mapping[str, Column], kinds: Mapping[str, str]) -> dict[str, Any]:
    if predictions is None and scores is None:
        raise ValueError("a labelled reference needs a prediction or a score column")
    task = infer_task(labels)
    section: dict[str, Any] = {"task": task}
    if task == "regression":
        if predictions is None:
            raise ValueError("a regression reference needs a prediction column")
        regression = RegressionPerformance()
        regression.update(labels, predictions)
        section["performance"] = regression.metrics()
    else:
        classes = sorted({c for c in map(category_of, labels) if c is not None})
        positive = positive_class(classes)
        negative = next((c for c in classes if c != positive), "0")
        if predictions is None:
            predictions = predictions_from_scores(scores, positive, negative)  # type: ignore[arg-type]
        classification = ClassificationPerformance(positive)
        numeric_scores = list(to_numeric(scores)[0]) if scores is not None else None
        classification.update(labels, predictions, numeric_scores)
        section["positive"] = positive
        section["label_counts"] = classification.label_counts()
        section["performance"] = {k: v for k, v in classification.metrics().items() if k != "confusion"}
        if scores is not None and classification.is_binary:
            is_positive = np.array([category_of(v) == positive if category_of(v) is not None else np.nan
                                    for v in labels], dtype=np.float64)
            section["calibration"] = Calibration.fit(to_numeric(scores)[0], is_positive).to_json()
            section["threshold"] = DECISION_THRESHOLD
    section["labelled"] = section["performance"]["labelled"]
    errors = row_errors(task, labels, predictions)
    specs = specs_from_columns(features, kinds)
    segments = SegmentPerformance(specs)
    segments.update(features, errors)
    section["segments"] = {"specs": {n: s.to_json() for n, s in specs.items()}, "performance": segments.metrics()}
    return section
