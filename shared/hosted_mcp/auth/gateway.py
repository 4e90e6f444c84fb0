"""The API Gateway REQUEST authorizer's logic: one decision, turned into a cache-safe policy and a context."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hosted_mcp.auth.authenticator import Authenticator, header
from hosted_mcp.auth.decision import decide
from hosted_mcp.auth.forwarding import forwarded_authorization, identity_headers
from hosted_mcp.auth.policy import MethodArn, allow, deny
from hosted_mcp.errors import Forbidden
from hosted_mcp.ports import ServerStore

ANONYMOUS = "anonymous"

# Context keys the data-plane integration maps onto the request it sends to a hosted server (template.yaml):
# identity headers the server can trust, and Authorization only for servers that opted in (else empty).
UPSTREAM_CONTEXT = {
    "X-Hosted-Mcp-User": "upstreamUser",
    "X-Hosted-Mcp-Groups": "upstreamGroups",
    "X-Hosted-Mcp-Credential-Type": "upstreamCredentialType",
}
UPSTREAM_AUTHORIZATION = "upstreamAuthorization"


class AuthorizerRequest(BaseModel):
    """The parts of a REST API REQUEST authorizer event the decision uses (API Gateway sends more)."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(pattern="^REQUEST$")
    methodArn: str = Field(min_length=1, max_length=2048)
    headers: dict[str, str] | None = None


def authorize(request: AuthorizerRequest, authenticator: Authenticator, store: ServerStore) -> dict[str, Any]:
    """Allow or Deny exactly `methodArn`; Unauthorized propagates (the handler answers API Gateway's 401)."""
    arn = MethodArn.parse(request.methodArn)
    if arn.has_wildcard:
        return deny(ANONYMOUS, arn.arn)
    headers = request.headers or {}
    try:
        decision = decide(authenticator, store, arn.method, arn.path, headers)
    except Forbidden:
        return deny(ANONYMOUS, arn.arn)
    caller = decision.caller
    if caller is None:
        return allow(ANONYMOUS, arn.arn, {"credentialType": "none"})
    context = caller.to_authorizer_context()
    if decision.server is not None or decision.missing is not None:
        # A missing server (admins only) is let through: no listener rule matches it and the ALB answers 404.
        for name, value in identity_headers(caller).items():
            context[UPSTREAM_CONTEXT[name]] = value
        forward = decision.server is not None and decision.server.spec.forwardCallerToken
        context[UPSTREAM_AUTHORIZATION] = (
            forwarded_authorization(header(headers, "authorization"), forward_caller_token=forward) or ""
        )
    if decision.server is not None:
        context["serverId"] = decision.server.id
    return allow(caller.username, arn.arn, context)
