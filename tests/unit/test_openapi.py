"""The served OpenAPI document comes from the routes and says what the API really answers."""

from __future__ import annotations

from typing import Any

import pytest

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.api.app import build_resolver
from hosted_mcp.api.services import ApiServices
from hosted_mcp.models.api import CreateServerRequest, UpdateServerRequest
from tests.support.events import api_event, response_json
from tests.support.lambdas import FakeLambdaContext


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = build_resolver(lambda: ApiServices(store=InMemoryServerStore()))
    result = app.resolve(api_event("GET", "/openapi.json", caller=None), FakeLambdaContext())
    assert result["statusCode"] == 200
    return response_json(result)


def schema(document: dict[str, Any], ref_holder: dict[str, Any]) -> dict[str, Any]:
    ref = ref_holder["content"]["application/json"]["schema"]["$ref"]
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]


@pytest.mark.parametrize(
    ("path", "method", "success"),
    [
        ("/mcp", "post", "201"),
        ("/mcp", "get", "200"),
        ("/mcp/{serverId}", "get", "200"),
        ("/mcp/{serverId}", "put", "200"),
        ("/mcp/{serverId}", "delete", "200"),
        ("/mcp/{serverId}/audit", "get", "200"),
        ("/api-keys", "post", "201"),
        ("/api-keys", "get", "200"),
        ("/api-keys/{keyId}", "delete", "200"),
        ("/connections", "get", "200"),
    ],
)
def test_every_management_route_documents_its_success_and_errors(
    document: dict[str, Any], path: str, method: str, success: str
) -> None:
    responses = document["paths"][path][method]["responses"]
    assert success in responses
    assert "schema" in responses[success]["content"]["application/json"]
    assert {"401", "403"} <= set(responses) or path == "/connections"  # any authenticated caller may list theirs
    assert "401" in responses
    assert "422" not in responses  # invalid input is answered with 400
    assert schema(document, responses["401"])["title"] == "ErrorBody"


def test_request_bodies_are_the_input_models_and_forbid_unknown_fields(document: dict[str, Any]) -> None:
    create = schema(document, document["paths"]["/mcp"]["post"]["requestBody"])
    update = schema(document, document["paths"]["/mcp/{serverId}"]["put"]["requestBody"])

    assert set(create["properties"]) == set(CreateServerRequest.model_fields)
    assert set(create["required"]) == {"name", "serverType", "startCommand"}
    assert create["additionalProperties"] is False
    assert set(update["properties"]) == set(UpdateServerRequest.model_fields)
    assert update["additionalProperties"] is False


def test_status_values_are_the_wire_contract(document: dict[str, Any]) -> None:
    statuses = document["components"]["schemas"]["ServerStatus"]["enum"]
    assert statuses == ["Creating", "InService", "Updating", "Starting", "Stopping", "Stopped", "Deleting", "Failed"]


def test_list_parameters_are_documented_with_their_bounds(document: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in document["paths"]["/mcp"]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert parameters["nextToken"]["in"] == "query"


def test_the_document_says_how_to_authenticate(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerJwt"]["scheme"] == "bearer"
    assert (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "X-Api-Key")
    assert document["security"] == [{"bearerJwt": []}, {"apiKey": []}]


def test_the_document_itself_is_not_listed(document: dict[str, Any]) -> None:
    assert "/openapi.json" not in document["paths"]
