"""Routes of API keys, for agents and automation: issue (the secret is in that answer only), list, revoke."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import Router

from hosted_mcp.api.responses import errors, json_response, ok, secret_response
from hosted_mcp.api.services import ApiServices, api_key_store, current_caller, current_services
from hosted_mcp.auth.api_keys import ApiKeyStore
from hosted_mcp.logic import api_keys
from hosted_mcp.models.api_keys import ApiKeyPage, ApiKeyView, IssueApiKeyRequest, IssuedApiKeyView
from hosted_mcp.models.domain import Caller

logger = Logger(service="hosted-mcp-api", child=True)
router = Router()

Services = Annotated[ApiServices, Depends(current_services)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]
KeyStore = Annotated[ApiKeyStore, Depends(api_key_store)]


@router.route(
    "/api-keys",
    "POST",
    summary="Issue an API key (the key is in this response only)",
    responses={**ok(IssuedApiKeyView, "The new key, shown once", HTTPStatus.CREATED), **errors(400, 401, 403, 404)},
)
def issue_api_key(
    request: IssueApiKeyRequest, svc: Services, caller: CurrentCaller, store: KeyStore
) -> Response[IssuedApiKeyView]:
    now = svc.clock()
    issued = api_keys.issue_api_key(store, request, caller, now=now)
    logger.info("api key issued", key_id=issued.record.keyId, owner=issued.record.owner, actor=caller.username)
    view = ApiKeyView.of(issued.record, now)
    return secret_response(IssuedApiKeyView(**view.model_dump(), apiKey=issued.secret), HTTPStatus.CREATED)


@router.route(
    "/api-keys",
    "GET",
    summary="List API keys (never their secrets)",
    responses={**ok(ApiKeyPage, "Every key, active or not"), **errors(401, 403, 404)},
)
def list_api_keys(svc: Services, store: KeyStore) -> Response[ApiKeyPage]:
    now = svc.clock()
    return json_response(ApiKeyPage(Items=[ApiKeyView.of(r, now) for r in api_keys.list_api_keys(store)]))


@router.route(
    "/api-keys/<keyId>",
    "DELETE",
    summary="Revoke an API key (it stops working at once; the record stays for audit)",
    responses={**ok(ApiKeyView, "The revoked key"), **errors(400, 401, 403, 404)},
)
def revoke_api_key(
    keyId: Annotated[str, Path(pattern=api_keys.KEY_ID_PATTERN)], svc: Services, caller: CurrentCaller, store: KeyStore
) -> Response[ApiKeyView]:
    now = svc.clock()
    record = api_keys.revoke_api_key(store, keyId, now=now)
    logger.info("api key revoked", key_id=record.keyId, actor=caller.username)
    return json_response(ApiKeyView.of(record, now))
