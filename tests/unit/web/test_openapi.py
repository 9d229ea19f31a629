"""The OpenAPI description: valid OpenAPI 3.1 generated from the answer models, complete over the route table,
and the answers match it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from pydantic import BaseModel

from streamer.web import answers
from streamer.web.api import Api
from streamer.web.openapi import build_openapi, endpoint, endpoints
from tests.unit.web.test_api import TOKEN, get_json, serve, status_doc, world  # noqa: F401  (world is a fixture)


def validate_answer(body: object, schema: dict[str, Any], spec: dict[str, Any]) -> None:
    """``schema`` may refer into the description's components."""
    OAS31Validator({**schema, "components": spec["components"]}).validate(body)


def spec_of(world, token=None) -> dict:  # noqa: F811
    app = web.Application()
    world.api(token).register(app)
    return build_openapi(app, "streamer", "0", token is not None)


@pytest.mark.parametrize("token", [None, TOKEN])
def test_the_description_is_valid_openapi_3_and_covers_every_route(world, token):  # noqa: F811
    spec = spec_of(world, token)
    validate(spec)
    assert set(spec["paths"]) == {
        "/", "/static/{name}", "/health", "/ready", "/metrics", "/api/v1/models", "/api/v1/models/{model}",
        "/api/v1/models/{model}/windows", "/api/v1/models/{model}/reference", "/api/v1/alerts",
        "/api/v1/notifications", "/api/v1/worker", "/api/v1/openapi.json"}
    assert set(spec["paths"]["/api/v1/models/{model}/reference"]) == {"get", "put"}
    for path, methods in spec["paths"].items():
        for operation in methods.values():
            assert operation["summary"] and "200" in operation["responses"], path
            assert ("401" in operation["responses"]) == (token is not None and path.startswith("/api/")), path


def test_a_route_without_a_declaration_fails(world):  # noqa: F811
    app = web.Application()
    world.api().register(app)

    async def undocumented(request: web.Request) -> web.Response:
        return web.Response(text="?")

    app.router.add_get("/api/v1/undocumented", undocumented)
    with pytest.raises(LookupError, match="undocumented"):
        build_openapi(app, "streamer", "0", False)


def test_served_description_and_answers_match_their_schemas(world):  # noqa: F811
    async def scenario(client: TestClient) -> None:
        spec = await get_json(client, "/api/v1/openapi.json")
        validate(spec)
        paths = spec["paths"]

        def check(path: str, body: object, status: str = "200") -> None:
            schema = paths[path]["get"]["responses"][status]["content"]["application/json"]["schema"]
            validate_answer(body, schema, spec)

        check("/api/v1/models", await get_json(client, "/api/v1/models"))
        check("/api/v1/models/{model}", await get_json(client, "/api/v1/models/fraud?version=1"))
        check("/api/v1/models/{model}/windows", await get_json(client, "/api/v1/models/fraud/windows?version=1"))
        check("/api/v1/alerts", await get_json(client, "/api/v1/alerts"))
        check("/api/v1/models/{model}", await get_json(client, "/api/v1/models/nobody", 404), "404")

    serve(world.api(), scenario)


def test_static_files_are_served_and_nothing_else(world):  # noqa: F811
    async def scenario(client: TestClient) -> None:
        for name, kind in (("app.js", "javascript"), ("charts.js", "javascript"), ("style.css", "css")):
            response = await client.get(f"/static/{name}")
            assert response.status == 200 and kind in response.content_type, name
        for bad in ("nothing.js", "..%2Fapi.py", "%2e%2e%2fapi.py"):
            assert (await client.get(f"/static/{bad}")).status == 404, bad

    serve(world.api(), scenario)


def test_page_knows_whether_to_ask_for_a_token(world):  # noqa: F811
    async def scenario(client: TestClient) -> None:
        page = await (await client.get("/")).text()
        assert 'data-auth="required"' in page and "/static/app.js" in page
        assert (await client.get("/api/v1/openapi.json")).status == 401
        assert (await client.get("/static/app.js")).status == 200

    serve(world.api(TOKEN), scenario)


def test_every_route_answers_with_a_model_in_the_description(world):  # noqa: F811
    """Each status of each operation has content; a JSON one refers to a component generated from a model."""
    spec = spec_of(world, TOKEN)
    components = spec["components"]["schemas"]
    declared = {(d.method.lower(), d.path): d for d, _ in endpoints(world.api(TOKEN))}
    assert set(declared) == {(m, p) for p, methods in spec["paths"].items() for m in methods}
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for status, answer in operation["responses"].items():
                assert answer["content"], (method, path, status)
                for media, content in answer["content"].items():
                    if media == "application/json":
                        name = content["schema"]["$ref"].removeprefix("#/components/schemas/")
                        assert components[name]["type"] == "object", (method, path, status)
                        model = ({**declared[method, path].answers, 401: ("", answers.Error)})[int(status)][1]
                        assert model is not None and model.__name__ == name, (method, path, status)
                    else:
                        assert content["schema"] == {"type": "string"}, (method, path, status)
    profile = spec["paths"]["/api/v1/models/{model}/reference"]["put"]["requestBody"]["content"]
    assert profile["application/json"]["schema"]["$ref"].startswith("#/components/schemas/Profile")


def test_parameters_come_from_the_query_models(world):  # noqa: F811
    spec = spec_of(world)
    params = {p["name"]: p for p in spec["paths"]["/api/v1/models/{model}/windows"]["get"]["parameters"]}
    assert params["model"]["in"] == "path" and params["model"]["required"] is True
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 10000, "default": 50}
    assert params["version"]["schema"] == {"type": "string"} and params["version"]["required"] is False
    ready = spec["paths"]["/ready"]["get"]["parameters"][0]
    assert ready["schema"]["enum"] == ["worker", "web"]


def test_a_declaration_must_match_its_route(world):  # noqa: F811
    class Wrong(Api):
        @endpoint("GET", "/api/v1/models/{model}/extra", "no path parameter declared", {200: ("x", answers.Health)})
        async def extra(self, request: web.Request) -> web.Response:
            return web.Response(text="?")

    base = world.api()
    app = web.Application()
    Wrong(None, "references", base.status, base.history, base.alerts, base.registry, base.readiness, base.metrics,
          base.publish).register(app)
    with pytest.raises(LookupError, match="extra"):
        build_openapi(app, "streamer", "0", False)


def test_an_answer_that_does_not_match_its_model_is_caught(world):  # noqa: F811
    """With ``check_answers`` (on in every API test) an answer off its model is a 500 naming the model."""
    world.status.handle_record(b"odd", orjson.dumps({**orjson.loads(status_doc("odd", "1", 1, 0.0)),
                                                     "events_total": "many"}), 0.0)

    async def scenario(client: TestClient) -> None:
        response = await client.get("/api/v1/models")
        assert response.status == 500
        assert "ModelList" in (await response.json())["error"]

    serve(world.api(), scenario)


def test_the_answer_models_describe_real_answers(world):  # noqa: F811
    """The models accept what the handlers send, read back through the models (round trip)."""
    async def scenario(client: TestClient) -> None:
        for path, model in (("/api/v1/models", answers.ModelList), ("/api/v1/models/fraud?version=1", answers.ModelDetail),
                            ("/api/v1/models/fraud/windows?version=1", answers.WindowList),
                            ("/api/v1/alerts", answers.AlertList), ("/api/v1/worker", answers.WorkerReport),
                            ("/api/v1/notifications", answers.Notifications), ("/health", answers.Health)):
            body = await get_json(client, path)
            parsed: BaseModel = model.model_validate(body)
            assert parsed.model_dump(mode="json", exclude_unset=True) == body, path

    serve(world.api(), scenario)


def test_metrics_answer_with_prometheus_text_media_type(world):  # noqa: F811
    async def scenario(client: TestClient) -> None:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "streamer_" in await response.text()

    serve(world.api(), scenario)
