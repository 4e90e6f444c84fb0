"""Routes of the management API. Thin: identity, parse, one call into logic, a view back."""

from __future__ import annotations

from collections.abc import Callable
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
from hosted_mcp.errors import DomainError, Forbidden, Unauthorized, invalid_request_from
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
    extra: dict[str, object] = field(default_factory=dict)


def _errors(*codes: int) -> dict[int, dict]:
    descriptions = {
        400: "Invalid request",
        401: "Not authenticated",
        403: "Not an admin",
        404: "No such server",
        409: "Name or status conflict",
    }
    return {
        code: {"description": descriptions[code], "content": {"application/json": {"model": ErrorBody}}}
        for code in codes
    }


def json_response(model: M, status: HTTPStatus = HTTPStatus.OK) -> Response[M]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=model)


def require_admin(authorizer_context: dict | None) -> Caller:
    caller = Caller.from_authorizer_context(authorizer_context)
    if caller is None:
        raise Unauthorized("Authentication required")
    if not caller.isAdmin:
        raise Forbidden("Managing hosted servers requires the admin group")
    return caller


class ManagementResolver(APIGatewayRestResolver):
    """Checks identity before anything else, so nobody learns how a body is validated before proving who they are."""

    PUBLIC_PATHS = frozenset({"/openapi.json"})

    def resolve(self, event: dict, context: Any) -> dict[str, Any]:
        if event.get("path") not in self.PUBLIC_PATHS:
            try:
                require_admin((event.get("requestContext") or {}).get("authorizer"))
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


def build_resolver(services: Callable[[], ApiServices]) -> APIGatewayRestResolver:
    """The management API over whatever adapters `services()` returns (AWS or one machine)."""
    app = ManagementResolver(enable_validation=True)

    def admin() -> Caller:
        return require_admin(app.current_event.request_context.authorizer.raw_event)

    def view(record: ServerRecord) -> ServerView:
        return ServerView.of(record, services().base_url)

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return error_response(invalid_request_from(error, READ_ONLY_FIELDS))

    @app.post(
        "/mcp",
        summary="Create a hosted MCP server",
        responses={**_errors(400, 401, 403, 409)},
    )
    def create_server(request: CreateServerRequest) -> Response[ServerView]:
        caller = admin()
        svc = services()
        record = servers.create_server(svc.store, request, caller, now=svc.clock(), new_id=svc.new_id)
        logger.info("server accepted", server_id=record.id, server_name=record.normalizedName, actor=caller.username)
        return json_response(view(record), HTTPStatus.CREATED)

    @app.get("/mcp", summary="List hosted MCP servers", responses={**_errors(400, 401, 403)})
    def list_servers(
        limit: Annotated[int, Query(ge=1, le=servers.MAX_PAGE_SIZE)] = 50,
        nextToken: Annotated[str | None, Query(max_length=2048)] = None,
    ) -> Response[ServerPage]:
        admin()
        page = servers.list_servers(services().store, limit=limit, next_token=nextToken)
        return json_response(ServerPage(Items=[view(r) for r in page.records], nextToken=page.next_token))

    @app.get("/mcp/<serverId>", summary="Get a hosted MCP server", responses={**_errors(401, 403, 404)})
    def get_server(serverId: Annotated[str, Path(max_length=64)]) -> Response[ServerView]:
        admin()
        return json_response(view(servers.get_server(services().store, serverId)))

    @app.get(
        "/mcp/<serverId>/audit",
        summary="Audit trail of a hosted MCP server: every status change, who made it and why",
        responses={**_errors(401, 403, 404)},
    )
    def get_audit(serverId: Annotated[str, Path(max_length=64)]) -> Response[AuditPage]:
        admin()
        entries = services().store.audit_trail(serverId)
        if not entries:
            servers.get_server(services().store, serverId)
        return json_response(AuditPage(Items=[AuditView.of(e) for e in entries]))

    @app.put(
        "/mcp/<serverId>",
        summary="Update, stop (enabled=false) or start (enabled=true) a hosted MCP server",
        responses={**_errors(400, 401, 403, 404, 409)},
    )
    def update_server(
        serverId: Annotated[str, Path(max_length=64)], request: UpdateServerRequest
    ) -> Response[ServerView]:
        caller = admin()
        svc = services()
        record = servers.update_server(svc.store, serverId, request, caller, now=svc.clock())
        logger.info("update accepted", server_id=record.id, status=record.status, actor=caller.username)
        return json_response(view(record))

    @app.delete(
        "/mcp/<serverId>",
        summary="Delete a hosted MCP server",
        responses={**_errors(401, 403, 404, 409)},
    )
    def delete_server(serverId: Annotated[str, Path(max_length=64)]) -> Response[ServerView]:
        caller = admin()
        svc = services()
        record = servers.delete_server(svc.store, serverId, caller, now=svc.clock())
        logger.info("delete accepted", server_id=record.id, actor=caller.username)
        return json_response(view(record))

    @app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
    def openapi_document() -> Response[str]:
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=app.get_openapi_json_schema(title=API_TITLE, version=API_VERSION),
        )

    return app
