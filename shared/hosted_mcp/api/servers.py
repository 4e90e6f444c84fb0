"""Routes of hosted servers: create, list, read, update (also stop/start), delete, and the audit trail."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import Router

from hosted_mcp.api.responses import errors, json_response, ok
from hosted_mcp.api.services import ApiServices, call_audit, current_caller, current_services, public_base_url
from hosted_mcp.logic import calls, servers
from hosted_mcp.models.api import (
    AuditKind,
    AuditPage,
    AuditView,
    CreateServerRequest,
    ServerPage,
    ServerView,
    UpdateServerRequest,
)
from hosted_mcp.models.calls import CallView
from hosted_mcp.models.domain import Caller

logger = Logger(service="hosted-mcp-api", child=True)
router = Router()

Services = Annotated[ApiServices, Depends(current_services)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]
BaseUrl = Annotated[str | None, Depends(public_base_url)]
ServerId = Annotated[str, Path(max_length=64)]
MAX_CALLS_PAGE = 1000


@router.route(
    "/mcp",
    "POST",
    summary="Create a hosted MCP server",
    responses={**ok(ServerView, "Accepted: the server is Creating", HTTPStatus.CREATED), **errors(400, 401, 403, 409)},
)
def create_server(
    request: CreateServerRequest, svc: Services, caller: CurrentCaller, base_url: BaseUrl
) -> Response[ServerView]:
    record = servers.create_server(svc.store, request, caller, now=svc.clock(), new_id=svc.new_id)
    logger.info("server accepted", server_id=record.id, server_name=record.normalizedName, actor=caller.username)
    return json_response(ServerView.of(record, base_url), HTTPStatus.CREATED)


@router.route(
    "/mcp",
    "GET",
    summary="List hosted MCP servers",
    responses={**ok(ServerPage, "A page of servers"), **errors(400, 401, 403)},
)
def list_servers(
    svc: Services,
    base_url: BaseUrl,
    limit: Annotated[int, Query(ge=1, le=servers.MAX_PAGE_SIZE)] = 50,
    nextToken: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response[ServerPage]:
    page = servers.list_servers(svc.store, limit=limit, next_token=nextToken)
    return json_response(
        ServerPage(Items=[ServerView.of(r, base_url) for r in page.records], nextToken=page.next_token)
    )


@router.route(
    "/mcp/<serverId>",
    "GET",
    summary="Get a hosted MCP server",
    responses={**ok(ServerView, "The server"), **errors(400, 401, 403, 404)},
)
def get_server(serverId: ServerId, svc: Services, base_url: BaseUrl) -> Response[ServerView]:
    return json_response(ServerView.of(servers.get_server(svc.store, serverId), base_url))


@router.route(
    "/mcp/<serverId>/audit",
    "GET",
    summary="Audit trail of a hosted MCP server: status changes (who, why), or its data-plane calls",
    description="`kind=status` (the default): every status change, oldest first. `kind=call`: every tools/call, "
    "prompts/get and resources/read through the gateway (caller, outcome, duration, bytes; never arguments or "
    "results), newest first, `limit` per page with `nextToken` for older ones.",
    responses={**ok(AuditPage, "The audit trail"), **errors(400, 401, 403, 404)},
)
def get_audit(
    serverId: ServerId,
    svc: Services,
    kind: Annotated[AuditKind, Query()] = AuditKind.STATUS,
    limit: Annotated[int, Query(ge=1, le=MAX_CALLS_PAGE)] = 100,
    nextToken: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response[AuditPage]:
    if kind is AuditKind.CALL:
        page = calls.server_calls(svc.store, call_audit(svc), serverId, limit=limit, next_token=nextToken)
        return json_response(AuditPage(Items=[CallView.of(c) for c in page.records], nextToken=page.next_token))
    entries = svc.store.audit_trail(serverId)
    if not entries:
        servers.get_server(svc.store, serverId)
    return json_response(AuditPage(Items=[AuditView.of(e) for e in entries]))


@router.route(
    "/mcp/<serverId>",
    "PUT",
    summary="Update, stop (enabled=false) or start (enabled=true) a hosted MCP server; a Failed one is redeployed",
    responses={**ok(ServerView, "Accepted: the server in its new status"), **errors(400, 401, 403, 404, 409)},
)
def update_server(
    serverId: ServerId, request: UpdateServerRequest, svc: Services, caller: CurrentCaller, base_url: BaseUrl
) -> Response[ServerView]:
    record = servers.update_server(svc.store, serverId, request, caller, now=svc.clock())
    logger.info("update accepted", server_id=record.id, status=record.status, actor=caller.username)
    return json_response(ServerView.of(record, base_url))


@router.route(
    "/mcp/<serverId>",
    "DELETE",
    summary="Delete a hosted MCP server",
    responses={**ok(ServerView, "Accepted: the server is Deleting"), **errors(400, 401, 403, 404, 409)},
)
def delete_server(serverId: ServerId, svc: Services, caller: CurrentCaller, base_url: BaseUrl) -> Response[ServerView]:
    record = servers.delete_server(svc.store, serverId, caller, now=svc.clock())
    logger.info("delete accepted", server_id=record.id, actor=caller.username)
    return json_response(ServerView.of(record, base_url))
