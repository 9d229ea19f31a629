"""What the HTTP API answers and accepts (CONTRACT 6), as pydantic models.

The OpenAPI description is generated from these models (:mod:`streamer.web.openapi`), and the API can check
each JSON answer against the model its route declares (``Api.check_answers``, on in the tests), so the
description cannot drift from what the handlers send. Handlers still build plain dicts and serialise them with
orjson: validating a 500-model list on every request would cost more than answering it.

Field names are the contract's. Every answer object allows more fields than it lists (the contract grows by
adding), and a field is required when the contract names it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

STATIC_DIR = Path(__file__).parent / "static"  # the dashboard's HTML, JS and CSS (package data)
STATIC_FILES = tuple(sorted(p.name for p in STATIC_DIR.iterdir() if p.suffix in (".js", ".css", ".html")))
Status = Literal["ok", "warning", "critical", "baseline", "no_data"]
MAX_LIMIT = 10000


class Answer(BaseModel):
    """An answer object: strict types, more fields allowed."""

    model_config = ConfigDict(extra="allow", strict=True)


class Query(BaseModel):
    """Query or path parameters: parsed from strings, unknown ones ignored."""

    model_config = ConfigDict(extra="ignore")


def _whole_number(raw: Any) -> Any:
    """Only ASCII digits make a whole number in a query (no sign, space, underscore or ``²``).

    >>> _whole_number("25")
    25
    >>> _whole_number("2.5")
    Traceback (most recent call last):
    ...
    ValueError: must be a whole number
    """
    if isinstance(raw, str):
        if not re.fullmatch(r"[0-9]{1,9}", raw):
            raise ValueError("must be a whole number")
        return int(raw)
    return raw


Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="how many, newest first"),
                  BeforeValidator(_whole_number)]
VersionQuery = Annotated[str | None, Field(description="a version of the model; absent: its most recently updated")]


# -- answers -------------------------------------------------------------------------------------------


class Error(Answer):
    error: str


class Health(Answer):
    status: Literal["ok"]


class Readiness(Answer):
    ready: bool
    scope: Literal["worker", "web"]
    waiting_for: list[str]
    view_as_of: str | None = None
    error: str | None = Field(None, description="why not ready (503 only)")


class Latency(Answer):
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


class Drift(Answer):
    drifted_share: float | None = None
    drifted_features: list[str] | None = None


class Performance(Answer):
    labelled: int | None = None


class Window(Answer):
    """A closed window's summary (CONTRACT 6): counts, per-feature statistics and drift, latency, performance."""

    model: str | None = None
    version: str | None = None
    window_start: str
    window_end: str
    window_start_s: float | None = None
    window_end_s: float | None = None
    events: int
    errors: int | None = None
    error_rate: float | None = None
    throughput_per_s: float | None = None
    latency_ms: Latency | None = None
    status: str
    reference: str | None = None
    features: dict[str, dict[str, Any]] | None = Field(None, description="per-feature statistics and drift")
    outputs: dict[str, dict[str, Any]] | None = Field(None, description="per-output statistics and drift")
    drift: Drift | None = None
    performance: Performance | None = None
    performance_estimate: dict[str, Any] | None = None


class LastAlert(Answer):
    id: str | None = None
    kind: str
    severity: str
    subject: str | None = None
    message: str | None = None
    window_end: str | None = None
    created_at: str


class ActiveAlert(Answer):
    kind: str
    id: str
    subject: str | None = None


class ModelRow(Answer):
    """One model version on the front page."""

    model: str
    version: str
    status: Status
    events_total: int
    last_window_end: str | None
    late_events: int | None = None
    last_event_at: str | None = None
    reference: str | None = None
    updated_at: str | None = None
    active_alerts: list[ActiveAlert] | None = None
    recent_events: list[int] | None = Field(None, description="events of the recent closed windows, oldest first")
    drifted_features: list[str] | None = None
    open_alerts: int | None = None
    last_alert: LastAlert | None = None


class ModelList(Answer):
    models: list[ModelRow]
    view_as_of: str | None = None


class ModelDetail(Answer):
    """One model version: its status, its open window and its last closed window."""

    model: str
    version: str
    status: Status
    events_total: int
    last_window_end: str | None = None
    late_events: int | None = None
    last_event_at: str | None = None
    reference: str | None = None
    updated_at: str | None = None
    active_alerts: list[ActiveAlert] | None = None
    versions: list[str]
    open_window: dict[str, Any] | None
    last_window: Window | None


class WindowList(Answer):
    windows: list[Window]


class Delivery(Answer):
    alert_id: str | None = None
    channel: str
    status: str | None
    model: str | None = None
    kind: str | None = None
    attempts: int | None = None
    at: str | None = None
    error: str | None = None
    next_retry_at: str | None = None


class Alert(Answer):
    """An alert in the form of CONTRACT 4.4, with where it was delivered when notifications are on."""

    id: str
    kind: str
    severity: str
    model: str
    version: str
    window_start: str | None
    window_end: str | None
    subject: str | None
    value: float | None
    threshold: float | None
    message: str
    details: dict[str, Any]
    created_at: str
    deliveries: list[Delivery] | None = None


class AlertList(Answer):
    alerts: list[Alert]


class Notifications(Answer):
    configured: bool = Field(True, description="false: no channel is configured")
    deliveries: list[Delivery]
    retrying: list[Delivery]
    failures: list[Delivery]
    channels: dict[str, dict[str, Any]]


class WorkerReport(Answer):
    counters: dict[str, Any]
    limits: dict[str, Any]
    models_with_state: int | None = None


class NumericColumn(Answer):
    kind: Literal["numeric"]
    count: int = Field(ge=0)
    missing: int = Field(ge=0)
    edges: list[float]
    counts: list[int]
    mean: float | None
    std: float | None
    mlrun_edges: list[float] | None = None
    quantile_sketch: str | None = None


class CategoricalColumn(Answer):
    kind: Literal["categorical"]
    count: int | None = Field(None, ge=0)
    missing: int = Field(ge=0)
    counts: dict[str, Annotated[int, Field(ge=0)]]
    other: int | None = Field(None, ge=0)


class Profile(Answer):
    """A reference profile (``format: streamer.reference/1``, README.md)."""

    format: Literal["streamer.reference/1"]
    model: str
    version: str | None = None
    rows: int | None = None
    features: dict[str, NumericColumn | CategoricalColumn]
    outputs: dict[str, NumericColumn | CategoricalColumn]


class Published(Answer):
    published: str = Field(description="the key the profile was published under")
    columns: int


class OpenApiDocument(Answer):
    openapi: str
    paths: dict[str, Any]


# -- parameters ----------------------------------------------------------------------------------------


class ModelPath(Query):
    model: str = Field(description="the model's name")


class StaticPath(Query):
    name: str = Field(description="the file's name", json_schema_extra={"enum": list(STATIC_FILES)})


class DashboardQuery(Query):
    model: str | None = Field(None, description="open this model's page")
    version: VersionQuery = None


class ReadyQuery(Query):
    scope: Literal["worker", "web"] = Field("worker", description="worker (partitions and tables) or web (the API)")


class ModelQuery(Query):
    version: VersionQuery = None


class WindowsQuery(Query):
    version: VersionQuery = None
    limit: Limit = 50


class AlertsQuery(Query):
    model: str | None = Field(None, description="only this model's")
    kind: str | None = Field(None, description="only this kind")
    open: Literal["true", "false"] = Field("false", description="true: only alerts no resolved alert names yet")
    limit: Limit = 50


class NotificationsQuery(Query):
    limit: Limit = 50
    status: str | None = Field(None, description="only deliveries with this status")
    channel: str | None = Field(None, description="only this channel's")
    model: str | None = Field(None, description="only this model's")


class ReferenceQuery(Query):
    version: str | None = Field(None, description="the version whose profile to answer")


class PublishQuery(Query):
    version: str | None = Field(None, min_length=1, description="publish for this version only")
