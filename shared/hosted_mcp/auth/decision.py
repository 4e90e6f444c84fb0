"""The gateway decision for one request: who is calling, which route or server it is for, allowed or not.

`decide` is what both gateways run: the Lambda authorizer (which turns the outcome into an IAM policy) and the
local gateway (which turns it into 401/403 or a proxied call). The request is identified by method and real path
only; nothing from the request body or query takes part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hosted_mcp.auth.authenticator import Authenticator
from hosted_mcp.auth.roles import Role, data_plane_server, require_role, require_use, rule_for
from hosted_mcp.errors import Forbidden
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp.ports import ServerStore


@dataclass(frozen=True)
class Decision:
    """An allowed request: the caller (None only on public routes) and, on the data plane, the server."""

    caller: Caller | None
    server: ServerRecord | None = None
    role: Role | None = None
    missing: str | None = None  # a data-plane name that matches no server, told only to admins


def decide(
    authenticator: Authenticator, store: ServerStore, method: str, path: str, headers: Mapping[str, str]
) -> Decision:
    """Allow or raise: Unauthorized (no or bad credential) or Forbidden (known caller, not for this request)."""
    method = method.upper()
    rule = rule_for(method, path)
    if rule is not None and rule.role is Role.PUBLIC:
        return Decision(caller=None, role=rule.role)
    caller = authenticator.authenticate(headers)
    if rule is not None:
        require_role(caller, rule.role)
        return Decision(caller=caller, role=rule.role)
    name = data_plane_server(method, path)
    if name is None:
        raise Forbidden("No such route")
    record = store.get_by_name(name)
    if record is None and caller.isAdmin:
        # Admins list every server through the management API: an unknown name tells them nothing new, so
        # they get a plain "not found". Everyone else gets the same 403 as for a server they may not use.
        return Decision(caller=caller, missing=name)
    return Decision(caller=caller, server=require_use(caller, record))
