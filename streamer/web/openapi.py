"""The OpenAPI 3 description, built from the app's route table and each handler's declaration.

Every handler carries a :class:`Operation` (set with :func:`describe`); :func:`build_openapi` walks the
router, so a route without a declaration makes it raise: the description cannot silently miss a route.
Response schemas list the contracted fields as required and allow more (the contract grows by adding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

F = TypeVar("F", bound=Callable[..., Any])
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
TEXT = {"type": "string"}
NULLABLE_STRING = {"type": "string", "nullable": True}


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    """A JSON object schema that names its required fields and allows more."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": True}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "query" or "path"
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: dict[int, tuple[str, dict[str, Any]]]  # status -> (description, JSON schema)
    params: tuple[Param, ...] = ()
    content_type: str | tuple[str, ...] = "application/json"  # of the 2xx answers
    request_body: dict[str, Any] | None = None
    needs_token: bool = False  # guarded by STREAMER_API_TOKEN when it is set


def describe(operation: Operation) -> Callable[[F], F]:
    def mark(handler: F) -> F:
        handler.__openapi__ = operation  # type: ignore[attr-defined]
        return handler
    return mark


def _operation_json(op: Operation, operation_id: str, token_set: bool) -> dict[str, Any]:
    params = [{"name": p.name, "in": p.where, "required": p.where == "path", "description": p.description,
               "schema": p.schema} for p in op.params]
    responses: dict[str, Any] = {}
    for status, (description, schema) in sorted(op.responses.items()):
        media = op.content_type if 200 <= status < 300 else "application/json"
        types = (media,) if isinstance(media, str) else media
        responses[str(status)] = {"description": description, "content": {t: {"schema": schema} for t in types}}
    if op.needs_token and token_set:
        responses["401"] = {"description": "missing or wrong bearer token",
                            "content": {"application/json": {"schema": ERROR}}}
    doc: dict[str, Any] = {"summary": op.summary, "operationId": operation_id, "responses": responses}
    if params:
        doc["parameters"] = params
    if op.request_body is not None:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.request_body}}}
    if op.needs_token and token_set:
        doc["security"] = [{"bearer": []}]
    return doc


def operation_id(method: str, path: str) -> str:
    """A unique id per method and path.

    >>> operation_id("GET", "/api/v1/models/{model}/windows")
    'get_api_v1_models_model_windows'
    """
    words = [w.strip("{}") for w in path.split("/") if w]
    return "_".join([method.lower(), *words]) if words else f"{method.lower()}_root"


def build_openapi(app: web.Application, title: str, version: str, token_set: bool) -> dict[str, Any]:
    """The description of every route of ``app``; raises ``LookupError`` for a route without a declaration."""
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        if route.method == "HEAD":  # aiohttp adds HEAD beside every GET
            continue
        path = route.resource.canonical if route.resource is not None else None
        op = getattr(route.handler, "__openapi__", None)
        if path is None or op is None:
            raise LookupError(f"route {route.method} {path} has no OpenAPI declaration (use @describe)")
        paths.setdefault(path, {})[route.method.lower()] = _operation_json(op, operation_id(route.method, path), token_set)
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version,
                 "description": "streamer's HTTP API: models, windows, alerts, reference profiles, probes."},
        "paths": dict(sorted(paths.items())),
    }
    if token_set:
        spec["components"] = {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    return spec
