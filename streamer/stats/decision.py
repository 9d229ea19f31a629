"""The sample-size-aware drift decision: a significance test *and* an effect-size floor per feature.

For each feature of a window::

    pvalue = ks_pvalue (numeric) | chi2_pvalue (categorical)
    effect = wasserstein_binned_norm (numeric) | tvd (categorical)
    floor  = min_effect_numeric + reference_noise_norm (numeric) | min_effect_categorical
    "detected"  if pvalue < alpha_detected  / n_tests and effect >= floor
    "suspected" if pvalue < alpha_suspected / n_tests and effect >= floor
    "ok"        otherwise, and always for an empty window

(a numeric feature whose reference has no spread has no normalised distance: its effect is then
``ks_statistic`` against ``min_effect_numeric``), and the model is "detected" when at least
``min_drifted_features`` features are detected, else "suspected" when at least that many are detected or
suspected.

Why a test: a fixed threshold on a distance (MLRun's 0.5 / 0.7 on ``general_drift``, Evidently's 0.1)
means something different at every window size. The noise of a distance between two samples shrinks like
``1 / sqrt(n)``, so a threshold tuned for large windows alarms on pure noise in small ones, and one
tuned for small windows misses real shifts in large ones. A test's p-value accounts for the sample
sizes. Holding each of the ``n_tests`` features to ``alpha / n_tests`` (Bonferroni) bounds the
probability that *any* feature of a stationary stream is flagged by ``alpha`` per window, whatever the
window size and whatever the dependence between features (Dunn, "Multiple comparisons among means",
JASA 56, 1961). Since the binned KS p-value is conservative (:func:`streamer.stats.hypothesis.ks_from_bins`)
the bound holds for binned data too.

Why an effect floor: with tens of thousands of events per window a test finds shifts far too small to
matter, so a feature is only flagged when the shift is also at least ``min_effect`` (in reference
standard deviations, or in TVD). The numeric effect is the Wasserstein distance from the exact bin counts
(:func:`~streamer.stats.hypothesis.wasserstein_from_bins`), not the one from the KLL sketches
(``wasserstein_norm``, still reported): the sketches compact at random, and their distance is off by up
to 0.03 std, as large as the floor's margin over the noise, so the same windows alarmed or not from run
to run. The binned distance is deterministic and, from 1,000 events on, within 0.005 std of the
raw-sample distance.

Why ``reference_noise_norm`` in the floor: the bound above holds on average over references, but every
window is compared with the *same* reference sample, which is itself off from its population by about
``reference_noise_norm`` (1.1 std / sqrt(reference rows) for a uniform column, 1.3 for a normal one; see
:func:`~streamer.stats.hypothesis.wasserstein_noise_from_bins`). As windows grow, their own noise
vanishes but the reference's does not: the distance of a stationary window tends to the reference's own
error, and the test grows sure that *something* differs. For a reference in its own sampling tail (a
uniform feature of 5,000 rows at twice the usual error, KS p = 0.004 against its population) the exact
distance of 10,000-event windows averaged 0.032 std, and with a bare 0.05 floor the rule alarmed in 1.3%
of the windows (1.4% with the binned distance). Raising the floor by the reference's expected error makes
it apply, roughly, to the shift of the populations rather than to the observed distance (by the triangle
inequality that shift is at least the observed distance less the reference's and the window's own
errors; the window's is left to the test): that reference's false alarms at 10,000 events dropped to none
in 3,000 windows, while a shift of exactly ``min_effect`` (0.05 std) is still detected about half the
time (47%, against 68% without the margin) and one of 0.1 std always. Small windows are unaffected:
there the test, not the floor, decides.

>>> from streamer.config import DriftPolicy
>>> policy = DriftPolicy()
>>> metrics = {"count": 1000, "ks_pvalue": 1e-9, "wasserstein_binned_norm": 0.5, "reference_noise_norm": 0.02}
>>> feature_status(metrics, "numeric", 10, policy)
'detected'
>>> feature_status({**metrics, "wasserstein_binned_norm": 0.06}, "numeric", 10, policy)  # 0.06 < 0.05 + 0.02
'ok'
>>> model_status({"x": "detected", "y": "ok", "z": "suspected", "w": "ok"}, policy)
('detected', 0.25)
"""

from __future__ import annotations

import math

from streamer.config import DriftPolicy

STATUSES = ("ok", "suspected", "detected")


def feature_status(metrics: dict, kind: str, n_tests: int, policy: DriftPolicy) -> str:
    """"ok", "suspected" or "detected" for one feature's metrics (see the module docstring).

    ``kind`` is "numeric" (:func:`~streamer.stats.drift.numeric_drift` metrics) or "categorical"
    (:func:`~streamer.stats.drift.categorical_drift`); ``n_tests`` is the number of features tested in
    the window. A nan p-value or effect never flags a feature; a nan ``reference_noise_norm`` adds nothing
    to the floor.

    >>> feature_status({"count": 0, "chi2_pvalue": 0.0, "tvd": 1.0}, "categorical", 1, DriftPolicy())
    'ok'
    >>> feature_status({"count": 50, "chi2_pvalue": 1e-3, "tvd": 0.3}, "categorical", 1, DriftPolicy())
    'suspected'
    """
    if kind == "numeric":
        pvalue = metrics["ks_pvalue"]
        effect, noise = metrics["wasserstein_binned_norm"], metrics["reference_noise_norm"]
        min_effect = policy.min_effect_numeric
        if math.isnan(effect):  # no spread in the reference: no normalised distance, no noise in its units
            effect = metrics["ks_statistic"]
        elif not math.isnan(noise):
            min_effect += noise
    elif kind == "categorical":
        pvalue, effect, min_effect = metrics["chi2_pvalue"], metrics["tvd"], policy.min_effect_categorical
    else:
        raise ValueError(f"unknown feature kind {kind!r}; expected 'numeric' or 'categorical'")
    if not metrics["count"] or not effect >= min_effect:  # `not >=` is also true for nan
        return "ok"
    n_tests = max(int(n_tests), 1)
    if pvalue < policy.alpha_detected / n_tests:
        return "detected"
    if pvalue < policy.alpha_suspected / n_tests:
        return "suspected"
    return "ok"


def model_status(statuses: dict[str, str], policy: DriftPolicy) -> tuple[str, float]:
    """The model's status and the share of its features that are "detected".

    >>> model_status({"x": "suspected", "y": "ok"}, DriftPolicy())
    ('suspected', 0.0)
    >>> model_status({}, DriftPolicy())
    ('ok', 0.0)
    """
    detected = sum(status == "detected" for status in statuses.values())
    flagged = detected + sum(status == "suspected" for status in statuses.values())
    share = detected / len(statuses) if statuses else 0.0
    if detected >= policy.min_drifted_features:
        return "detected", share
    if flagged >= policy.min_drifted_features:
        return "suspected", share
    return "ok", share
