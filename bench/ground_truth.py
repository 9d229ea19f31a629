"""Ground truth: concept-drift detectors, the estimate before labels, and the degraded rule, on synthetic streams.

Detectors
---------
Each detector (ADWIN, DDM, Page-Hinkley from :mod:`streamer.stats.detectors`), with streamer's defaults and
with River's (the class defaults), reads per-prediction 0/1 errors:

* **false alarms**: ``STREAMS`` stationary streams of 100,000 errors at a 10% rate; alarms counted per stream;
* **delay**: the same number of streams where the rate rises from 10% to 30% after 20,000 rows (and, as a
  harder case, to 15%); the delay is the rows from the change to the first detection after it (a stream
  whose detector fires only before the change, or never within 20,000 rows after it, is a miss);
* **speed**: microseconds per ``update`` (pure Python).

``concept_drift_suspected`` comes from DDM's warning level (:class:`~streamer.performance.concept.ConceptMonitor`
with its default floors; ADWIN and Page-Hinkley have no warning level): the same streams give its
warnings per 100,000 stationary rows, and on the rising streams the delay from the change to the first
warning after it and how many rows that warning came before the detection.

Estimate before labels
----------------------
A synthetic binary classifier: each row's true probability ``p`` of being positive is Beta-distributed, its
label drawn with that probability, its score ``p ** 1.5`` (monotone, miscalibrated). A 20,000-row labelled
reference fits the calibration; windows come from five distributions of ``p`` (covariate shift). The
error is estimated accuracy less the realized accuracy of the same window's labels. "oracle" is the
error of the true expected accuracy (mean of ``max(p, 1 - p)`` per row): the part of the error that is
the labels' own chance, which no estimate can remove.

Degraded rule
-------------
A reference of 10,000 labelled rows at 90% accuracy (its accuracy drawn, as a real reference's is),
windows of 1,000 to 10,000 labelled rows; false alarms on windows at 90%, detections on windows at 88%
(a 2-point drop), under the default :class:`~streamer.performance.degraded.PerformancePolicy`. Each
figure averages ``DEGRADED_REFERENCES`` references, ``WINDOWS`` windows each: a deployment has one
reference, and a reference that happens to sit high in its own sampling spread raises its false alarms,
one that sits low lowers them. The estimated source is measured on score histograms of windows from the
reference's own distribution (false alarms only), with a 10,000-row calibration per reference.

Label drift
-----------
A binary model with 30% positives in a 10,000-row reference (its share drawn, as a real reference's is);
windows of 1,000 to 10,000 labels at 30% (false alarms) and at 35% (detections), under the default
:class:`~streamer.config.DriftPolicy` (one test, so the feature rule's ``alpha`` per window).

Run alone: ``python -m bench.ground_truth``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from streamer.config import DriftPolicy
from streamer.performance.degraded import PerformancePolicy, degraded_metrics
from streamer.performance.estimate import Calibration, EstimateState
from streamer.performance.label_drift import label_drift
from streamer.stats.detectors import DETECTORS, make_detector

SEED = 20261201
STREAMS = 20
STATIONARY_ROWS = 100_000
CHANGE_AT = 20_000
AFTER_ROWS = 20_000
REFERENCES = 5  # calibrations per estimate window size
DEGRADED_REFERENCES = 20
WINDOWS = 250  # per reference
LABELLED = (1_000, 3_000, 5_000, 10_000)
ESTIMATE_WINDOWS = (1_000, 5_000, 10_000)


def _detections(detector: Any, values: list[float]) -> list[int]:
    found = []
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            found.append(i)
    return found


def detectors(rng: np.random.Generator) -> list[dict[str, Any]]:
    stationary = [(rng.random(STATIONARY_ROWS) < 0.1).astype(float).tolist() for _ in range(STREAMS)]
    index = np.arange(CHANGE_AT + AFTER_ROWS)
    rises = {after: [(rng.random(len(index)) < np.where(index < CHANGE_AT, 0.1, after)).astype(float).tolist()
                     for _ in range(STREAMS)] for after in (0.3, 0.15)}
    results = []
    for name in ("adwin", "ddm", "page_hinkley"):
        for config in ("streamer", "river"):
            def make(name: str = name, config: str = config) -> Any:
                return make_detector(name) if config == "streamer" else DETECTORS[name]()

            started = time.perf_counter()
            alarms = [len(_detections(make(), values)) for values in stationary]
            speed_us = (time.perf_counter() - started) / (STREAMS * STATIONARY_ROWS) * 1e6
            row: dict[str, Any] = {"detector": name, "defaults": config, "false_alarms_per_100k": alarms,
                                   "us_per_label": speed_us}
            for after, streams in rises.items():
                delays = []
                for values in streams:
                    later = [i - CHANGE_AT for i in _detections(make(), values) if i >= CHANGE_AT]
                    delays.append(later[0] if later else None)
                row[f"delay_to_{round(after * 100)}pct"] = delays
            results.append(row)
    return results


def suspected(rng: np.random.Generator) -> dict[str, Any]:
    """DDM's warnings as ``concept_drift_suspected`` (the monitor's floors), on fresh streams like the detectors'."""
    from streamer.performance.concept import ConceptMonitor

    def events(values: np.ndarray) -> list[dict[str, Any]]:
        return ConceptMonitor(make_detector("ddm")).update(values, np.arange(len(values), dtype=float))

    stationary = [sum(e["kind"] == "warning" for e in events((rng.random(STATIONARY_ROWS) < 0.1).astype(float)))
                  for _ in range(STREAMS)]
    index = np.arange(CHANGE_AT + AFTER_ROWS)
    row: dict[str, Any] = {"warnings_per_100k": stationary}
    for after in (0.3, 0.15):
        delays, leads = [], []
        for _ in range(STREAMS):
            found = events((rng.random(len(index)) < np.where(index < CHANGE_AT, 0.1, after)).astype(float))
            warnings = [e["detected_at_s"] - CHANGE_AT for e in found if e["kind"] == "warning" and e["detected_at_s"] >= CHANGE_AT]
            drifts = [e["detected_at_s"] - CHANGE_AT for e in found if e["kind"] == "drift" and e["detected_at_s"] >= CHANGE_AT]
            delays.append(int(warnings[0]) if warnings else None)
            if warnings and drifts:
                leads.append(int(drifts[0] - warnings[0]))
        row[f"delay_to_{round(after * 100)}pct"] = delays
        row[f"lead_over_detection_{round(after * 100)}pct"] = leads
    return row


def _rows(rng: np.random.Generator, n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = rng.beta(a, b, n)
    return p**1.5, (rng.random(n) < p).astype(int), p


def estimate(rng: np.random.Generator) -> list[dict[str, Any]]:
    results = []
    shapes = [(2.0, 2.0), (1.0, 1.0), (3.0, 1.5), (0.7, 0.7), (2.0, 4.0)]
    for size in ESTIMATE_WINDOWS:
        errors, oracle = [], []
        for _ in range(REFERENCES):
            scores, labels, _ = _rows(rng, 20_000, 2.0, 2.0)
            calibration = Calibration.fit(scores, labels)
            for a, b in shapes * 10:
                scores, labels, p = _rows(rng, size, a, b)
                predicted = scores >= 0.5
                state = EstimateState()
                state.update(scores, predicted)
                realized = float(np.mean(predicted == labels))
                errors.append(state.estimate(calibration)["accuracy"] - realized)
                oracle.append(float(np.mean(np.where(predicted, p, 1 - p))) - realized)
        results.append({"window": size, "windows": len(errors), "mean_abs_error": float(np.mean(np.abs(errors))),
                        "max_abs_error": float(np.max(np.abs(errors))), "bias": float(np.mean(errors)),
                        "oracle_mean_abs_error": float(np.mean(np.abs(oracle))),
                        "oracle_max_abs_error": float(np.max(np.abs(oracle)))})
    return results


def degraded(rng: np.random.Generator) -> dict[str, Any]:
    policy = PerformancePolicy()
    realized = []
    for labelled in LABELLED:
        rates = {}
        for true_accuracy in (0.90, 0.88):
            hits = 0
            for _ in range(DEGRADED_REFERENCES):
                reference = {"labelled": 10_000, "accuracy": rng.binomial(10_000, 0.90) / 10_000}
                for accuracy in rng.binomial(labelled, true_accuracy, WINDOWS) / labelled:
                    hits += bool(degraded_metrics({"labelled": labelled, "accuracy": float(accuracy)}, reference, policy))
            rates[true_accuracy] = hits / (DEGRADED_REFERENCES * WINDOWS)
        realized.append({"labelled": labelled, "false_alarm_rate": rates[0.90], "detection_rate_2pt": rates[0.88]})
    estimated = []
    for scored in LABELLED:
        hits = 0
        for _ in range(DEGRADED_REFERENCES):
            scores, labels, _ = _rows(rng, 10_000, 2.0, 2.0)
            calibration = Calibration.fit(scores, labels)
            reference = {"labelled": 10_000, "accuracy": float(np.mean((scores >= 0.5) == labels))}
            for _ in range(WINDOWS // 5):
                scores, _, _ = _rows(rng, scored, 2.0, 2.0)
                state = EstimateState()
                state.update(scores, scores >= 0.5)
                value = state.estimate(calibration)["accuracy"]
                hits += bool(degraded_metrics({"labelled": scored, "accuracy": value}, reference, policy))
        estimated.append({"scored": scored, "false_alarm_rate": hits / (DEGRADED_REFERENCES * (WINDOWS // 5))})
    return {"policy": {"alpha": policy.alpha, "min_drop": policy.min_drop, "min_labelled": policy.min_labelled},
            "realized": realized, "estimated": estimated}


def label_drift_rates(rng: np.random.Generator) -> list[dict[str, Any]]:
    """Label drift of a binary model (30% positives in a 10,000-row reference): alarms (suspected or
    detected) on stationary windows, and on windows with 5 points more positives."""
    policy = DriftPolicy()
    results = []
    for labelled in LABELLED:
        rates = {}
        for share in (0.30, 0.35):
            hits = 0
            for _ in range(DEGRADED_REFERENCES):
                positives = int(rng.binomial(10_000, 0.30))
                reference = {"0": 10_000 - positives, "1": positives}
                for k in rng.binomial(labelled, share, WINDOWS).tolist():
                    hits += label_drift(reference, {"0": labelled - k, "1": k}, policy)["status"] != "ok"
            rates[share] = hits / (DEGRADED_REFERENCES * WINDOWS)
        results.append({"labelled": labelled, "false_alarm_rate": rates[0.30], "detection_rate_5pt": rates[0.35]})
    return results


def _delays(values: list[int | None]) -> str:
    found = sorted(v for v in values if v is not None)
    misses = len(values) - len(found)
    if not found:
        return f"{'-':>6} {'-':>6} {misses:>6}"
    return f"{int(np.median(found)):>6} {found[-1]:>6} {misses:>6}"


def format_tables(result: dict[str, Any]) -> str:
    lines = [f"Concept-drift detectors on 0/1 errors ({STREAMS} streams each)",
             f"{'detector':<13} {'defaults':<9} {'alarms/100k stationary':>23} {'10->30%: median':>16} "
             f"{'max':>6} {'miss':>6} {'10->15%: median':>16} {'max':>6} {'miss':>6} {'us/label':>9}"]
    for row in result["detectors"]:
        alarms = row["false_alarms_per_100k"]
        lines.append(f"{row['detector']:<13} {row['defaults']:<9} {f'{sum(alarms)} total, max {max(alarms)}':>23} "
                     f"{_delays(row['delay_to_30pct']):>30} {_delays(row['delay_to_15pct']):>30} "
                     f"{row['us_per_label']:>9.2f}")
    warned = result.get("suspected")
    if warned:
        alarms = warned["warnings_per_100k"]
        leads = warned["lead_over_detection_30pct"]
        lines.append(f"{'ddm warning':<13} {'suspected':<9} {f'{sum(alarms)} total, max {max(alarms)}':>23} "
                     f"{_delays(warned['delay_to_30pct']):>30} {_delays(warned['delay_to_15pct']):>30}")
        lines.append(f"  (concept_drift_suspected; at 10->30% it came a median {int(np.median(leads)) if leads else 0} "
                     f"rows before the detection, in {len(leads)} of {STREAMS} streams)")
    lines += ["", "Accuracy estimated before labels against realized accuracy (points)",
              f"{'window':>7} {'windows':>8} {'mean |err|':>11} {'max |err|':>10} {'bias':>7} "
              f"{'oracle mean':>12} {'oracle max':>11}"]
    for row in result["estimate"]:
        lines.append(f"{row['window']:>7} {row['windows']:>8} {100 * row['mean_abs_error']:>11.2f} "
                     f"{100 * row['max_abs_error']:>10.2f} {100 * row['bias']:>7.2f} "
                     f"{100 * row['oracle_mean_abs_error']:>12.2f} {100 * row['oracle_max_abs_error']:>11.2f}")
    policy = result["degraded"]["policy"]
    lines += ["", f"model_performance_degraded (alpha {policy['alpha']}, min drop {policy['min_drop']}; "
              f"reference 10,000 rows at 90%)",
              f"{'labelled':>9} {'false alarms (realized)':>24} {'2-point drop caught':>20} "
              f"{'false alarms (estimated)':>25}"]
    for real, est in zip(result["degraded"]["realized"], result["degraded"]["estimated"], strict=True):
        lines.append(f"{real['labelled']:>9} {100 * real['false_alarm_rate']:>23.2f}% "
                     f"{100 * real['detection_rate_2pt']:>19.1f}% {100 * est['false_alarm_rate']:>24.2f}%")
    lines += ["", "label drift (binary labels, 30% positives in a 10,000-row reference; suspected or detected)",
              f"{'labelled':>9} {'false alarms':>13} {'+5 points caught':>17}"]
    for row in result["label_drift"]:
        lines.append(f"{row['labelled']:>9} {100 * row['false_alarm_rate']:>12.2f}% "
                     f"{100 * row['detection_rate_5pt']:>16.1f}%")
    return "\n".join(lines)


def run(out: dict) -> str:
    """Run the benchmark; add the results to ``out["ground_truth"]`` and return the printable tables."""
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    result = {"detectors": detectors(rng), "suspected": suspected(rng), "estimate": estimate(rng), "degraded": degraded(rng),
              "label_drift": label_drift_rates(rng)}
    elapsed = time.perf_counter() - started
    out["ground_truth"] = {"seed": SEED, **result, "runtime_s": round(elapsed, 2)}
    return f"{format_tables(result)}\n\nground-truth benchmark runtime: {elapsed:.1f} s"
