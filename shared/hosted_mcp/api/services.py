"""What the management API runs on, and how a route asks for it.

`ApiServices` is the bundle each composition root builds (`hosted_mcp.wiring.aws`, the one-machine platform).
The resolver puts it and the authenticated caller into the request context once, before any route runs; routes
receive them as typed dependencies (`Annotated[Caller, Depends(current_caller)]`), never by re-reading the event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from hosted_mcp.auth.api_keys import ApiKeyStore
from hosted_mcp.errors import NotFound
from hosted_mcp.logic import servers
from hosted_mcp.models.domain import Caller
from hosted_mcp.ports import CallAudit, ServerStore

CALLER = "caller"
SERVICES = "services"


@dataclass
class ApiServices:
    store: ServerStore
    clock: Callable[[], datetime] = servers.utc_now
    new_id: Callable[[], str] = servers.new_server_id
    base_url: str | None = None
    api_keys: ApiKeyStore | None = None
    calls: CallAudit | None = None
    extra: dict[str, object] = field(default_factory=dict)


class ApiKeysUnavailable(NotFound):
    def __init__(self) -> None:
        super().__init__("API keys are not enabled on this platform")


class CallAuditUnavailable(NotFound):
    def __init__(self) -> None:
        super().__init__("The data-plane audit trail is not enabled on this platform")


def call_audit(services: ApiServices) -> CallAudit:
    if services.calls is None:
        raise CallAuditUnavailable()
    return services.calls


def current_caller(request: Request) -> Caller:
    """The caller the resolver authenticated for this request (the route's role was checked already)."""
    caller: Caller = request.context[CALLER]
    return caller


def current_services(request: Request) -> ApiServices:
    found: ApiServices = request.context[SERVICES]
    return found


def api_key_store(request: Request) -> ApiKeyStore:
    store = current_services(request).api_keys
    if store is None:
        raise ApiKeysUnavailable()
    return store


def public_base_url(request: Request) -> str | None:
    """Where callers reach this API: the configured URL, else the domain and stage the request came through."""
    configured = current_services(request).base_url
    if configured:
        return configured
    event = request.resolved_event
    assert isinstance(event, APIGatewayProxyEvent)  # the management API is a REST API (v1) proxy integration
    context = event.request_context
    if context.domain_name and context.stage:
        return f"https://{context.domain_name}/{context.stage}"
    return None
