"""Ground-truth settings from the configuration file, globally and per model.

```yaml
ground_truth:
  detector: adwin                 # adwin | ddm | page_hinkley | none
  detector_params: {delta: 0.002} # the detector's own arguments (streamer.stats.detectors)
  performance: {alpha: 0.005, min_drop: 0.01, min_labelled: 200,
                floors: {accuracy: 0.8}, ceilings: {mae: 3.0}}
models:
  credit:
    ground_truth: {detector: page_hinkley, performance: {floors: {accuracy: 0.75}}}
```

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


def parse_ground_truth(base: GroundTruthPolicy, values: Any, where: str) -> GroundTruthPolicy:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(values) - {"detector", "detector_params", "performance"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: ['detector', 'detector_params', 'performance']")
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
    return GroundTruthPolicy(detector, dict(params), performance)
