"""Who may do what: one table of routes and roles, and one rule for using a server.

The Lambda authorizer, the management API and the local gateway all read this module, so a route cannot be
admin-only in one place and open in another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from hosted_mcp.errors import Forbidden, Unauthorized
from hosted_mcp.models.domain import Caller, ServerRecord


class Role(StrEnum):
    PUBLIC = "public"  # no credential needed (the OpenAPI document)
    USER = "user"  # any authenticated caller
    ADMIN = "admin"  # members of the admin group


@dataclass(frozen=True)
class RouteRule:
    method: str
    path: str  # API Gateway form: /mcp/{serverId}
    role: Role

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.path)) + "$")


# Every route of the management API, with the role it needs. The resolver refuses to register a route that is
# not in this table, and the authorizer denies any (method, resource) that is not in it or on the data plane.
MANAGEMENT_ROUTES: tuple[RouteRule, ...] = (
    RouteRule("POST", "/mcp", Role.ADMIN),
    RouteRule("GET", "/mcp", Role.ADMIN),
    RouteRule("GET", "/mcp/{serverId}", Role.ADMIN),
    RouteRule("PUT", "/mcp/{serverId}", Role.ADMIN),
    RouteRule("DELETE", "/mcp/{serverId}", Role.ADMIN),
    RouteRule("GET", "/mcp/{serverId}/audit", Role.ADMIN),
    RouteRule("POST", "/api-keys", Role.ADMIN),
    RouteRule("GET", "/api-keys", Role.ADMIN),
    RouteRule("DELETE", "/api-keys/{keyId}", Role.ADMIN),
    RouteRule("GET", "/connections", Role.USER),
    RouteRule("GET", "/openapi.json", Role.PUBLIC),
)

# The data plane: /mcp/{normalizedName}/mcp (streamable HTTP), /mcp/{normalizedName}/sse and the SSE transport's
# message endpoint /mcp/{normalizedName}/messages/, with the methods the MCP transports use.
DATA_PLANE_PATH = re.compile(r"^/mcp/(?P<name>[a-z0-9]{1,100})/(?P<transport>mcp|sse|messages)(?:/[^*?]*)?$")
DATA_PLANE_METHODS = frozenset({"GET", "POST", "DELETE"})


def rule_for(method: str, path: str) -> RouteRule | None:
    """The management route a request is for, matched on its template (`/mcp/{serverId}`) or its real path."""
    for rule in MANAGEMENT_ROUTES:
        if rule.method == method and (rule.path == path or rule.pattern.match(path)):
            return rule
    return None


def data_plane_server(method: str, path: str) -> str | None:
    """The normalised server name a data-plane request is for, or None when it is not a data-plane request."""
    match = DATA_PLANE_PATH.match(path)
    if match is None or method not in DATA_PLANE_METHODS:
        return None
    return match.group("name")


def require_role(caller: Caller | None, role: Role) -> Caller | None:
    """The caller when `role` allows them; Unauthorized without a caller, Forbidden without the role."""
    if role is Role.PUBLIC:
        return caller
    if caller is None:
        raise Unauthorized("Authentication required")
    if role is Role.ADMIN and not caller.isAdmin:
        raise Forbidden("This operation requires the admin group")
    return caller


def may_use(caller: Caller, record: ServerRecord) -> bool:
    """A server is usable by a caller when it is public or the caller is in one of its groups.

    The same rule decides what /connections lists and whether a data-plane call goes through; being an admin
    does not bypass it (admins manage servers; using one is a matter of groups like for everyone else).
    """
    return caller.may_use(record.spec)


def require_use(caller: Caller, record: ServerRecord | None) -> ServerRecord:
    """The record when the caller may use it; Forbidden otherwise, also when it does not exist (no probing)."""
    if record is None or not may_use(caller, record):
        raise Forbidden("Not allowed to use this server")
    return record
