from __future__ import annotations

import math

import numpy as np
import pytest

from streamer.config import DriftPolicy
from streamer.sketches.numeric import NumericSketch
from streamer.stats.decision import feature_status, model_status
from streamer.stats.drift import numeric_drift
from tests.unit.stats.samples import profile_edges, sketch

POLICY = DriftPolicy()  # alpha 0.005 suspected / 0.0005 detected, effect >= 0.05 std or 0.02 TVD


def _numeric(pvalue: float, effect: float, count: int = 500, ks: float = 0.2, noise: float = 0.0,
             sketched: float = math.nan) -> dict[str, float]:
    return {"ks_pvalue": pvalue, "wasserstein_binned_norm": effect, "reference_noise_norm": noise,
            "wasserstein_norm": sketched, "ks_statistic": ks, "count": float(count)}


@pytest.mark.parametrize(
    ("pvalue", "effect", "n_tests", "status"),
    [
        (1e-5, 0.3, 10, "detected"),  # 1e-5 < 0.0005 / 10
        (1e-4, 0.3, 10, "suspected"),  # 0.0005 / 10 <= 1e-4 < 0.005 / 10
        (1e-4, 0.3, 1, "detected"),
        (1e-3, 0.3, 10, "ok"),
        (1e-3, 0.3, 1, "suspected"),
        (1e-12, 0.049, 1, "ok"),  # below the effect floor
        (1e-12, 0.05, 1, "detected"),
        (math.nan, 0.3, 1, "ok"),
    ],
)
def test_numeric_feature_status(pvalue, effect, n_tests, status):
    assert feature_status(_numeric(pvalue, effect), "numeric", n_tests, POLICY) == status


def test_numeric_floor_is_raised_by_the_reference_noise():
    assert feature_status(_numeric(1e-12, 0.069, noise=0.02), "numeric", 1, POLICY) == "ok"
    assert feature_status(_numeric(1e-12, 0.07, noise=0.02), "numeric", 1, POLICY) == "detected"
    assert feature_status(_numeric(1e-12, 0.05, noise=math.nan), "numeric", 1, POLICY) == "detected"


def test_numeric_effect_is_the_binned_wasserstein_not_the_sketched_one():
    assert feature_status(_numeric(1e-12, 0.04, sketched=0.3), "numeric", 1, POLICY) == "ok"
    assert feature_status(_numeric(1e-12, 0.3, sketched=0.04), "numeric", 1, POLICY) == "detected"


def test_numeric_effect_falls_back_to_the_ks_statistic():
    assert feature_status(_numeric(1e-9, math.nan, ks=0.2), "numeric", 1, POLICY) == "detected"
    assert feature_status(_numeric(1e-9, math.nan, ks=0.01), "numeric", 1, POLICY) == "ok"
    assert feature_status(_numeric(1e-9, math.nan, ks=math.nan), "numeric", 1, POLICY) == "ok"
    # the noise, in reference standard deviations, does not apply to the KS statistic
    assert feature_status(_numeric(1e-9, math.nan, ks=0.06, noise=0.02), "numeric", 1, POLICY) == "detected"


def test_categorical_feature_status_and_empty_windows():
    metrics = {"chi2_pvalue": 1e-6, "tvd": 0.1, "count": 80.0}
    assert feature_status(metrics, "categorical", 5, POLICY) == "detected"
    assert feature_status({**metrics, "tvd": 0.01}, "categorical", 5, POLICY) == "ok"
    assert feature_status({**metrics, "count": 0.0}, "categorical", 5, POLICY) == "ok"
    assert feature_status(_numeric(0.0, 1.0, count=0), "numeric", 5, POLICY) == "ok"
    with pytest.raises(ValueError):
        feature_status(metrics, "text", 1, POLICY)


def test_model_status():
    assert model_status({"a": "ok", "b": "ok"}, POLICY) == ("ok", 0.0)
    assert model_status({"a": "suspected", "b": "ok"}, POLICY) == ("suspected", 0.0)
    assert model_status({"a": "detected", "b": "suspected", "c": "ok", "d": "ok"}, POLICY) == ("detected", 0.25)
    two = DriftPolicy(min_drifted_features=2)
    assert model_status({"a": "detected", "b": "ok"}, two) == ("ok", 0.5)
    assert model_status({"a": "detected", "b": "suspected"}, two) == ("suspected", 0.5)
    assert model_status({"a": "detected", "b": "detected"}, two) == ("detected", 1.0)


FEATURES = 10


@pytest.fixture(scope="module")
def reference() -> list[tuple[NumericSketch, np.ndarray]]:
    """10 standard normal features of 5000 reference rows: (reference sketch, MLRun edges) each."""
    rows = np.random.default_rng(2024).normal(size=(5000, FEATURES))
    profiles = []
    for column in rows.T:
        fine, mlrun = profile_edges(column)
        profiles.append((sketch(column, fine), mlrun))
    return profiles


def _alarm_rates(reference, events: int, windows: int, shift: float, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    tally = {"ok": 0, "suspected": 0, "detected": 0}
    for _ in range(windows):
        rows = rng.normal(size=(events, FEATURES))
        rows[:, 0] += shift
        statuses = {}
        for j, (ref, mlrun) in enumerate(reference):
            metrics = numeric_drift(ref, sketch(rows[:, j], ref.edges), mlrun)
            statuses[f"f{j}"] = feature_status(metrics, "numeric", FEATURES, POLICY)
        tally[model_status(statuses, POLICY)[0]] += 1
    return {status: count / windows for status, count in tally.items()}


@pytest.mark.parametrize("events", [200, 5000])
def test_stationary_stream_rarely_alarms_at_any_window_size(reference, events):
    rates = _alarm_rates(reference, events, windows=300, shift=0.0, seed=events)
    print(f"stationary, {events} events per window: {rates}")
    assert rates["suspected"] + rates["detected"] <= 0.02


def test_half_std_shift_in_one_feature_is_detected(reference):
    rates = _alarm_rates(reference, 1000, windows=100, shift=0.5, seed=1)
    print(f"0.5 std shift in 1 of 10 features, 1000 events per window: {rates}")
    assert rates["detected"] >= 0.9
