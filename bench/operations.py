"""False-alarm and detection rates of the operational and data-quality rules, beside the drift rule's.

Setup
-----
Synthetic models whose windows run through the worker's own code: each window is a
:class:`WindowAccumulator` (latency in its DDSketch, errors, feature sketches with the reference's
layout), summarised by :func:`streamer.windows.summary.summarize` and judged by the pipeline's
``ALERT_RULES`` against the model's :class:`OpsHistory` of its previous windows, as the worker does at
window close (Kafka aside).

A steady model's window: Poisson(n x w) events, where ``w`` is a per-window wander, lognormal(0, 0.1)
(traffic is never exactly Poisson); latency lognormal(log 20 ms, 0.5) times a per-window jitter
lognormal(0, 0.1); 1% failed requests; feature ``x`` ~ N(0, 1) with 10% missing values and
``country`` of three categories, as in the reference profile of 5,000 rows.

* **Stationary**: ``MODELS`` models x ``WINDOWS`` windows each, at n = 100 and 1,000 events per
  window. The first ``WARMUP`` windows of each model only build its history. False-alarm rate = windows
  with an alert of that kind / windows judged.
* **Incidents**: per trial, a model with ``HISTORY`` steady windows of history, then one incident
  window: latency x10 and x3 (``latency_high``, any percentile), errors 1% -> 10% (``error_rate_high``),
  volume x0.3 and x3 (``throughput_anomaly``), ``x`` missing 10% -> 22% (``data_quality``), and a mean
  shift of 0.5 std in ``x`` for the drift rule. Detection rate = incident windows with that alert / trials.

``data_missing`` is not in the table: it is decided on wall-clock time by the tick stream (unit and
integration tests check it fires once, after ``STREAMER_MISSING_AFTER_SECONDS``, and never for a model
that keeps sending).

Run alone: ``python -m bench.operations``.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np

from streamer.alerts.compose import ALERT_RULES
from streamer.alerts.rules import RuleInput
from streamer.config import Settings
from streamer.reference.profile import ReferenceProfile
from streamer.sketches.ddsketch import DDSketch
from streamer.stats.history import OpsHistory
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.columns import Layout, update_sketches
from streamer.windows.summary import summarize

SEED = 20_261_201
SIZES = (100, 1_000)
MODELS, WINDOWS, WARMUP = 20, 60, 5
HISTORY, TRIALS = 10, 200
WINDOW_S = 60.0
COUNTRIES = np.array(["DE", "FR", "US"])
KINDS = ("data_drift_suspected", "data_drift_detected", "latency_high", "error_rate_high", "throughput_anomaly",
         "data_quality")
INCIDENTS: dict[str, tuple[str, dict[str, float]]] = {
    "latency x10": ("latency_high", {"latency_factor": 10.0}),
    "latency x3": ("latency_high", {"latency_factor": 3.0}),
    "errors 1% -> 10%": ("error_rate_high", {"error_share": 0.10}),
    "volume x0.3": ("throughput_anomaly", {"volume_factor": 0.3}),
    "volume x3": ("throughput_anomaly", {"volume_factor": 3.0}),
    "x missing 10% -> 22%": ("data_quality", {"missing_share": 0.22}),
    "x mean +0.5 std (drift)": ("data_drift", {"x_shift": 0.5}),
}


def columns(rng: np.random.Generator, n: int, missing_share: float = 0.1, x_shift: float = 0.0) -> dict[str, Any]:
    x = rng.normal(x_shift, 1.0, n)
    return {"x": [None if m else float(v) for v, m in zip(x, rng.random(n) < missing_share, strict=True)],
            "country": COUNTRIES[rng.integers(0, 3, n)].tolist()}


def make_window(rng: np.random.Generator, start_s: float, size: int, layout: Layout, *, latency_factor: float = 1.0,
                error_share: float = 0.01, volume_factor: float = 1.0, missing_share: float = 0.1,
                x_shift: float = 0.0) -> WindowAccumulator:
    n = max(1, int(rng.poisson(size * volume_factor * rng.lognormal(0.0, 0.1))))
    window = WindowAccumulator(start_s, start_s + WINDOW_S)
    window.rows, window.errors = n, int(rng.binomial(n, error_share))
    window.first_event_s, window.last_event_s = start_s, start_s + WINDOW_S - 1
    window.latency_ms.update(rng.lognormal(math.log(20.0), 0.5, n) * rng.lognormal(0.0, 0.1) * latency_factor)
    ok = n - window.errors
    update_sketches(window.features, columns(rng, ok, missing_share, x_shift), layout.features, 64,
                    window.type_mismatches, window.non_finite)
    return window


def judge(window: WindowAccumulator, history: OpsHistory, profile: ReferenceProfile,
          settings: Settings) -> tuple[set[str], dict[str, Any]]:
    summary = summarize(window, profile, settings.default_drift, model="bench", version="1",
                        reference_source="registered", closed_by="watermark")
    rule_input = RuleInput(summary, window, history, True, settings, 0.0)
    return {alert["kind"] for rule in ALERT_RULES for alert in rule(rule_input)}, summary


def steady_history(rng: np.random.Generator, size: int, layout: Layout, profile: ReferenceProfile,
                   settings: Settings) -> OpsHistory:
    history = OpsHistory()
    for index in range(HISTORY):
        window = make_window(rng, index * WINDOW_S, size, layout)
        latency = dict(zip(("p50", "p90", "p95", "p99", "max"),
                           window.latency_ms.quantiles([0.5, 0.9, 0.95, 0.99, 1.0]).tolist(), strict=True))
        history.update({"events": window.rows, "errors": window.errors, "latency_ms": latency}, full=True)
    return history


def sketch_error(rng: np.random.Generator) -> dict[str, float]:
    """Largest relative error of the latency sketch's p50..p99.9 against exact percentiles, 1e5 values."""
    errors = {}
    for name, values in (("lognormal(3, 1.2)", rng.lognormal(3.0, 1.2, 100_000)),
                         ("pareto(1.5)", (rng.pareto(1.5, 100_000) + 1.0) * 5.0)):
        sketch = DDSketch()
        sketch.update(values)
        qs = [0.5, 0.9, 0.95, 0.99, 0.999]
        exact = np.quantile(values, qs, method="lower")
        errors[name] = float(np.max(np.abs(sketch.quantiles(qs) - exact) / exact))
    return errors


def run(out: dict) -> str:
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    settings = Settings()
    profile = ReferenceProfile.from_columns("bench", "1", features=columns(rng, 5_000), outputs={})
    layout = profile.layout()
    results: dict[str, Any] = {"stationary": {}, "incidents": {}}
    for size in SIZES:
        alarms = dict.fromkeys(KINDS, 0)
        judged = 0
        for _ in range(MODELS):
            history = OpsHistory()
            for index in range(WINDOWS):
                window = make_window(rng, index * WINDOW_S, size, layout)
                kinds, summary = judge(window, history, profile, settings)
                if index >= WARMUP:
                    judged += 1
                    for kind in kinds & set(KINDS):
                        alarms[kind] += 1
                history.update(summary, full=True, alerted=frozenset(kinds))
        results["stationary"][size] = {"windows": judged, "alarms": alarms,
                                       "rates": {k: v / judged for k, v in alarms.items()}}
        for label, (kind, incident) in INCIDENTS.items():
            hits = 0
            for _ in range(TRIALS):
                history = steady_history(rng, size, layout, profile, settings)
                kinds, _ = judge(make_window(rng, HISTORY * WINDOW_S, size, layout, **incident), history, profile,
                                 settings)
                hits += any(k.startswith(kind) for k in kinds)
            results["incidents"].setdefault(label, {"kind": kind})[size] = hits / TRIALS
    results["sketch_error"] = sketch_error(rng)
    elapsed = time.perf_counter() - started
    out["operations"] = {"seed": SEED, "sizes": list(SIZES), "models": MODELS, "windows_per_model": WINDOWS,
                         "trials": TRIALS, "results": results, "seconds": elapsed}
    return table(results, elapsed)


def table(results: dict[str, Any], elapsed: float) -> str:
    header = f"{'':46}" + "".join(f"{f'n={size}':>12}" for size in SIZES)
    lines = [f"Operational and data-quality rules (SEED {SEED}; {elapsed:.0f} s)", "",
             "false-alarm rate per window and model, stationary windows "
             f"({results['stationary'][SIZES[0]]['windows']} judged per size):", header]
    for kind in KINDS:
        lines.append(f"  {kind:44}" + "".join(
            f"{results['stationary'][size]['rates'][kind]:>12.4f}" for size in SIZES))
    lines += ["", f"detection rate of one incident window ({TRIALS} trials each, after {HISTORY} steady windows):",
              header]
    for label, row in results["incidents"].items():
        lines.append(f"  {label + ' -> ' + row['kind']:44}" + "".join(
            f"{row[size]:>12.3f}" for size in SIZES))
    lines += ["", "latency sketch (DDSketch, 1% bound): largest relative error of p50..p99.9, 100,000 values: " +
              ", ".join(f"{name} {error:.4%}" for name, error in results["sketch_error"].items())]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run({}))
    sys.exit(0)
