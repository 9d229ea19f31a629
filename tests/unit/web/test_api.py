"""The HTTP API (CONTRACT 6), served by the real aiohttp app over in-memory cluster views."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from streamer.alerts.alert import make_alert
from streamer.batch import PipelineCounters
from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry
from streamer.web.api import Api
from streamer.web.cluster_view import AlertLog, StatusBoard, WindowHistory
from streamer.web.metrics import render_metrics

T0 = 1795687200.0
TOKEN = "s3cret-token"


def status_doc(model: str, version: str, events: int, updated_at_s: float, status: str = "ok") -> bytes:
    return orjson.dumps({
        "model": model, "version": version, "status": status, "events_total": events, "late_events": 0,
        "last_window_end": "2026-11-26T10:00:10.000Z", "last_event_at": "2026-11-26T10:00:12.000Z",
        "reference": "registered", "baseline_windows": 0, "updated_at": "2026-11-26T10:00:13.000Z",
        "updated_at_s": updated_at_s,
        "open_windows": [{"window_start": "2026-11-26T10:00:10.000Z", "events": 3, "status": status}],
    })


def window_doc(model: str, version: str, start_s: float, events: int) -> bytes:
    return orjson.dumps({"model": model, "version": version, "window_start_s": start_s, "window_end_s": start_s + 10,
                         "window_start": f"start-{start_s:.0f}", "window_end": f"end-{start_s + 10:.0f}",
                         "events": events, "status": "ok"})


def alert_doc(model: str, kind: str, window: int) -> bytes:
    return orjson.dumps(make_alert(
        kind, "critical", model=model, version="1", window_start=f"w{window}", window_end=f"w{window + 1}",
        value=0.5, threshold=0.1, message=f"{kind} in window {window}", details={}, created_at_s=T0 + window))


def profile(model: str = "fraud", version: str | None = None) -> bytes:
    rng = np.random.default_rng(3)
    return ReferenceProfile.from_columns(model, version, features={"x": rng.normal(size=200)},
                                         outputs={"prediction": [0, 1] * 100}).to_json()


@dataclass
class World:
    status: StatusBoard = field(default_factory=StatusBoard)
    history: WindowHistory = field(default_factory=lambda: WindowHistory(100))
    alerts: AlertLog = field(default_factory=lambda: AlertLog(100))
    registry: ReferenceRegistry = field(default_factory=ReferenceRegistry)
    not_ready: list[str] = field(default_factory=list)
    published: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    def api(self, token: str | None = None) -> Api:
        async def publish(topic: str, key: bytes, value: bytes) -> None:
            self.published.append((topic, key, value))

        return Api(token, "references", self.status, self.history, self.alerts, self.registry,
                   readiness=lambda scope: [r for r in self.not_ready if scope == "worker" or "mirror" in r],
                   metrics=lambda: render_metrics(PipelineCounters(messages=7, rows_accepted=5), self.status,
                                                  history=self.history),
                   publish=publish, check_answers=True)


@pytest.fixture
def world() -> World:
    w = World()
    w.status.handle_record(b"fraud", status_doc("fraud", "1", 40, T0 + 1), T0)
    w.status.handle_record(b"fraud", status_doc("fraud", "2", 7, T0 + 5), T0)
    w.status.handle_record(b"churn", status_doc("churn", "default", 12, T0 + 2, "baseline"), T0)
    w.status.handle_record(b"fraud", status_doc("fraud", "1", 30, T0), T0)  # stale: an older update arriving late
    for start in (T0, T0 + 10, T0 + 20):
        w.history.handle_record(b"fraud", window_doc("fraud", "1", start, int(start - T0) + 1), T0)
    w.history.handle_record(b"fraud", window_doc("fraud", "1", T0 + 20, 21), T0)  # a repeat replaces
    for i, (model, kind) in enumerate([("fraud", "data_drift_detected"), ("churn", "data_drift_detected"),
                                       ("fraud", "latency_high"), ("fraud", "data_drift_detected")]):
        w.alerts.handle_record(model.encode(), alert_doc(model, kind, i), T0)
    w.alerts.handle_record(b"fraud", alert_doc("fraud", "latency_high", 2), T0)  # the same id again
    return w


Scenario = Callable[[TestClient], Awaitable[None]]


def serve(api: Api, scenario: Scenario) -> None:
    async def main() -> None:
        app = web.Application()
        api.register(app)
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            await scenario(client)

    asyncio.run(main())


async def get_json(client: TestClient, path: str, status: int = 200, **kwargs: Any) -> Any:
    response = await client.get(path, **kwargs)
    assert response.status == status, (path, response.status, await response.text())
    assert response.content_type == "application/json", path
    return await response.json()


async def assert_error(client: TestClient, method: str, path: str, status: int, **kwargs: Any) -> str:
    response = await client.request(method, path, **kwargs)
    assert response.status == status, (path, response.status, await response.text())
    assert response.content_type == "application/json", path
    body = await response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
    return body["error"]


def test_health_and_readiness(world):
    async def scenario(client: TestClient) -> None:
        assert await get_json(client, "/health") == {"status": "ok"}
        world.not_ready.append("recovering tables")
        body = await get_json(client, "/ready", 503)
        assert body["ready"] is False and body["waiting_for"] == ["recovering tables"]
        assert await get_json(client, "/health") == {"status": "ok"}  # alive while not ready
        assert (await get_json(client, "/ready?scope=web"))["ready"] is True  # the API answers meanwhile
        world.not_ready.clear()
        assert (await get_json(client, "/ready"))["ready"] is True
        world.not_ready.append("reading the mirror topics")
        assert (await get_json(client, "/ready?scope=web", 503))["scope"] == "web"
        assert "scope" in (await get_json(client, "/ready?scope=nonsense", 400))["error"]

    serve(world.api(), scenario)


def test_not_ready_answer_carries_an_error_message(world):
    async def scenario(client: TestClient) -> None:
        world.not_ready.append("joining the consumer group")
        body = await get_json(client, "/ready", 503)
        assert isinstance(body.get("error"), str) and body["error"]

    serve(world.api(), scenario)


def test_models_list(world):
    async def scenario(client: TestClient) -> None:
        models = (await get_json(client, "/api/v1/models"))["models"]
        assert [(m["model"], m["version"], m["events_total"], m["status"]) for m in models] == [
            ("churn", "default", 12, "baseline"), ("fraud", "1", 40, "ok"), ("fraud", "2", 7, "ok")]
        for m in models:
            assert {"model", "version", "status", "events_total", "last_window_end"} <= set(m)

    serve(world.api(), scenario)


def test_one_model(world):
    async def scenario(client: TestClient) -> None:
        newest = await get_json(client, "/api/v1/models/fraud")
        assert (newest["version"], newest["events_total"]) == ("2", 7)  # the most recently updated version
        assert newest["versions"] == ["2", "1"]
        assert newest["last_window"] is None  # version 2 has no closed window yet
        one = await get_json(client, "/api/v1/models/fraud", params={"version": "1"})
        assert (one["version"], one["events_total"], one["status"]) == ("1", 40, "ok")
        assert one["open_window"]["events"] == 3
        assert one["last_window"]["window_start_s"] == T0 + 20 and one["last_window"]["events"] == 21
        assert "nobody" in await assert_error(client, "GET", "/api/v1/models/nobody", 404)
        await assert_error(client, "GET", "/api/v1/models/fraud?version=9", 404)
        await assert_error(client, "GET", "/api/v1/models/nobody/windows", 404)
        await assert_error(client, "GET", "/no/such/page", 404)

    serve(world.api(), scenario)


def test_windows_newest_first_with_limit(world):
    async def scenario(client: TestClient) -> None:
        path = "/api/v1/models/fraud/windows"
        windows = (await get_json(client, path, params={"version": "1"}))["windows"]
        assert [w["window_start_s"] for w in windows] == [T0 + 20, T0 + 10, T0]
        assert [w["events"] for w in windows] == [21, 11, 1]
        limited = (await get_json(client, path, params={"version": "1", "limit": "2"}))["windows"]
        assert [w["window_start_s"] for w in limited] == [T0 + 20, T0 + 10]
        for bad in ("abc", "0", "-1", "2.5", "100000"):
            assert "limit" in await assert_error(client, "GET", f"{path}?version=1&limit={bad}", 400)

    serve(world.api(), scenario)


def test_alerts_filtered_newest_first(world):
    async def scenario(client: TestClient) -> None:
        every = (await get_json(client, "/api/v1/alerts"))["alerts"]
        assert [(a["model"], a["kind"]) for a in every] == [
            ("fraud", "data_drift_detected"), ("fraud", "latency_high"), ("churn", "data_drift_detected"),
            ("fraud", "data_drift_detected")]
        assert len({a["id"] for a in every}) == 4  # the repeated id was dropped
        fraud = (await get_json(client, "/api/v1/alerts", params={"model": "fraud"}))["alerts"]
        assert [a["window_start"] for a in fraud] == ["w3", "w2", "w0"]
        drift = (await get_json(client, "/api/v1/alerts", params={"model": "fraud", "kind": "data_drift_detected"}))
        assert [a["window_start"] for a in drift["alerts"]] == ["w3", "w0"]
        assert set(drift["alerts"][0]) >= {"id", "kind", "severity", "model", "version", "window_start",
                                           "window_end", "subject", "value", "threshold", "message", "details",
                                           "created_at"}
        latest = (await get_json(client, "/api/v1/alerts", params={"limit": "1"}))["alerts"]
        assert [a["window_start"] for a in latest] == ["w3"]
        assert (await get_json(client, "/api/v1/alerts", params={"kind": "data_missing"}))["alerts"] == []
        await assert_error(client, "GET", "/api/v1/alerts?limit=abc", 400)

    serve(world.api(), scenario)


def test_reference_get_and_put(world):
    async def scenario(client: TestClient) -> None:
        path = "/api/v1/models/fraud/reference"
        assert "fraud" in await assert_error(client, "GET", path, 404)
        body = profile("fraud")
        response = await client.put(path, data=body, headers={"Content-Type": "application/json"})
        assert response.status == 200, await response.text()
        assert (await response.json()) == {"published": "fraud", "columns": 2}
        assert world.published == [("references", b"fraud", body)]
        response = await client.put(path, params={"version": "3"}, data=body)
        assert (await response.json())["published"] == "fraud:3"
        assert world.published[-1][:2] == ("references", b"fraud:3")
        # The registry learns of it from the references topic, then GET answers it.
        world.registry.handle_record(b"fraud", body, T0)
        response = await client.get(path)
        assert response.status == 200 and response.content_type == "application/json"
        assert await response.read() == body
        assert await (await client.get(path, params={"version": "7"})).read() == body  # model-wide fallback

    serve(world.api(), scenario)


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"format": "streamer.reference/1"}',
                                  b'{"format": "other"}'])
def test_reference_put_with_a_bad_body_is_a_400(world, body):
    async def scenario(client: TestClient) -> None:
        await assert_error(client, "PUT", "/api/v1/models/fraud/reference", 400, data=body)
        assert world.published == []

    serve(world.api(), scenario)


def test_reference_put_for_another_model_is_a_400(world):
    async def scenario(client: TestClient) -> None:
        message = await assert_error(client, "PUT", "/api/v1/models/fraud/reference", 400, data=profile("churn"))
        assert "churn" in message
        assert world.published == []

    serve(world.api(), scenario)


def test_reference_put_with_a_corrupt_quantile_sketch_is_a_400(world):
    doc = orjson.loads(profile("fraud"))
    doc["features"]["x"]["quantile_sketch"] = "Z2FyYmFnZQ=="  # base64 of b"garbage"

    async def scenario(client: TestClient) -> None:
        await assert_error(client, "PUT", "/api/v1/models/fraud/reference", 400, data=orjson.dumps(doc))

    serve(world.api(), scenario)


def test_bearer_token_guards_the_api(world):
    async def scenario(client: TestClient) -> None:
        for path in ("/api/v1/models", "/api/v1/models/fraud", "/api/v1/alerts", "/api/v1/models/fraud/reference"):
            await assert_error(client, "GET", path, 401)
            await assert_error(client, "GET", path, 401, headers={"Authorization": "Bearer wrong"})
            await assert_error(client, "GET", path, 401, headers={"Authorization": TOKEN})
        await assert_error(client, "PUT", "/api/v1/models/fraud/reference", 401, data=profile("fraud"))
        assert world.published == []
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert len((await get_json(client, "/api/v1/models", headers=good))["models"]) == 3
        assert (await get_json(client, "/api/v1/models/fraud", headers=good))["model"] == "fraud"
        # Outside /api/ no token is needed.
        assert await get_json(client, "/health") == {"status": "ok"}
        assert (await client.get("/metrics")).status == 200
        assert (await client.get("/")).status == 200

    serve(world.api(TOKEN), scenario)


def test_metrics_are_prometheus_text(world):
    async def scenario(client: TestClient) -> None:
        response = await client.get("/metrics")
        assert response.status == 200 and response.content_type == "text/plain"
        text = await response.text()
        assert "streamer_messages_total 7.0" in text.splitlines()  # prometheus_client writes floats
        assert "streamer_rows_accepted_total 5.0" in text.splitlines()
        assert 'streamer_model_events_total{model="fraud",version="1"} 40.0' in text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(text) for s in family.samples}
        assert samples[("streamer_model_status", (("model", "churn"), ("status", "baseline"), ("version", "default")))] == 1
        for line in text.splitlines():
            if line.startswith("#"):
                assert line.split()[2].startswith("streamer_"), line
            else:
                assert line.startswith("streamer_"), line
                float(line.rsplit(" ", 1)[1])

    serve(world.api(), scenario)


def test_dashboard_is_html(world):
    async def scenario(client: TestClient) -> None:
        response = await client.get("/")
        assert response.status == 200 and response.content_type == "text/html"
        text = await response.text()
        assert text.lstrip().lower().startswith("<!doctype html") and "</html>" in text

    serve(world.api(), scenario)


def test_reference_without_version_answers_the_newest_versions_profile(world):
    async def scenario(client: TestClient) -> None:
        path = "/api/v1/models/fraud/reference"
        v1, v2 = profile("fraud", "1"), profile("fraud", "2")
        world.registry.handle_record(b"fraud:1", v1, T0)
        await assert_error(client, "GET", path, 404)  # the newest version, 2, has no profile yet
        world.registry.handle_record(b"fraud:2", v2, T0)
        response = await client.get(path)
        assert response.status == 200 and await response.read() == v2  # fraud's newest version is 2
        assert await (await client.get(path, params={"version": "1"})).read() == v1
        # A model that has sent nothing yet: its only versioned profile.
        world.registry.handle_record(b"fresh:1", profile("fresh", "1"), T0)
        assert (await client.get("/api/v1/models/fresh/reference")).status == 200
        await assert_error(client, "GET", "/api/v1/models/other/reference", 404)

    serve(world.api(), scenario)


@pytest.mark.parametrize("group, name, field, bad", [
    ("features", "x", "missing", b"-1"), ("features", "x", "count", b"-1"), ("outputs", "prediction", "missing", b"-3"),
    ("features", "x", "missing", b"true"), ("features", "x", "count", b"1000000000000000000000000000000")])
def test_reference_put_with_negative_or_huge_counts_is_a_400(world, group, name, field, bad):
    doc = orjson.loads(profile("fraud"))
    doc[group][name][field] = "BAD"
    body = orjson.dumps(doc).replace(b'"BAD"', bad)

    async def scenario(client: TestClient) -> None:
        await assert_error(client, "PUT", "/api/v1/models/fraud/reference", 400, data=body)
        assert world.published == []

    serve(world.api(), scenario)
