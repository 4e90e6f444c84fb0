"""The API Gateway REQUEST authorizer's logic: one decision, turned into a cache-safe policy and a context.

On the data plane it also takes the tool-policy decision (`hosted_mcp.auth.tool_access.allows`, the one the router
and the local gateway take) for what the request's headers name: MCP 2026-07-28 mirrors the method and the tool,
prompt or resource into `Mcp-Method` / `Mcp-Name`. That is safe only because the data-plane authorizer's answers
are never cached (template.yaml `DataPlaneAuthorizer`, `ReauthorizeEvery: 0`): a cached Allow for one tool would be
evaluated for the next request of the same caller and path, whatever tool it names, because the policy's resource
(the method ARN) has no tool in it, and listing `Mcp-Name` as an identity source instead would answer 401 to every
request without the header (2025-revision clients, lists, GET streams) without calling the authorizer. What the
headers do not name (2025-revision bodies) and list answers are the router's to check; it runs the same decision on
every request, after checking that the headers agree with the body.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hosted_mcp.auth.authenticator import Authenticator, header
from hosted_mcp.auth.decision import decide
from hosted_mcp.auth.forwarding import forwarded_authorization, identity_headers
from hosted_mcp.auth.policy import MethodArn, allow, deny
from hosted_mcp.auth.tool_access import allows, target_of_headers
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
        target = target_of_headers(header(headers, "mcp-method"), header(headers, "mcp-name"))
        if not allows(decision.server.spec.toolPolicy, caller.groups, target):
            reason = "Not allowed: outside what this server's tool policy lets you use"
            return deny(caller.username, arn.arn, {"reason": reason})
        context["serverId"] = decision.server.id
    return allow(caller.username, arn.arn, context)
