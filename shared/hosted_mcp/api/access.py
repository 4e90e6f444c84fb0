"""Routes of access: API keys (admin) and the caller's own connections (any authenticated caller)."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from hosted_mcp.api.routes import (
    ApiServices,
    M,
    ManagementResolver,
    _errors,
    caller_with_role,
    json_response,
    public_base_url,
)
from hosted_mcp.auth.api_keys import ApiKeyStore
from hosted_mcp.auth.authenticator import API_KEY_HEADER, bearer_token, header
from hosted_mcp.auth.roles import Role
from hosted_mcp.errors import DomainError, NotFound
from hosted_mcp.logic import access
from hosted_mcp.models.access import (
    ApiKeyPage,
    ApiKeyView,
    ConnectionPage,
    IssueApiKeyRequest,
    IssuedApiKeyView,
)

logger = Logger(service="hosted-mcp-api", child=True)


class ApiKeysUnavailable(NotFound):
    def __init__(self) -> None:
        super().__init__("API keys are not enabled on this platform")


def register_api_key_routes(app: ManagementResolver, services: Callable[[], ApiServices]) -> None:
    def key_store() -> ApiKeyStore:
        store = services().api_keys
        if store is None:
            raise ApiKeysUnavailable()
        return store

    def admin() -> str:
        return caller_with_role(app.current_event.request_context.authorizer.raw_event, Role.ADMIN).username

    @app.secured(
        "POST",
        "/api-keys",
        summary="Issue an API key (the key is in this response only)",
        responses={**_errors(400, 401, 403)},
    )
    def issue_api_key(request: IssueApiKeyRequest) -> Response[IssuedApiKeyView]:
        caller = caller_with_role(_raw(app), Role.ADMIN)
        now = services().clock()
        issued = access.issue_api_key(key_store(), request, caller, now=now)
        logger.info("api key issued", key_id=issued.record.keyId, owner=issued.record.owner, actor=caller.username)
        view = ApiKeyView.of(issued.record, now)
        return secret_response(IssuedApiKeyView(**view.model_dump(), apiKey=issued.secret), HTTPStatus.CREATED)

    @app.secured("GET", "/api-keys", summary="List API keys (never their secrets)", responses={**_errors(401, 403)})
    def list_api_keys() -> Response[ApiKeyPage]:
        admin()
        now = services().clock()
        return json_response(ApiKeyPage(Items=[ApiKeyView.of(r, now) for r in access.list_api_keys(key_store())]))

    @app.secured(
        "DELETE",
        "/api-keys/<keyId>",
        summary="Revoke an API key (it stops working at once; the record stays for audit)",
        responses={**_errors(401, 403, 404)},
    )
    def revoke_api_key(keyId: Annotated[str, Path(pattern=access.KEY_ID_PATTERN)]) -> Response[ApiKeyView]:
        actor = admin()
        now = services().clock()
        record = access.revoke_api_key(key_store(), keyId, now=now)
        logger.info("api key revoked", key_id=record.keyId, actor=actor)
        return json_response(ApiKeyView.of(record, now))


def register_connection_routes(app: ManagementResolver, services: Callable[[], ApiServices]) -> None:
    @app.secured(
        "GET",
        "/connections",
        summary="The InService servers the caller may use, as connection records",
        responses={**_errors(400, 401)},
    )
    def list_connections(
        placeholder: Annotated[
            bool, Query(description="Keep {LISA_BEARER_TOKEN} instead of the caller's token.")
        ] = False,
    ) -> Response[ConnectionPage]:
        caller = caller_with_role(_raw(app), Role.USER)
        svc = services()
        items = access.connections_for(
            svc.store,
            caller,
            base_url=public_base_url(svc.base_url, app.current_event),
            credential=None if placeholder else _presented_credential(app),
            keep_placeholder=placeholder,
        )
        return secret_response(ConnectionPage(Items=items))


def secret_response(model: M, status: HTTPStatus = HTTPStatus.OK) -> Response[M]:
    """A response carrying a credential: never stored by a cache on the way."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=model,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _raw(app: ManagementResolver) -> dict | None:
    return app.current_event.request_context.authorizer.raw_event


def _presented_credential(app: ManagementResolver) -> str | None:
    """The credential this request carried (bearer token or API key), to put in the caller's own records."""
    headers = dict(app.current_event.headers or {})
    try:
        return bearer_token(headers) or header(headers, API_KEY_HEADER)
    except DomainError:
        return header(headers, API_KEY_HEADER)
