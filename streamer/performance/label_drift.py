"""Label drift: the distribution of a window's labels against the labelled reference's.

A change in how often each outcome occurs is a sign of concept drift (or of a changed population) that
the inputs may not show. It is decided as a categorical feature's drift is
(:func:`streamer.stats.decision.feature_status`): Pearson's chi-square test on the two label counts, held
to the model's drift ``alpha``, *and* a total variation distance of at least ``min_effect_categorical``,
so a window of a few labels does not alarm on noise and a huge one does not alarm on a negligible shift.

>>> from streamer.config import DriftPolicy
>>> result = label_drift({"0": 700, "1": 300}, {"0": 450, "1": 550}, DriftPolicy())
>>> result["status"], round(result["tvd"], 2)
('detected', 0.25)
>>> label_drift({"0": 700, "1": 300}, {"0": 69, "1": 31}, DriftPolicy())["status"]
'ok'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamer.config import DriftPolicy
from streamer.sketches.categorical import CategoricalSketch
from streamer.stats.decision import feature_status
from streamer.stats.drift import categorical_drift


def _sketch(counts: Mapping[str, int], known: set[str]) -> CategoricalSketch:
    sketch = CategoricalSketch(max(64, len(known)), known)
    sketch.counts = {k: int(v) for k, v in counts.items()}
    return sketch


def label_drift(reference_counts: Mapping[str, int], window_counts: Mapping[str, int],
                policy: DriftPolicy) -> dict[str, Any]:
    """``status`` (``ok``, ``suspected``, ``detected``), ``tvd``, ``chi2_pvalue``, ``count`` and both label shares."""
    known = set(reference_counts) | set(window_counts)
    metrics = categorical_drift(_sketch(reference_counts, known), _sketch(window_counts, known))
    status = feature_status(metrics, "categorical", 1, policy)
    total_ref, total_win = sum(reference_counts.values()), sum(window_counts.values())
    return {"status": status, "tvd": metrics["tvd"], "chi2_pvalue": metrics["chi2_pvalue"],
            "count": metrics["count"],
            "shares": {k: v / total_win for k, v in sorted(window_counts.items())} if total_win else {},
            "reference_shares": {k: v / total_ref for k, v in sorted(reference_counts.items())} if total_ref else {}}
