"""The OpenAPI 3.1 description, generated from each handler's :class:`Endpoint` and its pydantic models.

Every handler carries one :class:`Endpoint` (set with :func:`endpoint`): its method and path, its query and path
parameters as a model, and per status the model of its answer. The app's routes are registered from these
declarations, the description is generated from them (``models_json_schema`` with references into
``components/schemas``), and :func:`check_answer` validates an answer against the model its route declares.
:func:`build_openapi` walks the router, so a route without a declaration makes it raise: the description cannot
silently miss a route, and a declaration cannot name a path parameter its path does not have.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from streamer.web.answers import Error, Query

F = TypeVar("F", bound=Callable[..., Any])
Q = TypeVar("Q", bound=Query)
REF_TEMPLATE = "#/components/schemas/{model}"
JSON = "application/json"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # an aiohttp route template, e.g. /api/v1/models/{model}
    summary: str
    answers: Mapping[int, tuple[str, type[BaseModel] | None]]  # status -> (description, model; None: text)
    query: type[Query] | None = None
    path_params: type[Query] | None = None
    media: tuple[str, ...] = (JSON,)  # of the 2xx answers
    body: type[BaseModel] | None = None  # the JSON request body
    needs_token: bool = False  # guarded by STREAMER_API_TOKEN when it is set


def endpoint(method: str, path: str, summary: str, answers: Mapping[int, tuple[str, type[BaseModel] | None]],
             **more: Any) -> Callable[[F], F]:
    """Declare a handler's route, parameters and answers (what the description and the checks read)."""
    declared = Endpoint(method, path, summary, answers, **more)

    def mark(handler: F) -> F:
        handler.__endpoint__ = declared  # type: ignore[attr-defined]
        return handler
    return mark


def endpoints(owner: object) -> list[tuple[Endpoint, Callable[..., Any]]]:
    """The declared handlers of ``owner``, in the order its class defines them."""
    found = []
    for name, attribute in vars(type(owner)).items():
        declared = getattr(attribute, "__endpoint__", None)
        if isinstance(declared, Endpoint):
            found.append((declared, getattr(owner, name)))
    return found


def parse(request: web.Request, model: type[Q]) -> Q:
    """The request's query as ``model``; a 400 JSON error naming the first bad parameter otherwise."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "query"
        raise web.HTTPBadRequest(body=orjson.dumps({"error": f"{where}: {first['msg']}"}), content_type=JSON) from None


def check_answer(request: web.Request, response: web.StreamResponse) -> None:
    """Raise ``ValueError`` when an answer does not match what its route declares (status, media, model)."""
    declared: Endpoint | None = getattr(request.match_info.handler, "__endpoint__", None)
    if declared is None:  # aiohttp's own answers: unknown path, method not allowed
        return
    answers = {**declared.answers, 401: ("", Error)} if declared.needs_token else declared.answers
    if response.status not in answers:
        raise ValueError(f"{declared.method} {declared.path} answered {response.status}, which it does not declare")
    _, model = answers[response.status]
    media = response.content_type
    if model is None:
        if media not in declared.media:
            raise ValueError(f"{declared.method} {declared.path} answered {media}, not one of {declared.media}")
        return
    if media != JSON or not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        raise ValueError(f"{declared.method} {declared.path} answered {media}, not a JSON body")
    try:
        model.model_validate_json(response.body)
    except ValidationError as exc:
        raise ValueError(f"{declared.method} {declared.path} answer {response.status} is not a {model.__name__}: "
                         f"{exc}") from None


def operation_id(method: str, path: str) -> str:
    """A unique id per method and path.

    >>> operation_id("GET", "/api/v1/models/{model}/windows")
    'get_api_v1_models_model_windows'
    """
    words = [w.strip("{}") for w in path.split("/") if w]
    return "_".join([method.lower(), *words]) if words else f"{method.lower()}_root"


def _parameters(model: type[Query] | None, where: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema()
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        prop.pop("title", None)
        description = prop.pop("description", "")
        variants = [v for v in prop.pop("anyOf", []) if v.get("type") != "null"]  # absent is how to say None
        if variants:
            prop = {**variants[0], **prop} if len(variants) == 1 else {"anyOf": variants, **prop}
        if prop.get("default", ...) is None:
            del prop["default"]
        params.append({"name": name, "in": where, "required": where == "path" or name in schema.get("required", ()),
                       "description": description, "schema": prop})
    return params


def _declared(app: web.Application) -> list[tuple[str, Endpoint]]:
    found = []
    for route in app.router.routes():
        if route.method == "HEAD":  # aiohttp adds HEAD beside every GET
            continue
        path = route.resource.canonical if route.resource is not None else None
        declared = getattr(route.handler, "__endpoint__", None)
        if path is None or not isinstance(declared, Endpoint):
            raise LookupError(f"route {route.method} {path} has no OpenAPI declaration (use @endpoint)")
        wanted = set(re.findall(r"{(\w+)}", path))
        named = set(declared.path_params.model_fields) if declared.path_params is not None else set()
        if (declared.method, declared.path) != (route.method, path) or wanted != named:
            raise LookupError(f"route {route.method} {path} is declared as {declared.method} {declared.path} "
                              f"with path parameters {sorted(named)}")
        found.append((path, declared))
    return found


def build_openapi(app: web.Application, title: str, version: str, token_set: bool) -> dict[str, Any]:
    """The description of every route of ``app``; raises ``LookupError`` for a route without a declaration."""
    declared = _declared(app)
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Error, "serialization")]
    for _, op in declared:
        wanted += [(model, "serialization") for _, model in op.answers.values() if model is not None]
        if op.body is not None:
            wanted.append((op.body, "validation"))
    refs, definitions = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    for path, op in declared:
        responses: dict[str, Any] = {}
        answers = {**op.answers, 401: ("missing or wrong bearer token", Error)} if op.needs_token and token_set \
            else op.answers
        for status, (description, model) in sorted(answers.items()):
            if model is None:
                content = {media: {"schema": {"type": "string"}} for media in op.media}
            else:
                content = {JSON: {"schema": refs[(model, "serialization")]}}
            responses[str(status)] = {"description": description, "content": content}
        doc: dict[str, Any] = {"summary": op.summary, "operationId": operation_id(op.method, path),
                               "responses": responses}
        params = _parameters(op.path_params, "path") + _parameters(op.query, "query")
        if params:
            doc["parameters"] = params
        if op.body is not None:
            doc["requestBody"] = {"required": True, "content": {JSON: {"schema": refs[(op.body, "validation")]}}}
        if op.needs_token and token_set:
            doc["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[op.method.lower()] = doc
    components: dict[str, Any] = {"schemas": definitions.get("$defs", {})}
    if token_set:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "streamer's HTTP API: models, windows, alerts, reference profiles, probes."},
        "paths": dict(sorted(paths.items())),
        "components": components,
    }
