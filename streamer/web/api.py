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
from streamer.web import answers as a
from streamer.web.cluster_view import AlertLog, StatusBoard, WindowHistory
from streamer.web.openapi import build_openapi, check_answer, endpoint, endpoints, parse
from streamer.web.overview import alert_overview, recent_windows

try:  # the text format's own media type; newer prometheus_client calls LATEST the 1.0.0 one
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4 as PROMETHEUS_TEXT
except ImportError:  # pragma: no cover - prometheus_client before 0.22
    from prometheus_client.exposition import CONTENT_TYPE_LATEST as PROMETHEUS_TEXT

log = logging.getLogger(__name__)
MODEL_FIELDS = ("model", "version", "status", "events_total", "late_events", "last_window_end", "last_event_at",
                "reference", "updated_at", "active_alerts")


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status=status,
                        content_type="application/json")


def error(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


NOT_FOUND = ("no such model or version", a.Error)
BAD = ("a parameter is malformed", a.Error)


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
    check_answers: bool = False  # validate every answer against its declared model (tests; costs time)

    def register(self, app: web.Application) -> None:
        """Routes from the handlers' ``@endpoint`` declarations, so the description lists exactly these."""
        app.middlewares.append(self._errors_and_auth)
        for declared, handler in endpoints(self):
            if declared.method == "GET":
                app.router.add_get(declared.path, handler)
            else:
                app.router.add_route(declared.method, declared.path, handler)
        self._app = app
        self._openapi: bytes | None = None

    @web.middleware
    async def _errors_and_auth(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        if self.api_token and request.path.startswith("/api/"):
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.api_token}".encode()):
                return error(401, "missing or wrong bearer token")
        try:
            answer: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            if exc.content_type == "application/json":
                answer = web.Response(body=exc.body, status=exc.status, content_type="application/json")
            else:
                answer = error(exc.status, exc.reason)
                if "Allow" in exc.headers:  # a 405 names the methods that are allowed (RFC 9110)
                    answer.headers["Allow"] = exc.headers["Allow"]
        except Exception:
            log.exception("error answering %s %s", request.method, request.path)
            return error(500, "internal error; see the worker's log")
        if self.check_answers:
            try:
                check_answer(request, answer)
            except ValueError as exc:
                log.error("%s", exc)
                return error(500, str(exc))
        return answer

    @endpoint("GET", "/", "The dashboard (HTML); /?model=M opens model M's page", {200: ("the page", None)},
              query=a.DashboardQuery, media=("text/html",))
    async def dashboard(self, request: web.Request) -> web.Response:
        # The page learns whether to ask for a token before its first API call (no 401 in the console).
        page = (a.STATIC_DIR / "index.html").read_text().replace("__AUTH__", "required" if self.api_token else "open")
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})

    @endpoint("GET", "/static/{name}", "The dashboard's static files (JavaScript, CSS)",
              {200: ("the file", None), 404: ("no such file", a.Error)}, path_params=a.StaticPath,
              media=("text/javascript", "text/css", "text/html"))
    async def static_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in a.STATIC_FILES:  # only the files shipped, never a path
            return error(404, f"no static file {name!r}")
        media = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}[Path(name).suffix]
        return web.FileResponse(a.STATIC_DIR / name, headers={"Cache-Control": "no-cache", "Content-Type": media})

    @endpoint("GET", "/api/v1/openapi.json", "This OpenAPI description",
              {200: ("the description", a.OpenApiDocument)}, needs_token=True)
    async def openapi(self, request: web.Request) -> web.Response:
        if self._openapi is None:  # the routes are fixed once the app runs: generate once
            self._openapi = orjson.dumps(build_openapi(self._app, "streamer", package_version("streamer"),
                                                       bool(self.api_token)))
        return web.Response(body=self._openapi, content_type="application/json")

    @endpoint("GET", "/health", "Liveness: ok while the process lives", {200: ("alive", a.Health)})
    async def health(self, request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    def _view_as_of(self) -> str | None:
        fetched_at_s = self.view_fetched_at_s()
        return None if fetched_at_s is None else format_timestamp(fetched_at_s)

    @endpoint("GET", "/ready", "Readiness as a worker (partitions and tables) or, with scope=web, to answer the API",
              {200: ("ready", a.Readiness), 503: ("not ready yet", a.Readiness), 400: BAD}, query=a.ReadyQuery)
    async def ready(self, request: web.Request) -> web.Response:
        """Ready as a worker (partitions and tables), or with ``?scope=web`` ready to answer the API."""
        scope = parse(request, a.ReadyQuery).scope
        reasons = self.readiness(scope)
        if reasons:
            return json_response({"error": "not ready: " + "; ".join(reasons), "ready": False, "scope": scope,
                                  "waiting_for": reasons}, 503)
        return json_response({"ready": True, "scope": scope, "waiting_for": [], "view_as_of": self._view_as_of()})

    @endpoint("GET", "/metrics", "Prometheus text exposition, metric names prefixed streamer_",
              {200: ("the metrics", None)}, media=("text/plain",))
    async def prometheus(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics().encode(),
                            headers={"Content-Type": PROMETHEUS_TEXT, "X-Content-Type-Options": "nosniff"})

    @endpoint("GET", "/api/v1/worker",
              "This replica's counters (dead letters by reason, refused models, dropped features) and limits",
              {200: ("the counters and limits", a.WorkerReport)}, needs_token=True)
    async def get_worker(self, request: web.Request) -> web.Response:
        """This replica's counters (dead letters by reason, refused models, dropped features) and limits."""
        return json_response(self.worker() if self.worker is not None else {"counters": {}, "limits": {}})

    @endpoint("GET", "/api/v1/models", "Every model and version with its status", {200: ("the models", a.ModelList)},
              needs_token=True)
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
        wanted = parse(request, a.ModelQuery).version
        if wanted is None:
            return versions[0]
        for doc in versions:
            if doc["version"] == wanted:
                return doc
        raise web.HTTPNotFound(body=orjson.dumps({"error": f"model {model!r} has no version {wanted!r}"}),
                               content_type="application/json")

    @endpoint("GET", "/api/v1/models/{model}", "One model: its open window and last closed window",
              {200: ("the model", a.ModelDetail), 404: NOT_FOUND}, path_params=a.ModelPath,
              query=a.ModelQuery, needs_token=True)
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

    @endpoint("GET", "/api/v1/models/{model}/windows", "Closed-window summaries, newest first",
              {200: ("the windows", a.WindowList), 400: BAD, 404: NOT_FOUND}, path_params=a.ModelPath,
              query=a.WindowsQuery, needs_token=True)
    async def get_windows(self, request: web.Request) -> web.Response:
        limit = parse(request, a.WindowsQuery).limit
        doc = self._pick(request)
        # The summaries are kept as the JSON they arrived in: splice them, parsing 60 to dump them again
        # was most of this answer's time.
        stored = self.history.newest_json(doc["model"], doc["version"], limit)
        return web.Response(body=b'{"windows":[' + b",".join(stored) + b"]}", content_type="application/json")

    @endpoint("GET", "/api/v1/alerts", "Recent alerts (CONTRACT 4.4), newest first, each with where it was delivered",
              {200: ("the alerts", a.AlertList), 400: BAD}, query=a.AlertsQuery, needs_token=True)
    async def list_alerts(self, request: web.Request) -> web.Response:
        """Recent alerts; ``open=true`` keeps those not yet resolved; each says where it was delivered."""
        query = parse(request, a.AlertsQuery)
        found = self.alerts.query(query.model, query.kind, query.limit, only_open=query.open == "true")
        if self.notifications is not None:
            found = [{**alert, "deliveries": self.notifications.deliveries_of(alert["id"])} for alert in found]
        return json_response({"alerts": found})

    @endpoint("GET", "/api/v1/notifications",
              "Recent notification deliveries, deliveries waiting for a retry, failures and a summary per channel",
              {200: ("the deliveries", a.Notifications), 400: BAD}, query=a.NotificationsQuery, needs_token=True)
    async def list_notifications(self, request: web.Request) -> web.Response:
        """Recent delivery outcomes, deliveries waiting for a retry, failures and a summary per channel."""
        query = parse(request, a.NotificationsQuery)
        if self.notifications is None:  # no channel configured: nothing is delivered, nothing to show
            return json_response({"configured": False, "deliveries": [], "retrying": [], "failures": [],
                                  "channels": {}})
        return json_response({"configured": True, **self.notifications.query(
            query.limit, query.status, query.channel, query.model)})

    @endpoint("GET", "/api/v1/models/{model}/reference",
              "The reference profile that applies to a version (absent: the model's newest version)",
              {200: ("the profile", a.Profile), 404: ("no profile applies", a.Error)}, path_params=a.ModelPath,
              query=a.ReferenceQuery, needs_token=True)
    async def get_reference(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        version = parse(request, a.ReferenceQuery).version
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

    @endpoint("PUT", "/api/v1/models/{model}/reference", "Publish a reference profile to the references topic",
              {200: ("published", a.Published), 400: ("not a profile of this model", a.Error)},
              path_params=a.ModelPath, query=a.PublishQuery, body=a.Profile, needs_token=True)
    async def put_reference(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        wanted = parse(request, a.PublishQuery).version
        body = await request.read()
        try:
            profile = ReferenceProfile.from_json(body)
        except ReferenceProfileError as exc:
            return error(400, str(exc))
        version = profile.version if wanted is None else wanted
        if profile.model != model:
            return error(400, f"the profile is for model {profile.model!r}, not {model!r}")
        key = model if version is None else f"{model}:{version}"
        await self.publish(self.topic_references, key.encode(), body)
        return json_response({"published": key, "columns": len(profile.features) + len(profile.outputs)})
