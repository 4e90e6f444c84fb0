"""The role x route matrix as data, so the same cases run against any gateway.

A gateway under test is anything that can take a `MatrixRequest` and answer with an HTTP status code: the Lambda
authorizer + management API handler in-process (tests/integration/test_auth_matrix.py), or the local gateway over
HTTP. The harness that drives a gateway provides:

- an IdP whose tokens the gateway trusts, configured with `ADMIN_GROUP` as the admin group;
- the API keys of `PRINCIPALS` (issued with their groups; one expired, one revoked);
- the servers of `SERVERS`, InService, reachable by their normalised names.

Then `matrix_cases()` lists every (principal, route) pair with the expected `Outcome`; `outcome_of(status)` turns
the gateway's answer into one. Zero mismatches is the bar: no unexpected allow, no unexpected deny.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hosted_mcp.auth.roles import MANAGEMENT_ROUTES, Role

ADMIN_GROUP = "admins"
MEMBER_GROUP = "finance"
OTHER_GROUP = "marketing"


class Outcome(StrEnum):
    ALLOW = "allow"  # the request went past authentication and authorization (any status but 401/403)
    UNAUTHENTICATED = "401"
    FORBIDDEN = "403"


def outcome_of(status_code: int) -> Outcome:
    if status_code == 401:
        return Outcome.UNAUTHENTICATED
    if status_code == 403:
        return Outcome.FORBIDDEN
    return Outcome.ALLOW


class CredentialKind(StrEnum):
    NONE = "none"
    JWT = "jwt"
    API_KEY = "apiKey"


@dataclass(frozen=True)
class Principal:
    name: str
    kind: CredentialKind
    username: str = ""
    groups: tuple[str, ...] = ()
    expired: bool = False
    revoked: bool = False

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    @property
    def authenticates(self) -> bool:
        return self.kind is not CredentialKind.NONE and not self.expired and not self.revoked


PRINCIPALS: tuple[Principal, ...] = (
    Principal("admin", CredentialKind.JWT, "alice", (ADMIN_GROUP,)),
    Principal("member", CredentialKind.JWT, "bob", (MEMBER_GROUP,)),
    Principal("non-member", CredentialKind.JWT, "carol", (OTHER_GROUP,)),
    Principal("anonymous", CredentialKind.NONE),
    Principal("api-key", CredentialKind.API_KEY, "apikey/ci-agent", (MEMBER_GROUP,)),
    Principal("expired-api-key", CredentialKind.API_KEY, "apikey/old-agent", (MEMBER_GROUP,), expired=True),
    Principal("revoked-api-key", CredentialKind.API_KEY, "apikey/gone-agent", (MEMBER_GROUP,), revoked=True),
)


@dataclass(frozen=True)
class SeedServer:
    key: str  # how paths refer to it: {<key>.id} / {<key>.name}
    name: str
    groups: tuple[str, ...]  # as sent in the create request; empty means lisa:public

    @property
    def normalized(self) -> str:
        return "".join(ch for ch in self.name.lower() if ch.isalnum())


SERVERS: tuple[SeedServer, ...] = (
    SeedServer("private", "finance-tools", (MEMBER_GROUP,)),
    SeedServer("public", "public-tools", ()),
)


@dataclass(frozen=True)
class MatrixRoute:
    """A request shape; `{private.id}`, `{public.name}`, `{keyId}` are filled in by the harness."""

    method: str
    path: str
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    label: str = ""

    def json_body(self) -> str | None:
        return None if self.body is None else json.dumps(self.body)


CREATE_BODY = {"name": "made-by-matrix", "serverType": "stdio", "startCommand": "python server.py"}

MANAGEMENT: tuple[tuple[MatrixRoute, Role], ...] = (
    (MatrixRoute("POST", "/mcp", CREATE_BODY, label="create server"), Role.ADMIN),
    (MatrixRoute("GET", "/mcp", label="list servers"), Role.ADMIN),
    (MatrixRoute("GET", "/mcp/{private.id}", label="get server"), Role.ADMIN),
    (MatrixRoute("PUT", "/mcp/{private.id}", {"description": "changed"}, label="update server"), Role.ADMIN),
    (MatrixRoute("DELETE", "/mcp/{public.id}", label="delete server"), Role.ADMIN),
    (MatrixRoute("GET", "/mcp/{private.id}/audit", label="audit trail"), Role.ADMIN),
    (MatrixRoute("POST", "/api-keys", {"name": "new-agent", "groups": [MEMBER_GROUP]}, label="issue key"), Role.ADMIN),
    (MatrixRoute("GET", "/api-keys", label="list keys"), Role.ADMIN),
    (MatrixRoute("DELETE", "/api-keys/{keyId}", label="revoke key"), Role.ADMIN),
    (MatrixRoute("GET", "/connections", label="my connections"), Role.USER),
    (MatrixRoute("GET", "/openapi.json", label="openapi document"), Role.PUBLIC),
)

# Data plane: (route, server key or None for a server that does not exist).
DATA_PLANE: tuple[tuple[MatrixRoute, str | None], ...] = (
    *(
        (MatrixRoute(method, f"/mcp/{{{key}.name}}/{transport}", label=f"{method} {transport.strip('/')} {key}"), key)
        for key in ("private", "public")
        for transport, methods in (("mcp", ("POST", "GET", "DELETE")), ("sse", ("GET",)), ("messages/", ("POST",)))
        for method in methods
    ),
    (MatrixRoute("POST", "/mcp/nosuchserver/mcp", label="POST mcp missing"), None),
)


@dataclass(frozen=True)
class MatrixCase:
    principal: Principal
    route: MatrixRoute
    expected: Outcome

    @property
    def id(self) -> str:
        return f"{self.principal.name}:{self.route.label or self.route.method + ' ' + self.route.path}"


def expected_management(principal: Principal, role: Role) -> Outcome:
    if role is Role.PUBLIC:
        return Outcome.ALLOW
    if not principal.authenticates:
        return Outcome.UNAUTHENTICATED
    if role is Role.ADMIN and not principal.is_admin:
        return Outcome.FORBIDDEN
    return Outcome.ALLOW


def expected_data_plane(principal: Principal, server: SeedServer | None) -> Outcome:
    """Usable when public or the caller shares one of its groups; being admin does not bypass groups.

    A name that matches no server is refused like a foreign server (no probing), except for admins, who can list
    every server anyway: they are let through to a "not found".
    """
    if not principal.authenticates:
        return Outcome.UNAUTHENTICATED
    if server is None:
        return Outcome.ALLOW if principal.is_admin else Outcome.FORBIDDEN
    if not server.groups or set(server.groups) & set(principal.groups):
        return Outcome.ALLOW
    return Outcome.FORBIDDEN


def matrix_cases() -> list[MatrixCase]:
    servers = {s.key: s for s in SERVERS}
    cases = [MatrixCase(p, route, expected_management(p, role)) for p in PRINCIPALS for route, role in MANAGEMENT]
    cases += [
        MatrixCase(p, route, expected_data_plane(p, servers.get(key) if key else None))
        for p in PRINCIPALS
        for route, key in DATA_PLANE
    ]
    return cases


def every_management_route_covered() -> set[tuple[str, str]]:
    """(method, path template) of MANAGEMENT_ROUTES that no matrix route exercises (should be empty)."""
    covered = {(r.method, _template(r.path)) for r, _ in MANAGEMENT}
    return {(r.method, r.path) for r in MANAGEMENT_ROUTES} - covered


def _template(path: str) -> str:
    return path.replace("{private.id}", "{serverId}").replace("{public.id}", "{serverId}")


def fill(path: str, values: dict[str, str]) -> str:
    """A concrete path: `{private.id}` -> values["private.id"], etc."""
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path
