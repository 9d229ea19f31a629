"""The estimate of accuracy and ROC AUC before labels, on a synthetic classifier whose truth is known.

Each row has a true probability ``p`` of being positive; its label is drawn with that probability and
the model's score is ``p ** 1.5`` (monotone but miscalibrated, so the calibration has work to do). The
reference is 20,000 labelled rows; windows of 10,000 rows come from the same and from shifted
distributions of ``p`` (covariate shift), so the realized accuracy moves and the estimate must follow.
Measured over seeds 0-3 (120 windows): mean absolute error 0.38 points, largest 1.27 points, mean
-0.01 points. That is the floor set by chance: the realized accuracy of 10,000 rows is itself off from its
expectation by about 0.4 points (one standard error), and an oracle that knows every row's true ``p``
scores 0.34 mean and 1.36 largest on the same windows. The tolerances below are half a point on average,
1.5 points and four of the estimate's own standard errors (``accuracy_stderr``) per window.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from streamer.performance.estimate import Calibration, EstimateState


def _rows(rng: np.random.Generator, n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    p = rng.beta(a, b, n)
    return p**1.5, (rng.random(n) < p).astype(int)


def _window_errors(seed: int) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    calibration = Calibration.fit(*_rows(rng, 20_000, 2.0, 2.0))
    accuracy_errors, auc_errors, stderrs = [], [], []
    for a, b in [(2.0, 2.0), (1.0, 1.0), (3.0, 1.5), (0.7, 0.7), (2.0, 4.0)] * 6:
        scores, labels = _rows(rng, 10_000, a, b)
        predicted = scores >= 0.5
        state = EstimateState()
        state.update(scores, predicted)
        estimate = state.estimate(calibration)
        accuracy_errors.append(estimate["accuracy"] - float(np.mean(predicted == labels)))
        auc_errors.append(estimate["roc_auc"] - roc_auc_score(labels, scores))
        stderrs.append(estimate["accuracy_stderr"])
    return accuracy_errors, auc_errors, stderrs


def test_estimate_tracks_realized_accuracy_within_a_point() -> None:
    accuracy_errors, auc_errors, stderrs = _window_errors(seed=0)
    assert max(abs(e) for e in accuracy_errors) < 0.015
    assert float(np.mean(np.abs(accuracy_errors))) < 0.005
    assert all(abs(e) < 4 * s for e, s in zip(accuracy_errors, stderrs, strict=True))
    assert max(abs(e) for e in auc_errors) < 0.015


def test_estimate_is_not_biased_by_covariate_shift() -> None:
    accuracy_errors, _, _ = _window_errors(seed=1)
    assert abs(float(np.mean(accuracy_errors))) < 0.003


def test_calibration_is_monotone_and_round_trips() -> None:
    rng = np.random.default_rng(2)
    calibration = Calibration.fit(*_rows(rng, 5_000, 2.0, 2.0), bins=50)
    assert all(b >= a for a, b in zip(calibration.rates, calibration.rates[1:], strict=False))
    assert Calibration.from_json(calibration.to_json()) == calibration
    with pytest.raises(ValueError):
        Calibration.from_json({"scores": [0.2, 0.1], "rates": [0.0, 1.0]})


def test_estimate_state_merges_and_round_trips() -> None:
    rng = np.random.default_rng(3)
    scores, _ = _rows(rng, 3_000, 2.0, 2.0)
    calibration = Calibration.fit(*_rows(rng, 3_000, 2.0, 2.0))
    whole, merged = EstimateState(), EstimateState()
    whole.update(scores, scores >= 0.5)
    for part in np.array_split(np.arange(3_000), 4):
        piece = EstimateState()
        piece.update(scores[part], scores[part] >= 0.5)
        merged.merge(EstimateState.from_bytes(piece.to_bytes()))
    assert merged.estimate(calibration) == whole.estimate(calibration)
    assert EstimateState().estimate(calibration) == {}
