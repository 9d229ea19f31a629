"""Detection quality of streamer's drift decision rule on synthetic streams, next to MLRun's and Evidently's.

Setup
-----
A synthetic model with 10 features: 8 numeric (4 standard normal, 2 lognormal(0, 0.5), 2 uniform(0, 1))
and 2 categorical (5 categories with shares 0.40 / 0.25 / 0.15 / 0.12 / 0.08). One reference of 5,000
rows is profiled with :meth:`ReferenceProfile.from_columns`; every window is then counted into a
:class:`WindowAccumulator`'s sketches through :func:`streamer.windows.columns.update_sketches` with the
profile's layout (the sketch code the worker runs, fed numpy columns instead of ``PredictionRows``), and
compared with :func:`streamer.windows.summary.compare_columns` under the default :class:`DriftPolicy`.

Rules, all read from the same per-window metrics:

* **streamer**: the model status of ``compare_columns``; "alarm" = suspected or detected. A numeric
  feature's effect is ``wasserstein_binned_norm`` (the Wasserstein distance from the exact bin counts), its
  floor ``min_effect_numeric`` plus the reference's own expected distance ``reference_noise_norm``
  (:mod:`streamer.stats.decision`).
* **MLRun**: ``general_drift`` = mean(mean Hellinger, mean TVD) over the numeric features on MLRun's
  partition (:func:`streamer.stats.drift.general_drift`); alarm at >= 0.5 (0.7 = detected).
  Categorical features are not checked.
* **Evidently defaults** for a reference above 1,000 rows: a numeric column drifts when Wasserstein /
  reference std >= 0.1, a categorical one when the Jensen-Shannon distance
  (``js_distance``) >= 0.1; the dataset drifts when at least half of the columns drift. With one shifted
  column of ten the dataset rule cannot fire, so the drift of the shifted column is reported too (for
  stationary windows: whether *any* column drifts). Evidently computes the distance on the raw values;
  the closest of streamer's metrics is ``wasserstein_binned_norm`` (within 0.005 std of it from 1,000
  events on, where the sketch-based ``wasserstein_norm`` is off by up to 0.03 std), so that one is used.

Scenarios, each at windows of 200, 1,000 and 10,000 events: stationary windows (false alarms), a mean
shift of 0.1, 0.25, 0.5 and 1 reference std on one normal feature, and 5, 10 and 20 percentage points
of share moved from the most common to the rarest category of one categorical feature.

All windows share the one reference, so every rate is conditional on it, as in a deployment: at
windows as large as the reference, a reference that happens to sit in its own sampling tail raises the
false-alarm rate of every window (the two-sample test is calibrated over references, not per reference).

Under each window size's table one line counts, per feature, the stationary windows in which that feature
was flagged (suspected or detected): where the false alarms come from.

Rows come from a fixed numpy seed, and every rule reads deterministic metrics (bin counts, moments), so
the rates repeat exactly from run to run. Only the reported ``wasserstein_norm`` comes from the KLL
quantile sketches, which compact at random (their own generator); no rule reads it.

Run alone: ``python -m bench.detection`` (``--json`` prints the result dict instead of the table).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np

from streamer.config import DriftPolicy, Settings
from streamer.reference.profile import ReferenceProfile
from streamer.stats.drift import general_drift
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.columns import NUMERIC, Layout, update_sketches
from streamer.windows.summary import compare_columns

SEED = 20_240_611
REFERENCE_ROWS = 5_000
WINDOW_SIZES = (200, 1_000, 10_000)
STATIONARY_WINDOWS = {200: 1_000, 1_000: 1_000, 10_000: 1_000}
SHIFTED_WINDOWS = {200: 200, 1_000: 200, 10_000: 200}

NORMAL = ("normal_0", "normal_1", "normal_2", "normal_3")
LOGNORMAL = ("lognormal_0", "lognormal_1")
UNIFORM = ("uniform_0", "uniform_1")
CATEGORICAL = ("category_0", "category_1")
CATEGORIES = np.array(["a", "b", "c", "d", "e"], dtype=object)
SHARES = np.array([0.40, 0.25, 0.15, 0.12, 0.08])

SHIFTED_NUMERIC = NORMAL[0]
SHIFTED_CATEGORICAL = CATEGORICAL[0]
MEAN_SHIFTS = (0.1, 0.25, 0.5, 1.0)  # in reference standard deviations
SHARE_SHIFTS = (0.05, 0.10, 0.20)  # share moved from the most common to the rarest category

MLRUN_SUSPECTED, MLRUN_DETECTED = 0.5, 0.7
EVIDENTLY_NUMERIC, EVIDENTLY_CATEGORICAL, EVIDENTLY_DATASET_SHARE = 0.1, 0.1, 0.5

# Counters kept per (window size, scenario); rates are these over the number of windows.
COUNTERS = ("streamer_alarm", "streamer_detected", "mlrun_alarm", "mlrun_detected",
            "evidently_dataset", "evidently_column")


def generate(rng: np.random.Generator, n: int, mean_shift: float = 0.0,
             share_shift: float = 0.0) -> dict[str, Any]:
    """``n`` rows as columns; ``mean_shift`` is added to SHIFTED_NUMERIC, ``share_shift`` moved in
    SHIFTED_CATEGORICAL from the most common category to the rarest."""
    columns: dict[str, Any] = {}
    for name in NORMAL:
        columns[name] = rng.standard_normal(n) + (mean_shift if name == SHIFTED_NUMERIC else 0.0)
    for name in LOGNORMAL:
        columns[name] = rng.lognormal(0.0, 0.5, n)
    for name in UNIFORM:
        columns[name] = rng.uniform(0.0, 1.0, n)
    for name in CATEGORICAL:
        shares = SHARES.copy()
        if name == SHIFTED_CATEGORICAL and share_shift:
            shares[shares.argmax()] -= share_shift
            shares[shares.argmin()] += share_shift
        columns[name] = CATEGORIES[rng.choice(len(CATEGORIES), size=n, p=shares)].tolist()
    return columns


def _at_least(value: float | None, threshold: float) -> bool:
    return value is not None and not math.isnan(value) and value >= threshold


def evaluate(profile: ReferenceProfile, layout: Layout, columns: Mapping[str, Any], policy: DriftPolicy,
             max_categories: int, shifted: str | None) -> dict[str, Any]:
    """One window through the worker's sketches and ``compare_columns``; every rule's verdict."""
    window = WindowAccumulator(0.0, 60.0)
    window.rows = len(next(iter(columns.values())))
    update_sketches(window.features, columns, layout.features, max_categories, window.type_mismatches)
    metrics, status, _ = compare_columns(window.features, profile.features, profile.mlrun_edges, policy)
    drift = general_drift(metrics)
    column_drift = {
        name: _at_least(m.get("wasserstein_binned_norm"), EVIDENTLY_NUMERIC) if m["kind"] == NUMERIC
        else _at_least(m.get("js_distance"), EVIDENTLY_CATEGORICAL)
        for name, m in metrics.items()
    }
    return {
        "streamer_alarm": status in ("suspected", "detected"),
        "streamer_detected": status == "detected",
        "mlrun_alarm": _at_least(drift, MLRUN_SUSPECTED),
        "mlrun_detected": _at_least(drift, MLRUN_DETECTED),
        "evidently_dataset": sum(column_drift.values()) >= EVIDENTLY_DATASET_SHARE * len(column_drift),
        "evidently_column": column_drift[shifted] if shifted else any(column_drift.values()),
        "general_drift": drift,
        "flagged_features": [name for name, m in metrics.items() if m.get("status") in ("suspected", "detected")],
    }


def scenarios(reference_std: float) -> list[tuple[str, dict[str, float], str | None]]:
    """(label, ``generate`` keyword arguments, shifted column) of every scenario."""
    result: list[tuple[str, dict[str, float], str | None]] = [("stationary", {}, None)]
    result += [(f"mean +{shift:g} std ({SHIFTED_NUMERIC})", {"mean_shift": shift * reference_std}, SHIFTED_NUMERIC)
               for shift in MEAN_SHIFTS]
    result += [(f"share {round(shift * 100)} pts ({SHIFTED_CATEGORICAL})", {"share_shift": shift},
                SHIFTED_CATEGORICAL) for shift in SHARE_SHIFTS]
    return result


FEATURES = NORMAL + LOGNORMAL + UNIFORM + CATEGORICAL


def _short(name: str) -> str:
    kind, index = name.rsplit("_", 1)
    return {"normal": "norm", "lognormal": "lnorm", "uniform": "unif", "category": "cat"}[kind] + index


def _pct(count: int, total: int) -> str:
    return f"{100.0 * count / total:5.1f}%" if total else "    -"


def format_table(results: list[dict[str, Any]]) -> str:
    header = (f"{'scenario':<30} {'windows':>7}  {'streamer':>8} {'streamer':>8}  {'MLRun':>6} {'MLRun gd':>8}"
              f"  {'Evidently':>9} {'Evidently':>9}")
    header2 = (f"{'':<30} {'':>7}  {'alarm':>8} {'detected':>8}  {'alarm':>6} {'mean':>8}"
               f"  {'dataset':>9} {'column*':>9}")
    lines: list[str] = []
    for size in WINDOW_SIZES:
        lines += ["", f"window = {size:,} events (reference {REFERENCE_ROWS:,} rows)", header, header2,
                  "-" * len(header)]
        for row in (r for r in results if r["window"] == size):
            n, c = row["windows"], row["counts"]
            lines.append(
                f"{row['scenario']:<30} {n:>7}  {_pct(c['streamer_alarm'], n):>8} {_pct(c['streamer_detected'], n):>8}"
                f"  {_pct(c['mlrun_alarm'], n):>6} {row['general_drift_mean']:>8.3f}"
                f"  {_pct(c['evidently_dataset'], n):>9} {_pct(c['evidently_column'], n):>9}")
        for row in (r for r in results if r["window"] == size and r["shifted_column"] is None):
            flagged = row["flagged_features"]
            lines.append("stationary windows flagged per feature: "
                         + " ".join(f"{_short(name)} {flagged.get(name, 0)}" for name in FEATURES))
    lines += [
        "",
        "streamer alarm = suspected or detected (DriftPolicy defaults); MLRun alarm = general_drift >= 0.5;",
        "MLRun gd mean = mean general_drift over the windows (alarm at 0.5, detected at 0.7);",
        "Evidently dataset = >= 50% of the 10 columns drift (W/std >= 0.1 numeric, JS >= 0.1 categorical);",
        "* Evidently column = the shifted column drifts; for stationary windows: any column drifts.",
        "flagged per feature = stationary windows in which streamer flagged the feature (suspected or detected);",
        "norm0-3 = normal_0-3, lnorm0-1 = lognormal_0-1, unif0-1 = uniform_0-1, cat0-1 = category_0-1.",
    ]
    return "\n".join(lines)


def run(out: dict) -> str:
    """Run the benchmark; add the results to ``out["detection"]`` and return the printable table."""
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    policy = DriftPolicy()
    max_categories = Settings().max_categories
    profile = ReferenceProfile.from_columns("bench", "1", features=generate(rng, REFERENCE_ROWS), outputs={})
    layout = profile.layout()
    reference_std = profile.features[SHIFTED_NUMERIC].std
    results: list[dict[str, Any]] = []
    for size in WINDOW_SIZES:
        for label, shift, shifted in scenarios(reference_std):
            windows = STATIONARY_WINDOWS[size] if shifted is None else SHIFTED_WINDOWS[size]
            counts = dict.fromkeys(COUNTERS, 0)
            flagged = dict.fromkeys(FEATURES, 0)
            drifts = []
            for _ in range(windows):
                verdict = evaluate(profile, layout, generate(rng, size, **shift), policy, max_categories, shifted)
                for key in COUNTERS:
                    counts[key] += bool(verdict[key])
                for name in verdict["flagged_features"]:
                    flagged[name] += 1
                drifts.append(verdict["general_drift"])
            results.append({
                "window": size, "scenario": label, "shifted_column": shifted, "windows": windows,
                "counts": counts, "rates": {k: v / windows for k, v in counts.items()}, "flagged_features": flagged,
                "general_drift_mean": float(np.nanmean(drifts)), "general_drift_max": float(np.nanmax(drifts)),
            })
    elapsed = time.perf_counter() - started
    out["detection"] = {
        "seed": SEED, "reference_rows": REFERENCE_ROWS, "window_sizes": list(WINDOW_SIZES),
        "policy": asdict(policy), "results": results, "runtime_s": round(elapsed, 2),
    }
    return f"{format_table(results)}\n\ndetection benchmark runtime: {elapsed:.1f} s"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    out: dict = {}
    table = run(out)
    print(json.dumps(out, indent=2) if "--json" in argv else table)


if __name__ == "__main__":
    main()
