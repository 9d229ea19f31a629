"""What each HTTP handler answers, declared for the OpenAPI description (CONTRACT 6).

Field names are the contract's; every object allows more fields than it lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamer.web.openapi import ERROR, NULLABLE_STRING, TEXT, Operation, Param, array, obj

STATIC_DIR = Path(__file__).parent / "static"  # the dashboard's HTML, JS and CSS (package data)
STATIC_FILES = tuple(sorted(p.name for p in STATIC_DIR.iterdir() if p.suffix in (".js", ".css", ".html")))
NUMBER_OR_NULL: dict[str, Any] = {"type": "number", "nullable": True}
MODEL = Param("model", "path", "the model's name")
VERSION = Param("version", "query", "a version of the model; absent: its most recently updated version")
LIMIT = Param("limit", "query", "how many, newest first", {"type": "integer", "minimum": 1, "maximum": 10000})
NOT_FOUND = ("no such model or version", ERROR)
BAD = ("a parameter is malformed", ERROR)

LATENCY = {"type": "object", "additionalProperties": True,
           "properties": {k: NUMBER_OR_NULL for k in ("p50", "p90", "p95", "p99", "max")}}
WINDOW = obj(
    ("window_start", "window_end", "events", "status"),
    model={"type": "string"}, version={"type": "string"}, window_start=TEXT, window_end=TEXT,
    window_start_s={"type": "number"}, window_end_s={"type": "number"}, events={"type": "integer"},
    errors={"type": "integer"}, error_rate=NUMBER_OR_NULL, throughput_per_s=NUMBER_OR_NULL, latency_ms=LATENCY,
    status=TEXT, reference=NULLABLE_STRING,
    features={"type": "object", "additionalProperties": obj(), "description": "per-feature statistics and drift"},
    outputs={"type": "object", "additionalProperties": obj(), "description": "per-output statistics and drift"},
    drift={**obj(drifted_share={"type": "number"}, drifted_features=array(TEXT)), "nullable": True},
    performance={**obj(labelled={"type": "integer"}), "nullable": True},
    performance_estimate={**obj(), "nullable": True},
)
LAST_ALERT = {**obj(("kind", "severity", "created_at"), kind=TEXT, severity=TEXT, message=NULLABLE_STRING,
                    created_at=TEXT), "nullable": True}
MODEL_ROW = obj(
    ("model", "version", "status", "events_total", "last_window_end"),
    model=TEXT, version=TEXT, status={"type": "string", "enum": ["ok", "warning", "critical", "baseline", "no_data"]},
    events_total={"type": "integer"}, late_events={"type": "integer", "nullable": True},
    last_window_end=NULLABLE_STRING, last_event_at=NULLABLE_STRING, reference=NULLABLE_STRING,
    updated_at=NULLABLE_STRING, recent_events=array({"type": "integer"}), drifted_features=array(TEXT),
    open_alerts={"type": "integer"}, last_alert=LAST_ALERT,
    active_alerts={**array(obj(("kind", "id"), kind=TEXT, subject=NULLABLE_STRING, id=TEXT)), "nullable": True},
)
ALERT = obj(
    ("id", "kind", "severity", "model", "version", "window_start", "window_end", "subject", "value", "threshold",
     "message", "details", "created_at"),
    id=TEXT, kind=TEXT, severity=TEXT, model=TEXT, version=TEXT, window_start=NULLABLE_STRING,
    window_end=NULLABLE_STRING, subject=NULLABLE_STRING, value=NUMBER_OR_NULL, threshold=NUMBER_OR_NULL,
    message=TEXT, details=obj(), created_at=TEXT,
)
NUMERIC_COLUMN = obj(("kind", "count", "missing", "edges", "counts", "mean", "std"), kind={"type": "string", "enum": ["numeric"]},
                     count={"type": "integer", "minimum": 0}, missing={"type": "integer", "minimum": 0},
                     edges=array({"type": "number"}), mlrun_edges=array({"type": "number"}),
                     counts=array({"type": "integer", "minimum": 0}), quantile_sketch=TEXT,
                     mean={"type": "number"}, std={"type": "number"})
CATEGORICAL_COLUMN = obj(("kind", "counts", "missing"), kind={"type": "string", "enum": ["categorical"]},
                         count={"type": "integer", "minimum": 0}, missing={"type": "integer", "minimum": 0},
                         counts={"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                         other={"type": "integer", "minimum": 0})
COLUMNS = {"type": "object", "additionalProperties": {"oneOf": [NUMERIC_COLUMN, CATEGORICAL_COLUMN]}}
PROFILE = obj(("format", "model", "features", "outputs"),
              format={"type": "string", "enum": ["streamer.reference/1"]}, model=TEXT, version=NULLABLE_STRING,
              rows={"type": "integer"}, features=COLUMNS, outputs=COLUMNS)
READY = obj(("ready", "scope", "waiting_for"), ready={"type": "boolean"}, scope=TEXT, waiting_for=array(TEXT),
            view_as_of=NULLABLE_STRING, error=TEXT)

DASHBOARD = Operation("The dashboard (HTML); /?model=M opens model M's page",
                      {200: ("the page", TEXT)}, (Param("model", "query", "open this model's page"),
                                                  VERSION), content_type="text/html")
STATIC = Operation("The dashboard's static files (JavaScript, CSS)", {200: ("the file", TEXT), 404: ("no such file", ERROR)},
                   (Param("name", "path", "the file's name", {"type": "string", "enum": list(STATIC_FILES)}),), content_type=("text/javascript", "text/css", "text/html"))
HEALTH = Operation("Liveness: ok while the process lives", {200: ("alive", obj(("status",), status=TEXT))})
READY_OP = Operation(
    "Readiness as a worker (partitions and tables) or, with scope=web, to answer the API",
    {200: ("ready", READY), 503: ("not ready yet", READY), 400: BAD},
    (Param("scope", "query", "worker (default) or web", {"type": "string", "enum": ["worker", "web"]}),))
METRICS = Operation("Prometheus text exposition, metric names prefixed streamer_",
                    {200: ("the metrics", TEXT)}, content_type="text/plain")
OPENAPI = Operation("This OpenAPI description", {200: ("the description", obj(("openapi", "paths")))},
                    needs_token=True)
MODELS = Operation("Every model and version with its status",
                   {200: ("the models", obj(("models",), models=array(MODEL_ROW), view_as_of=NULLABLE_STRING))},
                   needs_token=True)
MODEL_OP = Operation(
    "One model: its open window and last closed window",
    {200: ("the model", {**MODEL_ROW, "required": ["model", "version", "status", "events_total"],
                         "properties": {**MODEL_ROW["properties"], "versions": array(TEXT),
                                        "open_window": {**obj(), "nullable": True},
                                        "last_window": {**WINDOW, "nullable": True}}}),
     404: NOT_FOUND}, (MODEL, VERSION), needs_token=True)
WINDOWS = Operation("Closed-window summaries, newest first",
                    {200: ("the windows", obj(("windows",), windows=array(WINDOW))), 400: BAD, 404: NOT_FOUND},
                    (MODEL, VERSION, LIMIT), needs_token=True)
ALERTS = Operation("Recent alerts (CONTRACT 4.4), newest first, each with where it was delivered",
                   {200: ("the alerts", obj(("alerts",), alerts=array(ALERT))), 400: BAD},
                   (Param("model", "query", "only this model's"), Param("kind", "query", "only this kind"),
                    Param("open", "query", "true: only alerts no resolved alert names yet",
                          {"type": "string", "enum": ["true", "false"]}), LIMIT),
                   needs_token=True)
DELIVERY = obj(("alert_id", "channel", "status"), alert_id=TEXT, channel=TEXT, status=TEXT, model=NULLABLE_STRING,
               kind=NULLABLE_STRING, attempts={"type": "integer"}, at=NULLABLE_STRING, error=NULLABLE_STRING,
               next_retry_at=NULLABLE_STRING)
NOTIFICATIONS = Operation(
    "Recent notification deliveries, deliveries waiting for a retry, failures and a summary per channel",
    {200: ("the deliveries", obj(("deliveries", "retrying", "failures", "channels"), deliveries=array(DELIVERY),
                                 retrying=array(DELIVERY), failures=array(DELIVERY),
                                 channels={"type": "object", "additionalProperties": obj()},
                                 configured={"type": "boolean", "description": "false: no channel is configured"})),
     400: BAD},
    (LIMIT, Param("status", "query", "only deliveries with this status"),
     Param("channel", "query", "only this channel's"), Param("model", "query", "only this model's")),
    needs_token=True)
WORKER = Operation("This replica's counters (dead letters by reason, refused models, dropped features) and limits",
                   {200: ("the counters and limits", obj(("counters", "limits"), counters=obj(), limits=obj(),
                                                         models_with_state={"type": "integer"}))},
                   needs_token=True)
REFERENCE_GET = Operation(
    "The reference profile that applies to a version (absent: the model's newest version)",
    {200: ("the profile", PROFILE), 404: ("no profile applies", ERROR)},
    (MODEL, Param("version", "query", "the version whose profile to answer")), needs_token=True)
REFERENCE_PUT = Operation(
    "Publish a reference profile to the references topic",
    {200: ("published", obj(("published", "columns"), published=TEXT, columns={"type": "integer"})),
     400: ("not a profile of this model", ERROR)},
    (MODEL, Param("version", "query", "publish for this version only", {"type": "string", "minLength": 1})),
    request_body=PROFILE, needs_token=True)
