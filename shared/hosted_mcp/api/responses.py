"""How routes answer: JSON bodies from models, no-store for credentials, and the documented status codes."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from hosted_mcp.models.api import ErrorBody

M = TypeVar("M", bound=BaseModel)

API_TITLE = "Hosted MCP management API"
API_VERSION = "1.0.0"
SECURITY_SCHEMES = {
    "bearerJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A JWT of the IdP."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "A platform API key."},
}
ERROR_DESCRIPTIONS = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "Not allowed for this caller",
    404: "No such server",
    409: "Name or status conflict",
}


def json_response(model: M, status: HTTPStatus = HTTPStatus.OK) -> Response[M]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=model)


def secret_response(model: M, status: HTTPStatus = HTTPStatus.OK) -> Response[M]:
    """A response carrying a credential: never stored by a cache on the way."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=model,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def errors(*codes: int) -> dict[int, OpenAPIResponse]:
    """The documented error answers of a route, each with the `ErrorBody` schema."""
    return {code: _documented(ERROR_DESCRIPTIONS[code], ErrorBody) for code in codes}


def ok(model: type[BaseModel], description: str, status: HTTPStatus = HTTPStatus.OK) -> dict[int, OpenAPIResponse]:
    """The success answer of a route (Powertools documents none when `responses` is given)."""
    return {int(status): _documented(description, model)}


def _documented(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


def openapi_json(app: APIGatewayRestResolver) -> str:
    """The OpenAPI document, saying what the API really answers: invalid input is a 400 with an ErrorBody (the
    resolver's default 422 is never sent; the validation handler turns it into a 400 naming the field)."""
    doc = json.loads(app.get_openapi_json_schema(title=API_TITLE, version=API_VERSION))
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        doc.get("components", {}).get("schemas", {}).pop(unused, None)
    doc.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    doc["security"] = [{name: []} for name in SECURITY_SCHEMES]  # either credential; every route needs one
    return json.dumps(doc)
