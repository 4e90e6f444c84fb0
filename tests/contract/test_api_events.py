"""Every events/api sample is a real-shaped API Gateway REST proxy event that reaches its route."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.api.app import build_resolver
from hosted_mcp.api.services import ApiServices
from hosted_mcp.auth.roles import MANAGEMENT_ROUTES
from hosted_mcp.logic.servers import create_server
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest, UpdateServerRequest
from hosted_mcp.models.domain import Caller
from hosted_mcp.models.fields import ServerStatus
from tests.support.events import ADMIN, event_paths
from tests.support.lambdas import FakeLambdaContext

SAMPLES = event_paths("api")
NOW = datetime(2026, 11, 24, tzinfo=UTC)
EXPECTED = {
    "create": ("POST", "/mcp", 201),
    "list": ("GET", "/mcp", 200),
    "get": ("GET", "/mcp/{serverId}", 200),
    "audit": ("GET", "/mcp/{serverId}/audit", 200),
    "update": ("PUT", "/mcp/{serverId}", 200),
    "stop": ("PUT", "/mcp/{serverId}", 200),
    "start": ("PUT", "/mcp/{serverId}", 200),
    "delete": ("DELETE", "/mcp/{serverId}", 200),
}


def test_there_is_one_sample_per_route() -> None:
    assert sorted(p.stem for p in SAMPLES) == sorted(EXPECTED)
    routes = {(r.method, r.path) for r in MANAGEMENT_ROUTES if r.path.startswith("/mcp")}
    assert {(m, p) for m, p, _ in EXPECTED.values()} == routes


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_parses_as_an_api_gateway_proxy_event_from_our_authorizer(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))

    event = APIGatewayProxyEventModel.model_validate(raw)

    method, resource, _ = EXPECTED[path.stem]
    assert (event.httpMethod, event.resource) == (method, resource)
    assert event.requestContext.resourcePath == resource
    assert event.requestContext.stage in event.requestContext.path
    caller = Caller.from_authorizer_context(raw["requestContext"]["authorizer"])
    assert caller is not None
    assert caller.isAdmin
    assert isinstance(json.loads(raw["requestContext"]["authorizer"]["groups"]), list)
    if raw["body"] is not None:
        model = CreateServerRequest if path.stem == "create" else UpdateServerRequest
        model.model_validate_json(raw["body"])
    if "{serverId}" in resource:
        assert event.pathParameters is not None
        assert event.path == resource.replace("{serverId}", event.pathParameters["serverId"])


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_routes_to_its_operation(path: Path) -> None:
    # Given a store holding the sample's server in a status the operation is allowed from
    raw = json.loads(path.read_text(encoding="utf-8"))
    store = InMemoryServerStore()
    server_id = (raw.get("pathParameters") or {}).get("serverId")
    if server_id:
        request = CreateServerRequest(name="docs", serverType="stdio", startCommand="python main.py")
        created = create_server(store, request, ADMIN, now=NOW, new_id=lambda: server_id)
        status = ServerStatus.STOPPED if path.stem == "start" else ServerStatus.IN_SERVICE
        move(store, created, status, actor="deployer", reason="settled", now=NOW)
    app = build_resolver(lambda: ApiServices(store=store))

    # When
    result = app.resolve(raw, FakeLambdaContext())

    # Then
    assert result["statusCode"] == EXPECTED[path.stem][2], result["body"]
