"""A window's ground-truth state, and the summary sections built from it.

:class:`WindowPerformance` is the one object the pipeline would keep per model window for this concern:
labelled rows update the realized performance and the per-segment errors; scored rows (labelled or not)
update the histogram the estimate reads. Its :meth:`~WindowPerformance.sections` give the window
summary's ``performance`` and ``performance_estimate`` (CONTRACT 6), each with the findings of
:func:`streamer.performance.degraded.degraded_metrics`, which :mod:`streamer.alerts.performance` turns
into alerts. :func:`concept_section` does the same for a model's concept-drift detections.

>>> window = WindowPerformance("classification")
>>> window.update_scored([0.9, 0.2, 0.7], [1, 0, 1])
>>> window.update_labelled([1, 0, 0], [1, 0, 1], [0.9, 0.2, 0.7], {}).tolist()
[0.0, 0.0, 1.0]
>>> sections = window.sections(None, PerformancePolicy())
>>> sections["performance"]["labelled"], round(sections["performance"]["accuracy"], 3)
(3, 0.667)
>>> "performance_estimate" in sections  # no calibration without a labelled reference
False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamer.config import DriftPolicy
from streamer.events.timestamps import format_timestamp
from streamer.labels.fences import Fences
from streamer.performance.classification import ClassificationPerformance
from streamer.performance.degraded import PerformancePolicy, degraded_metrics
from streamer.performance.estimate import Calibration, EstimateState
from streamer.performance.label_drift import label_drift
from streamer.performance.reference import DECISION_THRESHOLD, row_errors
from streamer.performance.regression import RegressionPerformance
from streamer.performance.segments import SegmentPerformance, SegmentSpec, worst_segments
from streamer.sketches.categorical import category_of
from streamer.sketches.codec import pack, unpack
from streamer.windows.columns import to_numeric

TASKS = ("classification", "regression")


def _positive_scores(scores: Sequence[Any] | np.ndarray) -> np.ndarray:
    """The positive-class score of each row (NaN for a missing or a per-class score)."""
    if isinstance(scores, np.ndarray) and scores.dtype.kind == "f":
        return scores
    return to_numeric([s if isinstance(s, int | float) and not isinstance(s, bool) else None for s in scores])[0]


class WindowPerformance:
    def __init__(self, task: str, positive: str = "1", segments: Mapping[str, SegmentSpec] | None = None) -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        self.task = task
        self.positive = positive
        self.realized: ClassificationPerformance | RegressionPerformance = (
            ClassificationPerformance(positive) if task == "classification" else RegressionPerformance())
        self.segments = SegmentPerformance(segments or {})
        self.scored = EstimateState()
        # Applied-offset fences (streamer.labels.fences): joined pairs, and prediction records scored.
        self.fences = Fences()
        self.scored_fences = Fences()

    @classmethod
    def for_reference(cls, ground_truth: Mapping[str, Any]) -> WindowPerformance:
        """Task, positive class and segments as the labelled reference has them."""
        specs = {n: SegmentSpec.from_json(s) for n, s in ground_truth.get("segments", {}).get("specs", {}).items()}
        return cls(ground_truth["task"], ground_truth.get("positive", "1"), specs)

    def update_scored(self, scores: Sequence[Any] | np.ndarray, predictions: Sequence[Any] | None = None) -> None:
        """Every row with a positive-class score, labelled or not (the estimate's input)."""
        if self.task != "classification":
            return
        s = _positive_scores(scores)
        if predictions is None:
            predicted = s >= DECISION_THRESHOLD
        else:
            predicted = np.array([category_of(p) == self.positive for p in predictions], dtype=bool)
        self.scored.update(s, predicted)

    def update_labelled(self, labels: Sequence[Any], predictions: Sequence[Any],
                        scores: Sequence[Any] | None, features: Mapping[str, Sequence[Any]] | None = None,
                        segment_indices: Sequence[Sequence[int]] | None = None) -> np.ndarray:
        """Joined rows, with their features or the segment indices taken at prediction time; returns
        each row's error (for the concept-drift detector)."""
        if isinstance(self.realized, ClassificationPerformance):
            self.realized.update(labels, predictions, scores)
        else:
            self.realized.update(labels, predictions)
        errors = row_errors(self.task, labels, predictions)
        if features is not None:
            self.segments.update(features, errors)
        elif segment_indices is not None and self.segments.specs and len(segment_indices) and \
                len(segment_indices[0]) == len(self.segments.specs):
            self.segments.update_indices(np.array(segment_indices), errors)
        return errors

    def merge(self, other: WindowPerformance) -> None:
        self.realized.merge(other.realized)  # type: ignore[arg-type]  # same task: same class
        self.segments.merge(other.segments)
        self.scored.merge(other.scored)

    def sections(self, ground_truth: Mapping[str, Any] | None, policy: PerformancePolicy,
                 drift_policy: DriftPolicy | None = None) -> dict[str, Any]:
        """``performance`` (once a row is labelled; with ``label_drift`` for a classifier whose reference has
        label counts, given a ``drift_policy``) and ``performance_estimate`` (binary, calibrated reference)."""
        out: dict[str, Any] = {}
        reference = (ground_truth or {}).get("performance")
        realized = self.realized.metrics()
        if realized["labelled"]:
            realized["degraded"] = degraded_metrics(realized, reference, policy)
            if reference:
                realized["reference"] = {k: v for k, v in reference.items() if isinstance(v, int | float)}
            segments = self.segments.metrics()
            if segments:
                realized["segments"] = segments
                reference_segments = (ground_truth or {}).get("segments", {}).get("performance", {})
                realized["worst_segments"] = worst_segments(segments, reference_segments)
            reference_labels = (ground_truth or {}).get("label_counts")
            if drift_policy is not None and reference_labels and isinstance(self.realized, ClassificationPerformance):
                realized["label_drift"] = label_drift(reference_labels, self.realized.label_counts(), drift_policy)
            out["performance"] = realized
        calibration = (ground_truth or {}).get("calibration")
        if calibration and self.scored.count:
            estimate = self.scored.estimate(Calibration.from_json(calibration))
            estimate["degraded"] = degraded_metrics({"labelled": estimate["scored"], "accuracy": estimate["accuracy"]},
                                                    reference, policy)
            if "accuracy" in realized:
                estimate["realized_accuracy"] = realized["accuracy"]
            out["performance_estimate"] = estimate
        return out

    def to_bytes(self) -> bytes:
        return pack("window_performance", 1, {"task": self.task, "positive": self.positive,
                                              "fences": self.fences.to_json(), "scored_fences": self.scored_fences.to_json()},
                    [self.realized.to_bytes(), self.segments.to_bytes(), self.scored.to_bytes()])

    @classmethod
    def from_bytes(cls, data: bytes) -> WindowPerformance:
        header, blobs = unpack(data, "window_performance", 1)
        window = cls(header["task"], header["positive"])
        window.fences, window.scored_fences = Fences(header.get("fences")), Fences(header.get("scored_fences"))
        window.realized = (ClassificationPerformance.from_bytes(blobs[0]) if window.task == "classification"
                           else RegressionPerformance.from_bytes(blobs[0]))
        window.segments = SegmentPerformance.from_bytes(blobs[1])
        window.scored = EstimateState.from_bytes(blobs[2])
        return window

    def __repr__(self) -> str:
        return f"WindowPerformance({self.task!r}, labelled={self.realized.labelled}, scored={self.scored.count})"


def concept_section(events: Sequence[Mapping[str, Any]], warning: bool, detector: str) -> dict[str, Any]:
    """The window summary's ``concept`` section: the detections made while the window was open."""
    def entry(e: Mapping[str, Any]) -> dict[str, Any]:
        return {"change_point": format_timestamp(e["change_point_s"]), "detected_at": format_timestamp(e["detected_at_s"]),
                "error_rate_before": e["error_rate_before"], "error_rate_after": e["error_rate_after"]}
    section: dict[str, Any] = {"detector": detector, "warning": warning,
                               "changes": [entry(e) for e in events if e.get("kind", "drift") == "drift"]}
    warnings = [entry(e) for e in events if e.get("kind") == "warning"]
    if warnings:
        section["suspected"] = warnings  # the detector's warning level (DDM): concept_drift_suspected
    return section
