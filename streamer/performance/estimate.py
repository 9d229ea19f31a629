"""Performance estimated before labels (confidence-based performance estimation, CBPE).

At ``reference build`` time the positive-class scores of the labelled reference are calibrated
(:class:`Calibration`): equal-frequency bins of the scores, each bin's share of positives, made
non-decreasing by pool-adjacent-violators (isotonic regression over the bins; Zadrozny and Elkan,
"Transforming classifier scores into accurate multiclass probability estimates", KDD 2002). A window
then keeps only the histogram of its scores, split by the predicted label (:class:`EstimateState`).
If the calibrated score ``c`` is the probability that a row is positive, a row predicted positive is
right with probability ``c`` and one predicted negative with ``1 - c``, so the expected accuracy of the
window is ``sum(c over predicted positives) + sum(1 - c over predicted negatives)`` over the rows,
and the expected ROC AUC that of a histogram whose bins hold ``n_b c_b`` positives and
``n_b (1 - c_b)`` negatives (the expected confusion matrix, as NannyML's CBPE computes it).

Why it works, and when it does not: the estimate follows every change in the *inputs* (covariate
shift: more rows where the model is unsure lower the expected accuracy), because the calibration maps
each score to the accuracy it had on the reference. It cannot see a change in the relation between
inputs and labels (concept drift): there the scores look the same and only labels tell. That is
what the realized performance and the concept-drift detectors are for.

>>> cal = Calibration.fit([0.1, 0.2, 0.8, 0.9] * 50, [0, 0, 1, 1] * 50, bins=4)
>>> cal.apply([0.1, 0.9]).tolist()
[0.0, 1.0]
>>> state = EstimateState()
>>> state.update([0.1, 0.9, 0.8], [False, True, False])
>>> round(state.estimate(cal)["accuracy"], 3)
0.667
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamer.errors import SketchMismatchError
from streamer.performance.scores import (
    DEFAULT_SCORE_BINS,
    auc_from_histograms,
    bin_centers,
    decode_counts,
    encode_counts,
    score_bins,
)
from streamer.sketches.codec import pack, unpack

DEFAULT_CALIBRATION_BINS = 100


def _pool_adjacent_violators(rates: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The non-decreasing sequence closest to ``rates`` in weighted least squares."""
    values: list[float] = []
    sizes: list[float] = []
    lengths: list[int] = []
    for rate, weight in zip(rates.tolist(), weights.tolist(), strict=True):
        values.append(rate)
        sizes.append(weight)
        lengths.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            weight_sum = sizes[-2] + sizes[-1]
            values[-2] = (values[-2] * sizes[-2] + values[-1] * sizes[-1]) / weight_sum
            sizes[-2] = weight_sum
            lengths[-2] += lengths[-1]
            del values[-1], sizes[-1], lengths[-1]
    return np.repeat(values, lengths)


@dataclass(frozen=True)
class Calibration:
    """A monotone map from score to probability of the positive class: linear between ``(scores, rates)``."""

    scores: tuple[float, ...]
    rates: tuple[float, ...]
    rows: int

    @classmethod
    def fit(cls, scores: Sequence[float] | np.ndarray, labels: Sequence[Any] | np.ndarray,
            bins: int = DEFAULT_CALIBRATION_BINS) -> Calibration:
        """Fit on ``scores`` and 0/1 (or boolean) ``labels``; rows with a NaN score are skipped."""
        s = np.asarray(scores, dtype=np.float64)
        y = np.asarray(labels, dtype=np.float64)
        keep = ~np.isnan(s) & ~np.isnan(y)
        s, y = s[keep], y[keep]
        if not len(s):
            raise ValueError("calibration needs at least one scored, labelled row")
        order = np.argsort(s, kind="stable")
        s, y = s[order], y[order]
        groups = np.array_split(np.arange(len(s)), min(bins, len(s)))
        centres = np.array([s[g].mean() for g in groups])
        rates = np.array([y[g].mean() for g in groups])
        weights = np.array([len(g) for g in groups], dtype=np.float64)
        fitted = _pool_adjacent_violators(rates, weights)
        return cls(tuple(centres.tolist()), tuple(fitted.tolist()), len(s))

    def apply(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(scores, dtype=np.float64), self.scores, self.rates)

    def to_json(self) -> dict[str, Any]:
        return {"method": "binned_isotonic", "scores": list(self.scores), "rates": list(self.rates), "rows": self.rows}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Calibration:
        scores, rates = tuple(float(x) for x in doc["scores"]), tuple(float(x) for x in doc["rates"])
        if not scores or len(scores) != len(rates) or any(b < a for a, b in zip(scores, scores[1:], strict=False)):
            raise ValueError("calibration needs as many rates as scores, scores non-decreasing")
        return cls(scores, rates, int(doc.get("rows", 0)))


class EstimateState:
    """A window's score histogram, split by predicted label: all the estimate needs."""

    def __init__(self, bins: int = DEFAULT_SCORE_BINS) -> None:
        self.bins = bins
        self.predicted_positive = np.zeros(bins, dtype=np.int64)
        self.predicted_negative = np.zeros(bins, dtype=np.int64)

    @property
    def count(self) -> int:
        return int(self.predicted_positive.sum() + self.predicted_negative.sum())

    def update(self, scores: Sequence[float] | np.ndarray, predicted_positive: Sequence[bool] | np.ndarray) -> None:
        s = np.asarray(scores, dtype=np.float64)
        positive = np.asarray(predicted_positive, dtype=bool)
        keep = ~np.isnan(s)
        index, positive = score_bins(s[keep], self.bins), positive[keep]
        self.predicted_positive += np.bincount(index[positive], minlength=self.bins)
        self.predicted_negative += np.bincount(index[~positive], minlength=self.bins)

    def merge(self, other: EstimateState) -> None:
        if other.bins != self.bins:
            raise SketchMismatchError(f"cannot merge estimate states of {self.bins} and {other.bins} bins")
        self.predicted_positive += other.predicted_positive
        self.predicted_negative += other.predicted_negative

    def estimate(self, calibration: Calibration) -> dict[str, Any]:
        """``{"accuracy", "roc_auc", "scored"}`` expected from the scores alone; empty without scores."""
        n = self.count
        if not n:
            return {}
        c = calibration.apply(bin_centers(self.bins))
        accuracy = float(self.predicted_positive @ c + self.predicted_negative @ (1.0 - c)) / n
        total = self.predicted_positive + self.predicted_negative
        auc, _ = auc_from_histograms(total * c, total * (1.0 - c))
        out: dict[str, Any] = {"accuracy": accuracy, "scored": n}
        if auc == auc:  # not nan
            out["roc_auc"] = auc
        # Each row is right or wrong independently with its own probability: the estimate's spread
        # around the realized accuracy of the same rows.
        out["accuracy_stderr"] = float(np.sqrt(total @ (c * (1.0 - c)))) / n
        return out

    def to_bytes(self) -> bytes:
        return pack("estimate", 1, {"bins": self.bins},
                    [*encode_counts(self.predicted_positive), *encode_counts(self.predicted_negative)])

    @classmethod
    def from_bytes(cls, data: bytes) -> EstimateState:
        header, blobs = unpack(data, "estimate", 1)
        state = cls(int(header["bins"]))
        state.predicted_positive = decode_counts(blobs[:2], state.bins)
        state.predicted_negative = decode_counts(blobs[2:], state.bins)
        return state

    def __repr__(self) -> str:
        return f"EstimateState(bins={self.bins}, scored={self.count})"
