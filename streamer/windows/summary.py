"""A window's summary: its counts, per-column statistics and drift against the reference.

:func:`summarize` is pure: accumulator and reference in, a JSON-ready dict out. The same
summary is published for a closed window, shown for the open one, and turned into alerts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streamer.config import DriftPolicy
from streamer.events.timestamps import format_timestamp
from streamer.reference.profile import ReferenceProfile
from streamer.sketches.categorical import CategoricalSketch
from streamer.sketches.numeric import NumericSketch
from streamer.stats.decision import feature_status, model_status
from streamer.stats.drift import categorical_drift, general_drift
from streamer.stats.drift_columns import Column, numeric_drift_columns
from streamer.stats.quality import quality_section
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.columns import CATEGORICAL, NUMERIC, Sketch
from streamer.windows.distribution import categorical_distribution, numeric_distribution

# Window status from drift status: what the API and the dashboard show.
STATUS_OF_DRIFT = {"ok": "ok", "suspected": "warning", "detected": "critical"}
LATENCY_QUANTILES = (0.5, 0.9, 0.95, 0.99, 1.0)
LATENCY_NAMES = ("p50", "p90", "p95", "p99", "max")


def _finite(value: float) -> float | None:
    return value if isinstance(value, float) and math.isfinite(value) else None


def column_statistics(sketch: Sketch) -> dict[str, Any]:
    """Plain statistics of one column, no reference needed."""
    total = sketch.count + sketch.missing
    stats: dict[str, Any] = {"count": sketch.count, "missing": sketch.missing,
                             "missing_share": sketch.missing / total if total else 0.0}
    if isinstance(sketch, NumericSketch):
        p50, p95 = sketch.quantiles.quantiles([0.5, 0.95]).tolist() if sketch.count else (None, None)
        stats.update(kind=NUMERIC, mean=_finite(sketch.mean) if sketch.count else None,
                     std=_finite(sketch.std), min=_finite(sketch.min), max=_finite(sketch.max),
                     p50=_finite(p50) if p50 is not None else None, p95=_finite(p95) if p95 is not None else None)
    else:
        top = sorted(sketch.counts.items(), key=lambda item: -item[1])[:10]
        stats.update(kind=CATEGORICAL, categories=len(sketch.counts), top=dict(top), other=sketch.other)
    return stats


def _json_metrics(metrics: Mapping[str, float]) -> dict[str, float | None]:
    # v - v is 0.0 for a finite float, nan for nan and infinities: None in JSON.
    return {k: (float(v) if v - v == 0.0 else None) if isinstance(v, float) else v for k, v in metrics.items()}


def numeric_columns(
    window: Mapping[str, Sketch], reference: Mapping[str, Sketch], mlrun_edges: Mapping[str, Any],
) -> dict[str, Column]:
    """The numeric columns to compare: (reference, window over the reference's bins, MLRun edges)."""
    columns = {}
    for name, ref in reference.items():
        win = window.get(name)
        if isinstance(ref, NumericSketch) and isinstance(win, NumericSketch) and win.count:
            assert ref.edges is not None  # reference sketches always have bins
            columns[name] = (ref, win.rebinned(ref.edges), mlrun_edges[name])
    return columns


def compare_columns(
    window: Mapping[str, Sketch], reference: Mapping[str, Sketch], mlrun_edges: Mapping[str, Any],
    policy: DriftPolicy, numeric: Mapping[str, tuple[Column, dict[str, float]]] | None = None,
) -> tuple[dict[str, dict[str, Any]], str, float]:
    """Per-column drift metrics and status, then the family's status and drifted share.

    ``numeric``: the numeric columns (:func:`numeric_columns`) with their metrics when the caller has
    computed them already, for several families in one :func:`numeric_drift_columns` call.
    """
    if numeric is None:
        columns = numeric_columns(window, reference, mlrun_edges)
        found = numeric_drift_columns(list(columns.values()), policy.sketch_wasserstein)
        numeric = dict(zip(columns, zip(columns.values(), found, strict=True), strict=True))
    metrics: dict[str, dict[str, Any]] = {}
    for name, ref in reference.items():
        win = window.get(name)
        if win is None or win.count == 0:
            metrics[name] = {"kind": NUMERIC if isinstance(ref, NumericSketch) else CATEGORICAL, "count": 0}
        elif name in numeric:
            (ref, win, edges), drift = numeric[name]
            metrics[name] = {"kind": NUMERIC, **drift, "distribution": numeric_distribution(ref, win, edges)}
        elif isinstance(ref, CategoricalSketch) and isinstance(win, CategoricalSketch):
            metrics[name] = {"kind": CATEGORICAL, **categorical_drift(ref, win),
                             "distribution": categorical_distribution(ref, win)}
        else:
            metrics[name] = {**column_statistics(win), "type_mismatch": True}
    tested = [n for n, m in metrics.items() if m.get("count") and not m.get("type_mismatch")]
    statuses = {}
    for name, column in metrics.items():
        status = feature_status(column, column["kind"], len(tested), policy) if name in tested else "ok"
        column["status"] = statuses[name] = status
        metrics[name] = _json_metrics(column)
    family_status, drifted_share = model_status({n: statuses[n] for n in tested}, policy) if tested else ("ok", 0.0)
    return metrics, family_status, drifted_share


@dataclass(frozen=True)
class SummaryJob:
    """One window to summarise: its accumulator, the reference (None while collecting a baseline), how to decide."""

    window: WindowAccumulator
    reference: ReferenceProfile | None
    policy: DriftPolicy
    model: str
    version: str
    reference_source: str
    closed_by: str | None


def summarize(
    window: WindowAccumulator, reference: ReferenceProfile | None, policy: DriftPolicy, *,
    model: str, version: str, reference_source: str, closed_by: str | None,
) -> dict[str, Any]:
    """The JSON summary of a window; ``reference=None`` while the model collects its baseline."""
    return summarize_many([SummaryJob(window, reference, policy, model, version, reference_source, closed_by)])[0]


def summarize_many(jobs: Sequence[SummaryJob]) -> list[dict[str, Any]]:
    """The summaries of many windows, of many models: their numeric drift metrics in one array pass.

    Identical to :func:`summarize` of each job; with a thousand models closing together, one
    :func:`numeric_drift_columns` over all their columns costs about a third of one call per window.
    """
    columns: dict[tuple[int, str, str], Column] = {}
    for i, job in enumerate(jobs):
        if job.reference is not None:
            for family, window_columns, reference_columns in (("f", job.window.features, job.reference.features),
                                                              ("o", job.window.outputs, job.reference.outputs)):
                for name, column in numeric_columns(window_columns, reference_columns, job.reference.mlrun_edges).items():
                    columns[i, family, name] = column
    drift: list[dict[tuple[str, str], tuple[Column, dict[str, float]]]] = [{} for _ in jobs]
    for sketch_wasserstein in {job.policy.sketch_wasserstein for job in jobs}:
        keys = [key for key in columns if jobs[key[0]].policy.sketch_wasserstein == sketch_wasserstein]
        found = numeric_drift_columns([columns[key] for key in keys], sketch_wasserstein)
        for (i, family, name), metrics in zip(keys, found, strict=True):
            drift[i][family, name] = (columns[i, family, name], metrics)
    return [_summary(job, drift[i]) for i, job in enumerate(jobs)]


def _summary(job: SummaryJob, drift: Mapping[tuple[str, str], tuple[Column, dict[str, float]]]) -> dict[str, Any]:
    window, reference, policy = job.window, job.reference, job.policy
    span_s = window.end_s - window.start_s
    latency = window.latency_ms
    summary: dict[str, Any] = {
        "model": job.model, "version": job.version,
        "window_start": format_timestamp(window.start_s), "window_end": format_timestamp(window.end_s),
        "window_start_s": window.start_s, "window_end_s": window.end_s,
        "closed_by": job.closed_by, "events": window.rows, "errors": window.errors,
        "error_rate": window.errors / window.rows if window.rows else 0.0,
        "throughput_per_s": window.rows / span_s if span_s > 0 else None,
        "latency_ms": {name: _finite(v) for name, v in zip(
            LATENCY_NAMES, latency.quantiles(LATENCY_QUANTILES).tolist(), strict=True)}
        if latency.count else {},
        "reference": job.reference_source,
        "type_mismatches": dict(window.type_mismatches),
    }
    if reference is None:
        summary["status"] = "baseline"
        summary["features"] = {n: column_statistics(s) for n, s in window.features.items()}
        summary["outputs"] = {n: column_statistics(s) for n, s in window.outputs.items()}
        summary["drift"] = None
        return summary
    features, data_status, drifted_share = compare_columns(
        window.features, reference.features, reference.mlrun_edges, policy,
        {n: found for (family, n), found in drift.items() if family == "f"})
    outputs, prediction_status, _ = compare_columns(window.outputs, reference.outputs, reference.mlrun_edges, policy,
                                                    {n: found for (family, n), found in drift.items() if family == "o"})
    for name, sketch in window.features.items():
        if name not in features:
            features[name] = {**column_statistics(sketch), "status": "ok", "unexpected": True}
    worst = max((data_status, prediction_status), key=["ok", "suspected", "detected"].index)
    summary["status"] = STATUS_OF_DRIFT[worst] if window.rows else "no_data"
    summary["features"] = features
    summary["outputs"] = outputs
    summary["data_quality"] = quality_section(window, reference.features, reference.rows)
    summary["drift"] = {
        "status": data_status, "drifted_share": drifted_share,
        "drifted_features": [n for n, m in features.items() if m.get("status") == "detected"],
        "suspected_features": [n for n, m in features.items() if m.get("status") == "suspected"],
        "general_drift": _finite(general_drift(features)),
        "prediction_status": prediction_status,
        "drifted_outputs": [n for n, m in outputs.items() if m.get("status") == "detected"],
    }
    return summary
