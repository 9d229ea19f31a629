"""The sample-size-aware drift decision: a significance test *and* an effect-size floor per feature.

For each feature of a window::

    pvalue = ks_pvalue (numeric) | chi2_pvalue (categorical)
    effect = wasserstein_norm, or ks_statistic when that is nan (numeric) | tvd (categorical)
    "detected"  if pvalue < alpha_detected  / n_tests and effect >= min_effect
    "suspected" if pvalue < alpha_suspected / n_tests and effect >= min_effect
    "ok"        otherwise, and always for an empty window

and the model is "detected" when at least ``min_drifted_features`` features are detected, else
"suspected" when at least that many are detected or suspected.

Why: a fixed threshold on a distance (MLRun's 0.5 / 0.7 on ``general_drift``, Evidently's 0.1) means
something different at every window size. The noise of a distance between two samples shrinks like
``1 / sqrt(n)``, so a threshold tuned for large windows alarms on pure noise in small ones, and one
tuned for small windows misses real shifts in large ones. A test's p-value accounts for the sample
sizes. Holding each of the ``n_tests`` features to ``alpha / n_tests`` (Bonferroni) bounds the
probability that *any* feature of a stationary stream is flagged by ``alpha`` per window, whatever the
window size and whatever the dependence between features (Dunn, "Multiple comparisons among means",
JASA 56, 1961). Since the binned KS p-value is conservative (:func:`streamer.stats.hypothesis.ks_from_bins`)
the bound holds for binned data too. The effect floor guards the opposite end: with tens of thousands
of events per window a test finds shifts far too small to matter, so a feature is only flagged when
the shift is also at least ``min_effect`` (in reference standard deviations, or in TVD).

>>> from streamer.config import DriftPolicy
>>> policy = DriftPolicy()
>>> feature_status({"count": 1000, "ks_pvalue": 1e-9, "wasserstein_norm": 0.5}, "numeric", 10, policy)
'detected'
>>> feature_status({"count": 10**6, "ks_pvalue": 1e-9, "wasserstein_norm": 0.01}, "numeric", 10, policy)
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
    the window. A nan p-value or effect never flags a feature.

    >>> feature_status({"count": 0, "chi2_pvalue": 0.0, "tvd": 1.0}, "categorical", 1, DriftPolicy())
    'ok'
    >>> feature_status({"count": 50, "chi2_pvalue": 1e-3, "tvd": 0.3}, "categorical", 1, DriftPolicy())
    'suspected'
    """
    if kind == "numeric":
        pvalue = metrics["ks_pvalue"]
        effect = metrics["wasserstein_norm"]
        if math.isnan(effect):
            effect = metrics["ks_statistic"]
        min_effect = policy.min_effect_numeric
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
