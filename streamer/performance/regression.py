"""Mergeable regression performance from sums: MAE, RMSE, MAPE, R² and bias.

Errors are ``prediction - label``. R² needs the labels' spread, kept as a count, mean and sum of squared
deviations merged with Chan et al.'s formula ("Algorithms for computing the sample variance", 1983),
which stays accurate where a raw sum of squares would cancel. MAPE divides by ``max(|label|, eps)``, as
scikit-learn does, so a zero label gives a huge but finite term.

>>> perf = RegressionPerformance()
>>> perf.update([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
>>> m = perf.metrics()
>>> m["labelled"], m["mae"], round(m["rmse"], 4), round(m["r2"], 4), m["bias"]
(4, 0.5, 0.6124, 0.9486, 0.25)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from streamer.sketches.codec import pack, unpack
from streamer.windows.columns import to_numeric

MAPE_EPS = float(np.finfo(np.float64).eps)
_FIELDS = ("n", "label_mean", "label_m2", "sum_error", "sum_abs_error", "sum_squared_error", "sum_ape")


class RegressionPerformance:
    def __init__(self) -> None:
        self.n = 0
        self.label_mean = 0.0
        self.label_m2 = 0.0
        self.sum_error = 0.0
        self.sum_abs_error = 0.0
        self.sum_squared_error = 0.0
        self.sum_ape = 0.0

    @property
    def labelled(self) -> int:
        return self.n

    def update(self, labels: Sequence[Any] | np.ndarray, predictions: Sequence[Any] | np.ndarray) -> None:
        """Count rows where both the label and the prediction are finite numbers."""
        y, _ = to_numeric(labels)
        p, _ = to_numeric(predictions)
        keep = np.isfinite(y) & np.isfinite(p)
        y, p = y[keep], p[keep]
        if not len(y):
            return
        error = p - y
        other = RegressionPerformance()
        other.n, other.label_mean = len(y), float(y.mean())
        other.label_m2 = float(((y - other.label_mean) ** 2).sum())
        other.sum_error, other.sum_abs_error = float(error.sum()), float(np.abs(error).sum())
        other.sum_squared_error = float((error**2).sum())
        other.sum_ape = float((np.abs(error) / np.maximum(np.abs(y), MAPE_EPS)).sum())
        self.merge(other)

    def merge(self, other: RegressionPerformance) -> None:
        n = self.n + other.n
        if not n:
            return
        delta = other.label_mean - self.label_mean
        self.label_m2 += other.label_m2 + delta * delta * self.n * other.n / n
        self.label_mean += delta * other.n / n
        self.n = n
        self.sum_error += other.sum_error
        self.sum_abs_error += other.sum_abs_error
        self.sum_squared_error += other.sum_squared_error
        self.sum_ape += other.sum_ape

    def metrics(self) -> dict[str, Any]:
        """The window's ``performance`` section (CONTRACT 6); metrics absent until a row is labelled."""
        out: dict[str, Any] = {"labelled": self.n}
        if not self.n:
            return out
        out["mae"] = self.sum_abs_error / self.n
        out["rmse"] = math.sqrt(self.sum_squared_error / self.n)
        out["mape"] = self.sum_ape / self.n
        # scikit-learn's convention for labels without spread: 1 for a perfect fit, else 0.
        if self.label_m2 > 0:
            out["r2"] = 1.0 - self.sum_squared_error / self.label_m2
        else:
            out["r2"] = 1.0 if self.sum_squared_error == 0 else 0.0
        out["bias"] = self.sum_error / self.n
        return out

    def to_bytes(self) -> bytes:
        return pack("regression", 1, {name: getattr(self, name) for name in _FIELDS})

    @classmethod
    def from_bytes(cls, data: bytes) -> RegressionPerformance:
        header, _ = unpack(data, "regression", 1)
        perf = cls()
        for name in _FIELDS:
            setattr(perf, name, int(header[name]) if name == "n" else float(header[name]))
        return perf

    def __repr__(self) -> str:
        return f"RegressionPerformance(labelled={self.n})"
