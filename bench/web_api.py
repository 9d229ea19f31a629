"""Answer times of the dashboard's API calls with many models, over real HTTP to the real aiohttp app.

The worker's in-memory cluster views are filled as the mirror topics would fill them: ``MODELS``
model versions, each with ``WINDOWS`` closed-window summaries made by the worker's own ``summarize``
(10 features, drift against a reference, distributions included) and a share of alerts. Then the
front page's call (``/api/v1/models``) and a model page's calls (model, 60 windows, its alerts, the
OpenAPI description) are timed from a client on loopback; p50 and p95 are reported.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import numpy as np
import orjson
from aiohttp import web

from bench.detection import generate
from streamer.alerts.alert import make_alert
from streamer.config import DriftPolicy, Settings
from streamer.pipeline import PipelineCounters
from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry
from streamer.web.api import Api
from streamer.web.cluster_view import AlertLog, StatusBoard, WindowHistory
from streamer.web.metrics import render_metrics
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.columns import update_sketches
from streamer.windows.summary import summarize

MODELS = 500
WINDOWS = 60
REQUESTS = 200
T0 = 1795687200.0


def summaries(rng: np.random.Generator) -> list[dict[str, Any]]:
    """A few real window summaries to copy (computing 30,000 would only time the sketches)."""
    profile = ReferenceProfile.from_columns("bench", "1", features=generate(rng, 5000), outputs={})
    layout, policy, found = profile.layout(), DriftPolicy(), []
    for shift in (0.0, 0.0, 0.3, 1.0):
        window = WindowAccumulator(0.0, 60.0)
        columns = generate(rng, 2000, mean_shift=shift)
        window.rows = 2000
        update_sketches(window.features, columns, layout.features, Settings().max_categories, window.type_mismatches)
        found.append(summarize(window, profile, policy, model="bench", version="1", reference_source="registered",
                               closed_by="event_time"))
    return found


def world() -> tuple[StatusBoard, WindowHistory, AlertLog]:
    rng = np.random.default_rng(5)
    templates = summaries(rng)
    status, history, alerts = StatusBoard(), WindowHistory(WINDOWS), AlertLog(10000)
    for m in range(MODELS):
        model = f"model-{m:03d}"
        for w in range(WINDOWS):
            start = T0 + 60 * w
            doc = {**templates[(m + w) % len(templates)], "model": model, "version": "1", "window_start_s": start,
                   "window_end_s": start + 60, "events": int(rng.integers(500, 3000))}
            history.handle_record(model.encode(), orjson.dumps(doc), start)
            if m % 5 == 0 and w % 6 == 0:
                alerts.handle_record(model.encode(), orjson.dumps(make_alert(
                    "data_drift_detected", "critical", model=model, version="1", window_start=str(start),
                    window_end=str(start + 60), value=0.5, threshold=0.3, message="2 of 10 features drifted",
                    details={}, created_at_s=start + 61)), start)
        status.handle_record(model.encode(), orjson.dumps({
            "model": model, "version": "1", "status": "critical" if m % 5 == 0 else "ok", "events_total": 100000,
            "last_window_end": str(T0 + 60 * WINDOWS), "updated_at_s": T0, "open_windows": []}), T0)
    return status, history, alerts


async def timed(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with session.get(url) as response:
        await response.read()
        assert response.status == 200, (url, response.status)
    return (time.perf_counter() - started) * 1000


async def measure() -> dict[str, dict[str, float]]:
    status, history, alerts = world()

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        return None

    api = Api(None, "references", status, history, alerts, ReferenceRegistry(), readiness=lambda scope: [],
              metrics=lambda: render_metrics(PipelineCounters(), status, history=history), publish=publish)
    app = web.Application()
    api.register(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    calls = {
        "/api/v1/models": lambda i: "/api/v1/models",
        "/api/v1/models/{model}": lambda i: f"/api/v1/models/model-{i % MODELS:03d}",
        "/api/v1/models/{model}/windows?limit=60": lambda i: f"/api/v1/models/model-{i % MODELS:03d}/windows?limit=60",
        "/api/v1/alerts?model=M&limit=200": lambda i: f"/api/v1/alerts?model=model-{i % MODELS:03d}&limit=200",
        "/api/v1/openapi.json": lambda i: "/api/v1/openapi.json",
        "/metrics": lambda i: "/metrics",
    }
    results = {}
    try:
        async with aiohttp.ClientSession() as session:
            for name, path in calls.items():
                times = [await timed(session, base + path(i)) for i in range(REQUESTS)]
                results[name] = {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95))}
            page = []
            for i in range(REQUESTS // 4):  # the model page's calls, all at once as the page makes them
                started = time.perf_counter()
                await asyncio.gather(*(timed(session, base + calls[c](i)) for c in list(calls)[1:4]))
                page.append((time.perf_counter() - started) * 1000)
            results["model page (3 calls together)"] = {"p50_ms": float(np.percentile(page, 50)),
                                                        "p95_ms": float(np.percentile(page, 95))}
    finally:
        await runner.cleanup()
    return results


def run(out: dict) -> str:
    results = asyncio.run(measure())
    out["web_api"] = {"models": MODELS, "windows_per_model": WINDOWS, "requests": REQUESTS, "results": results}
    lines = [f"web API answer times: {MODELS} models x {WINDOWS} windows, {REQUESTS} sequential requests each, loopback",
             f"{'call':45} {'p50 ms':>8} {'p95 ms':>8}"]
    lines += [f"{name:45} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f}" for name, r in results.items()]
    return "\n".join(lines)
