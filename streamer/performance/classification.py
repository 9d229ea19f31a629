"""Mergeable classification performance: confusion counts, score histograms and log-loss sums.

Labels and predictions are compared by category name (:func:`streamer.sketches.categorical.category_of`,
so ``1``, ``1.0`` and ``"1"`` are one class). A window's state is a few counters, so the state of
two windows (or two partitions of one window) merges by adding them, and every metric is exact from
the counts, except ROC AUC, which comes from per-class score histograms and carries its own error bound
(:func:`streamer.performance.scores.auc_from_histograms`).

Binary when the classes seen are ``positive`` and at most one other class; precision, recall and F1 are
then those of ``positive``. Otherwise they are macro averages over the classes seen in labels or
predictions. An undefined ratio counts as 0 (scikit-learn's ``zero_division=0``).

>>> perf = ClassificationPerformance()
>>> perf.update([1, 0, 1, 1], [1, 0, 0, 1], scores=[0.9, 0.2, 0.4, 0.7])
>>> m = perf.metrics()
>>> m["labelled"], m["accuracy"], m["precision"], m["recall"], round(m["f1"], 3), m["roc_auc"]
(4, 0.75, 1.0, 0.6666666666666666, 0.8, 1.0)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamer.errors import SketchMismatchError
from streamer.performance.scores import DEFAULT_SCORE_BINS, auc_from_histograms, decode_counts, encode_counts
from streamer.sketches.categorical import category_of
from streamer.sketches.codec import pack, unpack

#: Probabilities are clipped to [EPS, 1 - EPS] before the logarithm, so one confident mistake is finite.
LOG_LOSS_EPS = 1e-15


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


class ClassificationPerformance:
    def __init__(self, positive: str = "1", score_bins: int = DEFAULT_SCORE_BINS) -> None:
        self.positive = positive
        self.score_bins = score_bins
        self.confusion: Counter[tuple[str, str]] = Counter()  # (label, prediction) -> rows
        # Positive-class scores of labelled rows, by whether the label is the positive class.
        self.scores_positive = np.zeros(score_bins, dtype=np.int64)
        self.scores_negative = np.zeros(score_bins, dtype=np.int64)
        self.log_loss_sum = 0.0
        self.log_loss_count = 0

    @property
    def labelled(self) -> int:
        return sum(self.confusion.values())

    def update(self, labels: Sequence[Any] | np.ndarray, predictions: Sequence[Any] | np.ndarray,
               scores: Sequence[Any] | np.ndarray | None = None) -> None:
        """Count labelled rows. ``scores``: per row the positive-class score (a number), a mapping of class
        to probability, or ``None``; rows whose label or prediction is missing are skipped."""
        true = [category_of(v) for v in labels]
        pred = [category_of(v) for v in predictions]
        keep = [i for i, (t, p) in enumerate(zip(true, pred, strict=True)) if t is not None and p is not None]
        self.confusion.update((true[i], pred[i]) for i in keep)  # type: ignore[misc]
        if scores is not None:
            self._update_scores([true[i] for i in keep], [scores[i] for i in keep])  # type: ignore[misc]

    def _update_scores(self, true: list[str], scores: list[Any]) -> None:
        numeric = [(t, float(s)) for t, s in zip(true, scores, strict=True)
                   if isinstance(s, int | float) and not isinstance(s, bool) and not math.isnan(s)]
        if numeric:
            is_positive = np.array([t == self.positive for t, _ in numeric])
            values = np.array([s for _, s in numeric])
            index = np.clip((values * self.score_bins).astype(np.int64), 0, self.score_bins - 1)
            self.scores_positive += np.bincount(index[is_positive], minlength=self.score_bins)
            self.scores_negative += np.bincount(index[~is_positive], minlength=self.score_bins)
            p_true = np.clip(np.where(is_positive, values, 1.0 - values), LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
            self.log_loss_sum -= float(np.log(p_true).sum())
            self.log_loss_count += len(numeric)
        for label, score in zip(true, scores, strict=True):
            if isinstance(score, Mapping) and score:
                by_class = {category_of(k): float(v) for k, v in score.items()}
                total = sum(by_class.values())
                if total > 0:
                    p = min(max(by_class.get(label, 0.0) / total, LOG_LOSS_EPS), 1.0 - LOG_LOSS_EPS)
                    self.log_loss_sum -= math.log(p)
                    self.log_loss_count += 1

    def merge(self, other: ClassificationPerformance) -> None:
        if other.positive != self.positive or other.score_bins != self.score_bins:
            raise SketchMismatchError("cannot merge classification performance with different positive class or bins")
        self.confusion.update(other.confusion)
        self.scores_positive += other.scores_positive
        self.scores_negative += other.scores_negative
        self.log_loss_sum += other.log_loss_sum
        self.log_loss_count += other.log_loss_count

    def label_counts(self) -> dict[str, int]:
        """Labelled rows per true class."""
        counts: dict[str, int] = {}
        for (true, _), n in sorted(self.confusion.items()):
            counts[true] = counts.get(true, 0) + n
        return counts

    @property
    def classes(self) -> list[str]:
        return sorted({c for pair in self.confusion for c in pair})

    @property
    def is_binary(self) -> bool:
        return len(set(self.classes) - {self.positive}) <= 1

    def _class_scores(self, cls: str) -> tuple[float, float, float]:
        tp = self.confusion[(cls, cls)]
        predicted = sum(n for (_, p), n in self.confusion.items() if p == cls)
        actual = sum(n for (t, _), n in self.confusion.items() if t == cls)
        precision, recall = _ratio(tp, predicted), _ratio(tp, actual)
        return precision, recall, _ratio(2 * tp, predicted + actual)

    def metrics(self) -> dict[str, Any]:
        """The window's ``performance`` section (CONTRACT 6); metrics absent until a row is labelled."""
        n = self.labelled
        out: dict[str, Any] = {"labelled": n}
        if not n:
            return out
        out["accuracy"] = sum(v for (t, p), v in self.confusion.items() if t == p) / n
        if self.is_binary:
            out["precision"], out["recall"], out["f1"] = self._class_scores(self.positive)
        else:
            per_class = np.array([self._class_scores(c) for c in self.classes])
            out["precision"], out["recall"], out["f1"] = (float(x) for x in per_class.mean(axis=0))
            out["average"] = "macro"
        auc, bound = auc_from_histograms(self.scores_positive, self.scores_negative)
        if not math.isnan(auc):
            out["roc_auc"], out["roc_auc_error_bound"] = auc, bound
            out["positives"], out["negatives"] = int(self.scores_positive.sum()), int(self.scores_negative.sum())
        if self.log_loss_count:
            out["log_loss"] = self.log_loss_sum / self.log_loss_count
        out["confusion"] = [[t, p, v] for (t, p), v in sorted(self.confusion.items())]
        return out

    def to_bytes(self) -> bytes:
        header = {"positive": self.positive, "bins": self.score_bins,
                  "confusion": [[t, p, v] for (t, p), v in sorted(self.confusion.items())],
                  "log_loss": [self.log_loss_sum, self.log_loss_count]}
        return pack("classification", 1, header, [*encode_counts(self.scores_positive),
                                                  *encode_counts(self.scores_negative)])

    @classmethod
    def from_bytes(cls, data: bytes) -> ClassificationPerformance:
        header, blobs = unpack(data, "classification", 1)
        perf = cls(header["positive"], int(header["bins"]))
        perf.confusion = Counter({(t, p): int(v) for t, p, v in header["confusion"]})
        perf.scores_positive = decode_counts(blobs[:2], perf.score_bins)
        perf.scores_negative = decode_counts(blobs[2:], perf.score_bins)
        perf.log_loss_sum, perf.log_loss_count = float(header["log_loss"][0]), int(header["log_loss"][1])
        return perf

    def __repr__(self) -> str:
        return f"ClassificationPerformance(labelled={self.labelled}, classes={len(self.classes)})"
