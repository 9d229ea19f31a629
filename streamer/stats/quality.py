"""Data quality per feature and window against the reference's own rates.

:func:`quality_section` counts, per feature, the rows with each problem in a window and the rate of
the same problem in the reference:

============================  ===============================================  =====================
problem                       window count (of the rows without ``error``)     reference rate
============================  ===============================================  =====================
``missing``                   null, NaN or absent                              its missing share
``missing_feature``           every row lacks the feature                      its missing share
``out_of_range``              numeric, outside the reference's min..max        its share outside
``unseen_category``           categorical, a category the reference lacks      its "other" share
``type_mismatch``             a string or boolean where numbers are expected   0
``non_finite``                NaN or infinity sent as a number                 0
``unexpected_feature``        a feature the reference does not have            0
============================  ===============================================  =====================

:func:`quality_problems` flags a (feature, problem) when the window's count is more than chance at the
reference rate (one-sided binomial test at ``alpha / number of features``, Bonferroni, as drift does)
*and* the rate has risen by at least ``min_effect`` (default 5 points) *and* at least ``MIN_COUNT`` (5)
rows have the problem. So a feature that was 10%
missing in the reference does not alert at 10% missing, and does at 22% from a few dozen rows on.

>>> section = {"age": {"missing": {"count": 22, "rows": 100, "observed": 0.22, "reference": 0.10}},
...            "zip": {"missing": {"count": 10, "rows": 100, "observed": 0.10, "reference": 0.10}}}
>>> [(feature, problem) for feature, problem, _ in quality_problems(section)]
[('age', 'missing')]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamer.sketches.categorical import CategoricalSketch
from streamer.sketches.numeric import NumericSketch
from streamer.stats.counts import binomial_excess_pvalue, smoothed_rate
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.columns import Sketch

#: Fewer rows than this with a problem never alert, whatever the rates.
MIN_COUNT = 5
PROBLEMS = ("missing", "out_of_range", "unseen_category", "type_mismatch", "non_finite", "missing_feature",
            "unexpected_feature")


def _entry(count: int, rows: int, reference_count: int, reference_rows: int, floor: float = 0.0) -> dict[str, Any]:
    """Counts and rates; ``reference`` is smoothed (never 0: a reference of n rows cannot tell a rate
    below about 1/n) and at least ``floor``."""
    reference = max(smoothed_rate(reference_count, reference_rows), floor) if reference_rows else floor
    return {"count": int(count), "rows": int(rows), "observed": count / rows if rows else 0.0,
            "reference": reference, "reference_count": int(reference_count), "reference_rows": int(reference_rows)}


def _feature_problems(win: Sketch | None, ref: Sketch, rows: int, reference_rows: int,
                      mismatches: int, non_finite: int) -> dict[str, Any]:
    reference_present = ref.count
    reference_missing = max(0, reference_rows - reference_present) if reference_rows else ref.missing
    reference_total = max(reference_rows, reference_present + ref.missing)
    if win is None or win.count + mismatches + non_finite == 0:
        return {"missing_feature": _entry(rows, rows, reference_missing, reference_total)}
    missing = max(0, rows - win.count - mismatches - non_finite)
    problems = {"missing": _entry(missing, rows, reference_missing, reference_total)}
    if isinstance(win, NumericSketch) and isinstance(ref, NumericSketch):
        if mismatches:  # the reference rate of these is 0: an entry only when the window has some
            problems["type_mismatch"] = _entry(mismatches, rows, 0, reference_total)
        if non_finite:
            problems["non_finite"] = _entry(non_finite, rows, 0, reference_total)
        if (win.counts is not None and ref.counts is not None and ref.edges is not None and win.edges is not None
                and (win.edges is ref.edges or np.array_equal(win.edges, ref.edges))):
            outside = int(win.counts[0] + win.counts[-1])
            # A new value falls outside the min..max of n reference values with probability 2/(n+1).
            problems["out_of_range"] = _entry(outside, win.count, int(ref.counts[0] + ref.counts[-1]), ref.count,
                                              floor=2.0 / (ref.count + 1))
    elif isinstance(win, CategoricalSketch) and isinstance(ref, CategoricalSketch):
        seen = sum(n for category, n in win.counts.items() if category in ref.counts)
        problems["unseen_category"] = _entry(win.count - seen, win.count, ref.other, ref.count)
    else:
        problems["type_mismatch"] = _entry(win.count, rows, 0, reference_total)
    return problems


def quality_section(window: WindowAccumulator, features: dict[str, Sketch], reference_rows: int) -> dict[str, Any]:
    """Per feature, per problem: the window's count and rate and the reference's rate."""
    rows = window.rows - window.errors
    if rows <= 0:
        return {}
    section = {}
    for name, ref in features.items():
        problems = _feature_problems(window.features.get(name), ref, rows, reference_rows,
                                     window.type_mismatches.get(name, 0), window.non_finite.get(name, 0))
        # Only problems seen in the window or the reference: the summary stays small.
        # Only problems seen in the window or the reference, to keep the summary small; every
        # feature stays, since the test's Bonferroni correction counts them all.
        section[name] = {p: f for p, f in problems.items() if f["count"] or f["reference_count"]}
    for name, sketch in window.features.items():
        if name not in features:
            section[name] = {"unexpected_feature": _entry(sketch.count, rows, 0, reference_rows)}
    return section


def quality_problems(section: dict[str, Any], alpha: float = 1e-3,
                     min_effect: float = 0.05) -> list[tuple[str, str, dict[str, Any]]]:
    """The (feature, problem, figures) that pass the test on counts and the effect floor."""
    if not section:
        return []
    per_feature_alpha = alpha / len(section)
    flagged = []
    for feature, problems in section.items():
        for problem, figures in problems.items():
            if figures["count"] < MIN_COUNT or figures["observed"] - figures["reference"] < min_effect:
                continue
            pvalue = binomial_excess_pvalue(figures["count"], figures["rows"], max(figures["reference"], 1e-6))
            if pvalue < per_feature_alpha:
                flagged.append((feature, problem, {**figures, "pvalue": pvalue}))
    return flagged
