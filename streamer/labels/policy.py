"""Ground-truth settings from the configuration file, globally and per model.

```yaml
ground_truth:
  detector: adwin                 # adwin | ddm | page_hinkley | none
  detector_params: {delta: 0.002} # the detector's own arguments (streamer.stats.detectors)
  expect_labels: false            # keep pending predictions from the first one (see below)
  performance: {alpha: 0.005, min_drop: 0.01, min_labelled: 200,
                floors: {accuracy: 0.8}, ceilings: {mae: 3.0}}
models:
  credit:
    ground_truth: {detector: page_hinkley, performance: {floors: {accuracy: 0.75}}}
```

Pending predictions are kept for a model that receives labels: one whose reference was built with
``--label``, one whose section says ``expect_labels: true`` (or named in ``STREAMER_LABELS_EXPECTED``, a
comma-separated list of models, ``*`` for all), and any model from its first label on. Before that, a
model's predictions are not kept, so labels that come later for them cannot join (they are counted as
expired after the TTL). Keeping is bounded like any pending row: by ``STREAMER_LABEL_TTL_SECONDS``.

A model's section overrides the global one key by key (``performance`` field by field). Mistakes stop the
worker at start-up, named by their path in the file.

>>> policy = parse_ground_truth(GroundTruthPolicy(), {"detector": "ddm", "performance": {"min_drop": 0.02}}, "x")
>>> policy.detector, policy.performance.min_drop, policy.performance.alpha
('ddm', 0.02, 0.005)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from streamer.errors import ConfigError
from streamer.performance.degraded import PerformancePolicy
from streamer.stats.detectors import make_detector

_PERFORMANCE_KEYS = {f.name for f in fields(PerformancePolicy)}


@dataclass(frozen=True)
class GroundTruthPolicy:
    detector: str = "adwin"
    detector_params: Mapping[str, Any] = field(default_factory=dict)
    performance: PerformancePolicy = field(default_factory=PerformancePolicy)
    expect_labels: bool = False


def labels_expected(listed: str, model: str) -> bool:
    """Whether ``STREAMER_LABELS_EXPECTED`` (comma-separated models, ``*`` for all) names the model.

    >>> labels_expected("credit, fraud", "fraud"), labels_expected("*", "x"), labels_expected("", "x")
    (True, True, False)
    """
    names = {n.strip() for n in listed.split(",")}
    return "*" in names or model in names


def parse_ground_truth(base: GroundTruthPolicy, values: Any, where: str) -> GroundTruthPolicy:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping")
    known = ["detector", "detector_params", "expect_labels", "performance"]
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {known}")
    expect = values.get("expect_labels", base.expect_labels)
    if not isinstance(expect, bool):
        raise ConfigError(f"{where}.expect_labels: expected true or false, got {expect!r}")
    detector = str(values.get("detector", base.detector))
    params = values.get("detector_params", base.detector_params if detector == base.detector else {})
    if not isinstance(params, dict):
        raise ConfigError(f"{where}.detector_params: expected a mapping")
    try:
        make_detector(detector, params)
    except ValueError as exc:
        raise ConfigError(f"{where}.detector: {exc}") from exc
    performance = base.performance
    if "performance" in values:
        given = values["performance"]
        if not isinstance(given, dict):
            raise ConfigError(f"{where}.performance: expected a mapping")
        unknown = set(given) - _PERFORMANCE_KEYS
        if unknown:
            raise ConfigError(f"{where}.performance: unknown keys {sorted(unknown)}; known: {sorted(_PERFORMANCE_KEYS)}")
        try:
            performance = replace(performance, **given)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}.performance: {exc}") from exc
    return GroundTruthPolicy(detector, dict(params), performance, expect)
