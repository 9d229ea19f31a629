"""The HTTP API (CONTRACT 6) as plain aiohttp handlers over the replica's cluster view.

Everything here reads in-memory views that every replica keeps of the whole cluster, so any
replica answers for every model. Errors are JSON ``{"error": ...}``, never a traceback.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from streamer.errors import ReferenceProfileError
from streamer.events.timestamps import format_timestamp
from streamer.notify.log import NotificationLog
from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry
from streamer.web import schemas
from streamer.web.cluster_view import AlertLog, StatusBoard, WindowHistory
from streamer.web.openapi import build_openapi, describe
from streamer.web.overview import alert_overview, recent_windows
from streamer.web.schemas import STATIC_DIR, STATIC_FILES

log = logging.getLogger(__name__)
MODEL_FIELDS = ("model", "version", "status", "events_total", "late_events", "last_window_end", "last_event_at",
                "reference", "updated_at", "active_alerts")


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status=status,
                        content_type="application/json")


def error(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


def _limit(request: web.Request, default: int = 50, maximum: int = 10000) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise web.HTTPBadRequest(body=orjson.dumps({"error": f"limit must be a whole number from 1 to {maximum}"}),
                                 content_type="application/json")
    return int(raw)


@dataclass
class Api:
    api_token: str | None
    topic_references: str
    status: StatusBoard
    history: WindowHistory
    alerts: AlertLog
    registry: ReferenceRegistry
    readiness: Callable[[str], list[str]]  # reasons not to be ready, for a scope ("worker", "web"); empty when ready
    metrics: Callable[[], str]
    publish: Callable[[str, bytes, bytes], Awaitable[None]]  # (topic, key, value)
    view_fetched_at_s: Callable[[], float | None] = lambda: None  # when this replica's view last heard the cluster
    worker: Callable[[], dict[str, Any]] | None = None  # this replica's counters and limits
    notifications: NotificationLog | None = None

    def register(self, app: web.Application) -> None:
        app.middlewares.append(self._errors_and_auth)
        router = app.router
        router.add_get("/", self.dashboard)
        router.add_get("/static/{name}", self.static_file)
        router.add_get("/health", self.health)
        router.add_get("/ready", self.ready)
        router.add_get("/metrics", self.prometheus)
        router.add_get("/api/v1/models", self.list_models)
        router.add_get("/api/v1/models/{model}", self.get_model)
        router.add_get("/api/v1/models/{model}/windows", self.get_windows)
        router.add_get("/api/v1/models/{model}/reference", self.get_reference)
        router.add_put("/api/v1/models/{model}/reference", self.put_reference)
        router.add_get("/api/v1/alerts", self.list_alerts)
        router.add_get("/api/v1/worker", self.get_worker)
        router.add_get("/api/v1/notifications", self.list_notifications)
        router.add_get("/api/v1/openapi.json", self.openapi)
        self._app = app

    @web.middleware
    async def _errors_and_auth(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        if self.api_token and request.path.startswith("/api/"):
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.api_token}".encode()):
                return error(401, "missing or wrong bearer token")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.content_type == "application/json":
                raise
            answer = error(exc.status, exc.reason)
            if "Allow" in exc.headers:  # a 405 names the methods that are allowed (RFC 9110)
                answer.headers["Allow"] = exc.headers["Allow"]
            return answer
        except Exception:
            log.exception("error answering %s %s", request.method, request.path)
            return error(500, "internal error; see the worker's log")

    @describe(schemas.DASHBOARD)
    async def dashboard(self, request: web.Request) -> web.Response:
        # The page learns whether to ask for a token before its first API call (no 401 in the console).
        page = (STATIC_DIR / "index.html").read_text().replace("__AUTH__", "required" if self.api_token else "open")
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})

    @describe(schemas.STATIC)
    async def static_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:  # only the files shipped, never a path
            return error(404, f"no static file {name!r}")
        media = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}[Path(name).suffix]
        return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache", "Content-Type": media})

    @describe(schemas.OPENAPI)
    async def openapi(self, request: web.Request) -> web.Response:
        return json_response(build_openapi(self._app, "streamer", package_version("streamer"), bool(self.api_token)))

    @describe(schemas.HEALTH)
    async def health(self, request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    def _view_as_of(self) -> str | None:
        fetched_at_s = self.view_fetched_at_s()
        return None if fetched_at_s is None else format_timestamp(fetched_at_s)

    @describe(schemas.READY_OP)
    async def ready(self, request: web.Request) -> web.Response:
        """Ready as a worker (partitions and tables), or with ``?scope=web`` ready to answer the API."""
        scope = request.query.get("scope", "worker")
        if scope not in ("worker", "web"):
            return error(400, "scope must be 'worker' or 'web'")
        reasons = self.readiness(scope)
        if reasons:
            return json_response({"error": "not ready: " + "; ".join(reasons), "ready": False, "scope": scope,
                                  "waiting_for": reasons}, 503)
        return json_response({"ready": True, "scope": scope, "waiting_for": [], "view_as_of": self._view_as_of()})

    @describe(schemas.METRICS)
    async def prometheus(self, request: web.Request) -> web.Response:
        return web.Response(text=self.metrics(), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    @describe(schemas.WORKER)
    async def get_worker(self, request: web.Request) -> web.Response:
        """This replica's counters (dead letters by reason, refused models, dropped features) and limits."""
        return json_response(self.worker() if self.worker is not None else {})

    @describe(schemas.MODELS)
    async def list_models(self, request: web.Request) -> web.Response:
        boards = sorted(self.status.models.items())
        alerts = alert_overview(self.alerts.alerts, {key: doc.get("last_window_end") for key, doc in boards})
        models = [{**{k: doc.get(k) for k in MODEL_FIELDS},
                   **recent_windows(self.history.briefs.get(key, {}).values()),
                   **alerts.get(key, {"open_alerts": 0, "last_alert": None})} for key, doc in boards]
        return json_response({"models": models, "view_as_of": self._view_as_of()})

    def _versions(self, model: str) -> list[dict[str, Any]]:
        found = [doc for (name, _), doc in self.status.models.items() if name == model]
        if not found:
            raise web.HTTPNotFound(body=orjson.dumps({"error": f"no model {model!r} has sent events"}),
                                   content_type="application/json")
        return sorted(found, key=lambda doc: doc.get("updated_at_s", 0), reverse=True)

    def _pick(self, request: web.Request) -> dict[str, Any]:
        model = request.match_info["model"]
        versions = self._versions(model)
        wanted = request.query.get("version")
        if wanted is None:
            return versions[0]
        for doc in versions:
            if doc["version"] == wanted:
                return doc
        raise web.HTTPNotFound(body=orjson.dumps({"error": f"model {model!r} has no version {wanted!r}"}),
                               content_type="application/json")

    @describe(schemas.MODEL_OP)
    async def get_model(self, request: web.Request) -> web.Response:
        doc = self._pick(request)
        last = self.history.newest(doc["model"], doc["version"], 1)
        open_windows = doc.get("open_windows") or []
        return json_response({
            **{k: doc.get(k) for k in MODEL_FIELDS},
            "versions": [d["version"] for d in self._versions(doc["model"])],
            "open_window": open_windows[-1] if open_windows else None,
            "last_window": last[0] if last else None,
        })

    @describe(schemas.WINDOWS)
    async def get_windows(self, request: web.Request) -> web.Response:
        doc = self._pick(request)
        return json_response({"windows": self.history.newest(doc["model"], doc["version"], _limit(request))})

    @describe(schemas.ALERTS)
    async def list_alerts(self, request: web.Request) -> web.Response:
        """Recent alerts; ``open=true`` keeps those not yet resolved; each says where it was delivered."""
        only_open = request.query.get("open", "false")
        if only_open not in ("true", "false"):
            return error(400, "open must be true or false")
        found = self.alerts.query(request.query.get("model"), request.query.get("kind"), _limit(request),
                                  only_open=only_open == "true")
        if self.notifications is not None:
            found = [{**alert, "deliveries": self.notifications.deliveries_of(alert["id"])} for alert in found]
        return json_response({"alerts": found})

    @describe(schemas.NOTIFICATIONS)
    async def list_notifications(self, request: web.Request) -> web.Response:
        """Recent delivery outcomes, deliveries waiting for a retry, failures and a summary per channel."""
        limit, query = _limit(request), request.query
        if self.notifications is None:  # no channel configured: nothing is delivered, nothing to show
            return json_response({"configured": False, "deliveries": [], "retrying": [], "failures": [],
                                  "channels": {}})
        return json_response({"configured": True, **self.notifications.query(
            limit, query.get("status"), query.get("channel"), query.get("model"))})

    @describe(schemas.REFERENCE_GET)
    async def get_reference(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        version = request.query.get("version")
        if version is None:
            # The profile that applies to the newest version, as the pipeline would look it up; a model
            # that has sent nothing yet falls back to its model-wide profile, then to any versioned one.
            newest = [d["version"] for (name, _), d in self.status.models.items() if name == model]
            if newest:
                version = self._versions(model)[0]["version"]
            elif self.registry.document(model, None) is None and self.registry.versions(model):
                version = self.registry.versions(model)[-1]
        document = self.registry.document(model, version)
        if document is None:
            return error(404, f"no reference profile registered for {model!r}")
        return web.Response(body=document, content_type="application/json")

    @describe(schemas.REFERENCE_PUT)
    async def put_reference(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        body = await request.read()
        try:
            profile = ReferenceProfile.from_json(body)
        except ReferenceProfileError as exc:
            return error(400, str(exc))
        version = request.query.get("version", profile.version)
        if version == "":
            return error(400, "version must not be empty")
        if profile.model != model:
            return error(400, f"the profile is for model {profile.model!r}, not {model!r}")
        key = model if version is None else f"{model}:{version}"
        await self.publish(self.topic_references, key.encode(), body)
        return json_response({"published": key, "columns": len(profile.features) + len(profile.outputs)})
