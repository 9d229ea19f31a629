"""The OpenAPI description: valid OpenAPI 3, complete over the route table, and answers match it."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_schema_validator import OAS30Validator
from openapi_schema_validator import validate as validate_answer
from openapi_spec_validator import validate

from streamer.web.openapi import build_openapi
from tests.unit.web.test_api import TOKEN, get_json, serve, world  # noqa: F401  (world is a fixture)


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
            validate_answer(body, schema, cls=OAS30Validator)

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
