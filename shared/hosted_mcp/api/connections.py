"""Routes of connections: the InService servers the caller may use, with the caller's own credential in place."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.event_handler.router import Router

from hosted_mcp.api.responses import errors, ok, secret_response
from hosted_mcp.api.services import ApiServices, current_caller, current_services, public_base_url
from hosted_mcp.auth.authenticator import API_KEY_HEADER, bearer_token, header
from hosted_mcp.errors import DomainError
from hosted_mcp.logic import connections
from hosted_mcp.models.connections import ConnectionPage
from hosted_mcp.models.domain import Caller

router = Router()


def presented_credential(request: Request) -> str | None:
    """The credential this request carried (bearer token or API key), to put in the caller's own records."""
    headers = dict(request.headers or {})
    try:
        return bearer_token(headers) or header(headers, API_KEY_HEADER)
    except DomainError:
        return header(headers, API_KEY_HEADER)


@router.route(
    "/connections",
    "GET",
    summary="The InService servers the caller may use, as connection records",
    responses={**ok(ConnectionPage, "The caller's connections"), **errors(400, 401)},
)
def list_connections(
    svc: Annotated[ApiServices, Depends(current_services)],
    caller: Annotated[Caller, Depends(current_caller)],
    base_url: Annotated[str | None, Depends(public_base_url)],
    credential: Annotated[str | None, Depends(presented_credential)],
    placeholder: Annotated[bool, Query(description="Keep {LISA_BEARER_TOKEN} instead of the caller's token.")] = False,
) -> Response[ConnectionPage]:
    items = connections.connections_for(
        svc.store,
        caller,
        base_url=base_url,
        credential=None if placeholder else credential,
        keep_placeholder=placeholder,
    )
    return secret_response(ConnectionPage(Items=items))
