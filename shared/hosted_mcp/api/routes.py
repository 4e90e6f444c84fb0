"""Routes of the management API. Thin: identity, parse, one call into logic, a view back."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel

from hosted_mcp.api.errors import error_response
from hosted_mcp.auth.api_keys import ApiKeyStore
from hosted_mcp.auth.roles import MANAGEMENT_ROUTES, Role, RouteRule, require_role, rule_for
from hosted_mcp.errors import DomainError, Unauthorized, invalid_request_from
from hosted_mcp.logic import servers
from hosted_mcp.models.api import (
    READ_ONLY_FIELDS,
    AuditPage,
    AuditView,
    CreateServerRequest,
    ErrorBody,
    ServerPage,
    ServerView,
    UpdateServerRequest,
)
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp.ports import ServerStore

logger = Logger(service="hosted-mcp-api")
M = TypeVar("M", bound=BaseModel)

API_TITLE = "Hosted MCP management API"
API_VERSION = "1.0.0"


@dataclass
class ApiServices:
    store: ServerStore
    clock: Callable[[], datetime] = servers.utc_now
    new_id: Callable[[], str] = servers.new_server_id
    base_url: str | None = None
    api_keys: ApiKeyStore | None = None
    extra: dict[str, object] = field(default_factory=dict)


def _errors(*codes: int) -> dict[int, dict]:
    descriptions = {
        400: "Invalid request",
        401: "Not authenticated",
        403: "Not allowed for this caller",
        404: "No such server",
        409: "Name or status conflict",
    }
    return {
        code: {"description": descriptions[code], "content": {"application/json": {"model": ErrorBody}}}
        for code in codes
    }


def _ok(model: type[BaseModel], description: str, status: HTTPStatus = HTTPStatus.OK) -> dict[int, dict]:
    """The success response of a route (Powertools documents none when `responses` is given)."""
    return {int(status): {"description": description, "content": {"application/json": {"model": model}}}}


def openapi_json(app: APIGatewayRestResolver) -> str:
    """The OpenAPI document, saying what the API really answers: invalid input is a 400 with an ErrorBody (the
    resolver's default 422 is never sent; the validation handler turns it into a 400 naming the field)."""
    doc = json.loads(app.get_openapi_json_schema(title=API_TITLE, version=API_VERSION))
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        doc.get("components", {}).get("schemas", {}).pop(unused, None)
    return json.dumps(doc)


def json_response(model: M, status: HTTPStatus = HTTPStatus.OK) -> Response[M]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=model)


def caller_with_role(authorizer_context: dict | None, role: Role) -> Caller:
    """The caller the authorizer established, when they hold `role` (Unauthorized / Forbidden otherwise)."""
    caller = require_role(Caller.from_authorizer_context(authorizer_context), role)
    if caller is None:
        raise Unauthorized("Authentication required")
    return caller


class ManagementResolver(APIGatewayRestResolver):
    """Checks the route's role before anything else, so nobody learns how a body is validated (or whether a
    route exists) before proving who they are. Roles come from `hosted_mcp.auth.roles.MANAGEMENT_ROUTES`, the
    table the authorizer reads too; `secured` refuses to register a route missing from it."""

    def secured(self, method: str, rule: str, **route_options: Any) -> Callable[[Callable], Callable]:
        """Register a route (powertools `<param>` syntax) whose role is in the shared route table."""
        gateway_path = re.sub(r"<(\w+)>", r"{\1}", rule)
        if not any(r.method == method and r.path == gateway_path for r in MANAGEMENT_ROUTES):
            raise ValueError(f"{method} {gateway_path} has no role in MANAGEMENT_ROUTES")
        return self.route(rule, method, **route_options)

    @staticmethod
    def role_for(method: str, path: str) -> Role:
        """The role a request needs; anything not in the table needs at least an authenticated caller."""
        rule: RouteRule | None = rule_for(method.upper(), path)
        return rule.role if rule else Role.USER

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        role = self.role_for(str(event.get("httpMethod", "")), str(event.get("path", "")))
        try:
            require_role(Caller.from_authorizer_context((event.get("requestContext") or {}).get("authorizer")), role)
        except DomainError as error:
            return proxy_result(error_response(error))
        return super().resolve(event, context)


def proxy_result(response: Response) -> dict[str, Any]:
    return {
        "statusCode": int(response.status_code),
        "headers": {"Content-Type": response.content_type or content_types.APPLICATION_JSON, **response.headers},
        "body": response.body,
        "isBase64Encoded": False,
    }


def public_base_url(configured: str | None, event: Any) -> str | None:
    """Where callers reach this API: the configured URL, else the domain and stage the request came through."""
    if configured:
        return configured
    context = event.request_context
    if context.domain_name and context.stage:
        return f"https://{context.domain_name}/{context.stage}"
    return None


def build_resolver(services: Callable[[], ApiServices]) -> APIGatewayRestResolver:
    """The management API over whatever adapters `services()` returns (AWS or one machine)."""
    app = ManagementResolver(enable_validation=True)

    def admin() -> Caller:
        return caller_with_role(app.current_event.request_context.authorizer.raw_event, Role.ADMIN)

    def view(record: ServerRecord) -> ServerView:
        return ServerView.of(record, public_base_url(services().base_url, app.current_event))

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return error_response(invalid_request_from(error, READ_ONLY_FIELDS))

    @app.secured(
        "POST",
        "/mcp",
        summary="Create a hosted MCP server",
        responses={
            **_ok(ServerView, "Accepted: the server is Creating", HTTPStatus.CREATED),
            **_errors(400, 401, 403, 409),
        },
    )
    def create_server(request: CreateServerRequest) -> Response[ServerView]:
        caller = admin()
        svc = services()
        record = servers.create_server(svc.store, request, caller, now=svc.clock(), new_id=svc.new_id)
        logger.info("server accepted", server_id=record.id, server_name=record.normalizedName, actor=caller.username)
        return json_response(view(record), HTTPStatus.CREATED)

    @app.secured(
        "GET",
        "/mcp",
        summary="List hosted MCP servers",
        responses={**_ok(ServerPage, "A page of servers"), **_errors(400, 401, 403)},
    )
    def list_servers(
        limit: Annotated[int, Query(ge=1, le=servers.MAX_PAGE_SIZE)] = 50,
        nextToken: Annotated[str | None, Query(max_length=2048)] = None,
    ) -> Response[ServerPage]:
        admin()
        page = servers.list_servers(services().store, limit=limit, next_token=nextToken)
        return json_response(ServerPage(Items=[view(r) for r in page.records], nextToken=page.next_token))

    @app.secured(
        "GET",
        "/mcp/<serverId>",
        summary="Get a hosted MCP server",
        responses={**_ok(ServerView, "The server"), **_errors(400, 401, 403, 404)},
    )
    def get_server(serverId: Annotated[str, Path(max_length=64)]) -> Response[ServerView]:
        admin()
        return json_response(view(servers.get_server(services().store, serverId)))

    @app.secured(
        "GET",
        "/mcp/<serverId>/audit",
        summary="Audit trail of a hosted MCP server: every status change, who made it and why",
        responses={**_ok(AuditPage, "The audit trail, oldest first"), **_errors(400, 401, 403, 404)},
    )
    def get_audit(serverId: Annotated[str, Path(max_length=64)]) -> Response[AuditPage]:
        admin()
        entries = services().store.audit_trail(serverId)
        if not entries:
            servers.get_server(services().store, serverId)
        return json_response(AuditPage(Items=[AuditView.of(e) for e in entries]))

    @app.secured(
        "PUT",
        "/mcp/<serverId>",
        summary="Update, stop (enabled=false) or start (enabled=true) a hosted MCP server",
        responses={**_ok(ServerView, "Accepted: the server in its new status"), **_errors(400, 401, 403, 404, 409)},
    )
    def update_server(
        serverId: Annotated[str, Path(max_length=64)], request: UpdateServerRequest
    ) -> Response[ServerView]:
        caller = admin()
        svc = services()
        record = servers.update_server(svc.store, serverId, request, caller, now=svc.clock())
        logger.info("update accepted", server_id=record.id, status=record.status, actor=caller.username)
        return json_response(view(record))

    @app.secured(
        "DELETE",
        "/mcp/<serverId>",
        summary="Delete a hosted MCP server",
        responses={**_ok(ServerView, "Accepted: the server is Deleting"), **_errors(400, 401, 403, 404, 409)},
    )
    def delete_server(serverId: Annotated[str, Path(max_length=64)]) -> Response[ServerView]:
        caller = admin()
        svc = services()
        record = servers.delete_server(svc.store, serverId, caller, now=svc.clock())
        logger.info("delete accepted", server_id=record.id, actor=caller.username)
        return json_response(view(record))

    from hosted_mcp.api.access import register_api_key_routes, register_connection_routes  # imports this module

    register_api_key_routes(app, services)
    register_connection_routes(app, services)

    @app.secured("GET", "/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
    def openapi_document() -> Response[str]:
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=openapi_json(app),
        )

    return app
