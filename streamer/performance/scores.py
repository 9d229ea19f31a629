"""A fixed-bin histogram of scores in [0, 1]: mergeable, exact given its bins, and cheap to store.

Scores are counted into ``bins`` equal bins of [0, 1] (scores outside are clipped to the ends, NaN
is skipped). Everything computed from scores (ROC AUC, the estimated accuracy) then depends only on
the bin counts, so the state of a window merges by adding counts.

>>> h = ScoreHistogram(bins=10)
>>> h.update([0.05, 0.15, 0.151, 1.0, float("nan")])
>>> h.count, h.counts[:3].tolist(), int(h.counts[-1])
(4, [1, 2, 0], 1)
>>> ScoreHistogram.from_bytes(h.to_bytes()).counts.tolist() == h.counts.tolist()
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamer.errors import SketchMismatchError
from streamer.sketches.codec import pack, unpack

DEFAULT_SCORE_BINS = 1000


def score_bins(scores: np.ndarray, bins: int) -> np.ndarray:
    """Bin index of each finite score (NaN must be removed first): ``floor(score * bins)``, clipped."""
    return np.clip((scores * bins).astype(np.int64), 0, bins - 1)


def bin_centers(bins: int) -> np.ndarray:
    return (np.arange(bins) + 0.5) / bins


class ScoreHistogram:
    def __init__(self, bins: int = DEFAULT_SCORE_BINS) -> None:
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        self.bins = bins
        self.counts = np.zeros(bins, dtype=np.int64)

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def update(self, scores: Sequence[float] | np.ndarray) -> None:
        values = np.asarray(scores, dtype=np.float64)
        values = values[~np.isnan(values)]
        self.counts += np.bincount(score_bins(values, self.bins), minlength=self.bins)

    def merge(self, other: ScoreHistogram) -> None:
        if other.bins != self.bins:
            raise SketchMismatchError(f"cannot merge score histograms of {self.bins} and {other.bins} bins")
        self.counts += other.counts

    def to_bytes(self) -> bytes:
        return pack("scores", 1, {"bins": self.bins}, encode_counts(self.counts))

    @classmethod
    def from_bytes(cls, data: bytes) -> ScoreHistogram:
        header, blobs = unpack(data, "scores", 1)
        histogram = cls(int(header["bins"]))
        histogram.counts = decode_counts(blobs, histogram.bins)
        return histogram

    def __repr__(self) -> str:
        return f"ScoreHistogram(bins={self.bins}, count={self.count})"


def encode_counts(counts: np.ndarray) -> tuple[bytes, bytes]:
    """Sparse form of a count vector: the indices of the non-zero bins and their counts."""
    (index,) = np.nonzero(counts)
    return index.astype("<u4").tobytes(), counts[index].astype("<i8").tobytes()


def decode_counts(blobs: Sequence[bytes], size: int) -> np.ndarray:
    index = np.frombuffer(blobs[0], dtype="<u4").astype(np.int64)
    counts = np.zeros(size, dtype=np.int64)
    counts[index] = np.frombuffer(blobs[1], dtype="<i8")
    return counts


def auc_from_histograms(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """ROC AUC of binned scores and the bound on its error against the AUC of the raw scores.

    The AUC is P(score of a positive > score of a negative) + P(tie) / 2 (ties as scikit-learn
    counts them). Pairs in different bins are ordered exactly by their bins; a pair in the same bin is
    counted as half, whereas on raw scores it counts 0, 1/2 or 1. So the binned AUC is within
    ``bound = sum_b pos_b * neg_b / (2 P N)`` of the raw-score AUC, a figure computed from the same
    counts (at most ``1 / (2 * bins)`` when scores spread evenly, far less when the classes separate).
    ``(nan, nan)`` when either class is empty.

    >>> auc_from_histograms(np.array([0, 0, 2]), np.array([2, 0, 0]))
    (1.0, 0.0)
    >>> auc_from_histograms(np.array([1, 1]), np.array([1, 1]))
    (0.5, 0.25)
    """
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos <= 0 or n_neg <= 0:
        return float("nan"), float("nan")
    below = np.cumsum(neg) - neg  # negatives in lower bins
    same_bin = float(pos @ neg)
    auc = (float(pos @ below) + 0.5 * same_bin) / (n_pos * n_neg)
    return auc, 0.5 * same_bin / (n_pos * n_neg)
