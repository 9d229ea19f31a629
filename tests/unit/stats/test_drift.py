from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from streamer.errors import SketchMismatchError
from streamer.sketches.categorical import CategoricalSketch
from streamer.sketches.numeric import NumericSketch
from streamer.stats.divergence import psi, symmetric_kl
from streamer.stats.drift import categorical_drift, coarsen, general_drift, numeric_drift
from tests.unit.stats.samples import binned, profile_edges, sketch

NUMERIC_KEYS = {
    "tvd", "hellinger", "kl_divergence", "js_distance", "psi", "ks_statistic", "ks_pvalue", "ks_error_bound",
    "wasserstein_norm", "wasserstein_binned_norm", "reference_noise_norm", "count", "missing_share", "mean", "std",
    "reference_mean", "reference_std",
}
CATEGORICAL_KEYS = {"tvd", "hellinger", "js_distance", "psi", "linf", "chi2_pvalue", "count", "missing_share",
                    "unseen_share"}


def _plain(metrics: dict[str, float]) -> None:
    assert all(type(value) is float and not math.isinf(value) for value in metrics.values())
    json.dumps(metrics)


def test_coarsen_matches_binning_over_the_coarse_edges():
    rng = np.random.default_rng(0)
    reference = rng.gamma(2.0, 1.0, 4000)
    fine, coarse = profile_edges(reference)
    values = rng.gamma(2.0, 1.2, 1000)
    assert coarsen(binned(values, fine), fine, coarse).tolist() == binned(values, coarse).tolist()
    assert coarsen(binned(values, fine), fine, fine).tolist() == binned(values, fine).tolist()


@pytest.mark.parametrize("coarse", [[0.0, 2.5, 3.0], [0.0, 2.0], [1.0, 3.0], [0.0, 2.0, 1.0, 3.0], [0.0, 5.0, 1.0, 3.0], []])
def test_coarsen_rejects_edges_that_are_not_a_subset_sharing_both_ends(coarse):
    with pytest.raises(SketchMismatchError):
        coarsen(np.ones(5), np.array([0.0, 1.0, 2.0, 3.0]), np.array(coarse))


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_numeric_drift_matches_raw_sample_computations(shift):
    rng = np.random.default_rng(5)
    reference, window = rng.normal(10.0, 2.0, 5000), rng.normal(10.0 + 2.0 * shift, 2.2, 1500)
    window_with_missing = np.concatenate([window, [np.nan] * 100, [np.inf]])
    fine, mlrun = profile_edges(reference)
    metrics = numeric_drift(sketch(reference, fine), sketch(window_with_missing, fine), mlrun)
    assert set(metrics) == NUMERIC_KEYS
    _plain(metrics)
    p, q = binned(reference, mlrun) / len(reference), binned(window, mlrun) / len(window)
    assert metrics["tvd"] == pytest.approx(np.abs(p - q).sum() / 2, abs=1e-12)
    assert metrics["hellinger"] == pytest.approx(math.sqrt(0.5 * ((np.sqrt(p) - np.sqrt(q)) ** 2).sum()), abs=1e-9)
    assert metrics["js_distance"] == pytest.approx(jensenshannon(p, q), abs=1e-12)
    assert metrics["kl_divergence"] == pytest.approx(symmetric_kl(p, q), rel=1e-12)
    assert metrics["psi"] == pytest.approx(psi(p, q), rel=1e-12)
    raw = ks_2samp(reference, window)
    assert metrics["ks_statistic"] <= raw.statistic + 1e-12
    assert raw.statistic - metrics["ks_statistic"] <= metrics["ks_error_bound"]
    w1 = wasserstein_distance(reference, window) / reference.std(ddof=1)
    eps = sketch(reference, fine).quantiles.rank_error + sketch(window, fine).quantiles.rank_error
    tolerance = 3 * eps * np.concatenate([reference, window]).std() / reference.std(ddof=1)
    assert metrics["wasserstein_norm"] == pytest.approx(w1, abs=tolerance)
    assert metrics["wasserstein_binned_norm"] == pytest.approx(w1, abs=0.005)  # deterministic, from the counts
    assert metrics["reference_noise_norm"] == pytest.approx(1.29 / math.sqrt(5000), rel=0.05)  # normal reference
    assert metrics["count"] == 1500.0 and metrics["missing_share"] == pytest.approx(101 / 1601)
    assert metrics["mean"] == pytest.approx(window.mean()) and metrics["std"] == pytest.approx(window.std(ddof=1))
    assert metrics["reference_mean"] == pytest.approx(reference.mean())
    assert metrics["reference_std"] == pytest.approx(reference.std(ddof=1))


def test_numeric_drift_of_an_empty_window_is_nan_without_warnings():
    fine = np.linspace(0.0, 1.0, 11)
    metrics = numeric_drift(sketch(np.linspace(0.0, 1.0, 50), fine), NumericSketch(fine), fine[::5])
    _plain(metrics)
    assert metrics["count"] == 0.0 and math.isnan(metrics["missing_share"])
    reference_only = {"reference_mean", "reference_std", "reference_noise_norm"}
    assert all(math.isnan(metrics[key]) for key in NUMERIC_KEYS - {"count", "missing_share"} - reference_only)
    assert metrics["reference_noise_norm"] == pytest.approx(1.09 / math.sqrt(50), rel=0.05)  # uniform reference


def test_numeric_drift_of_a_constant_reference_has_no_normalised_wasserstein():
    fine = np.array([0.0, 1.0, 2.0])
    metrics = numeric_drift(sketch(np.ones(100), fine), sketch(np.full(30, 1.5), fine), fine)
    assert math.isnan(metrics["wasserstein_norm"]) and metrics["reference_std"] == 0.0
    assert math.isnan(metrics["wasserstein_binned_norm"]) and math.isnan(metrics["reference_noise_norm"])


def test_numeric_drift_needs_the_same_edges():
    with pytest.raises(SketchMismatchError):
        numeric_drift(sketch(np.ones(3), np.array([0.0, 2.0])), sketch(np.ones(3), np.array([0.0, 3.0])),
                      np.array([0.0, 2.0]))
    with pytest.raises(SketchMismatchError):
        numeric_drift(NumericSketch(), NumericSketch(), np.array([0.0, 1.0]))


def test_categorical_drift_matches_direct_shares():
    rng = np.random.default_rng(2)
    reference = rng.choice(["a", "b", "c", "d"], 3000, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    window = rng.choice(["a", "b", "c", "e"], 1000, p=[0.3, 0.3, 0.3, 0.1]).tolist() + [None] * 10
    ref_sketch, win_sketch = CategoricalSketch(), CategoricalSketch()
    ref_sketch.update(reference)
    win_sketch.update(window)
    metrics = categorical_drift(ref_sketch, win_sketch)
    assert set(metrics) == CATEGORICAL_KEYS
    _plain(metrics)
    names = ["a", "b", "c", "d", "e"]
    r = np.array([reference.count(name) for name in names])
    w = np.array([window.count(name) for name in names])
    p, q = r / r.sum(), w / w.sum()
    assert metrics["tvd"] == pytest.approx(np.abs(p - q).sum() / 2)
    assert metrics["linf"] == pytest.approx(np.abs(p - q).max())
    assert metrics["js_distance"] == pytest.approx(jensenshannon(p, q))
    assert metrics["unseen_share"] == pytest.approx(w[4] / w.sum())
    assert metrics["chi2_pvalue"] == pytest.approx(chi2_contingency(np.vstack([r, w]), correction=False).pvalue)
    assert metrics["count"] == 1000.0 and metrics["missing_share"] == pytest.approx(10 / 1010)


def test_categorical_other_is_a_bin_of_its_own():
    ref_sketch, win_sketch = CategoricalSketch(max_categories=2), CategoricalSketch(max_categories=2)
    ref_sketch.update(["a"] * 50 + ["b"] * 50)
    win_sketch.update(["a"] * 50 + ["other"] * 30 + ["x"] * 20)  # a category literally named "other"
    metrics = categorical_drift(ref_sketch, win_sketch)
    # bins a, b, "other" (named), other (folded x): window shares 0.5, 0, 0.3, 0.2
    assert metrics["tvd"] == pytest.approx(0.5) and metrics["unseen_share"] == pytest.approx(0.5)


def test_general_drift_is_mlruns_mean_over_numeric_features():
    per_feature = {
        "x": {"ks_statistic": 0.2, "hellinger": 0.3, "tvd": 0.2},
        "y": {"ks_statistic": 0.1, "hellinger": 0.1, "tvd": 0.05},
        "empty": {"ks_statistic": math.nan, "hellinger": math.nan, "tvd": math.nan},
        "colour": {"hellinger": 0.9, "tvd": 0.9},
    }
    assert general_drift(per_feature) == pytest.approx((0.2 + 0.125) / 2)
    assert math.isnan(general_drift({"colour": {"hellinger": 0.9, "tvd": 0.9}}))
    assert math.isnan(general_drift({}))


def test_binned_wasserstein_is_deterministic_where_the_sketched_one_is_not():
    rng = np.random.default_rng(9)
    reference, window = rng.uniform(0.0, 1.0, 5000), rng.uniform(0.0, 1.0, 10_000)
    fine, mlrun = profile_edges(reference)
    runs = [numeric_drift(sketch(reference, fine), sketch(window, fine), mlrun) for _ in range(5)]
    assert len({m["wasserstein_binned_norm"] for m in runs}) == 1
    assert len({m["reference_noise_norm"] for m in runs}) == 1
    w1 = wasserstein_distance(reference, window) / reference.std(ddof=1)
    assert runs[0]["wasserstein_binned_norm"] == pytest.approx(w1, abs=0.003)
