"""The authentication suite against the local gateway: a real `hosted-mcp serve`, over HTTP.

The same data as the AWS side runs in-process (tests/integration/test_auth_matrix.py and
tests/unit/auth/test_jwt_attacks.py): the role x route matrix of tests/support/auth_matrix.py and the attack
catalogue of tests/support/jwt_attacks.py, here against the one-machine platform with its own issuer. Attack
tokens are built from the issuer's own key in the data directory (as `LocalIssuer` loads it), so every attack
differs from an honest token by the attack alone.

The local issuer's admin group is `admin`; the matrix's admin principal carries it instead of the matrix's
`admins` (only membership of the admin group matters to the rules).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from hosted_mcp.auth import new_key
from hosted_mcp.logic.servers import utc_now
from hosted_mcp_local.identity import ADMIN_GROUP as LOCAL_ADMIN_GROUP
from hosted_mcp_local.identity import AUDIENCE, GROUPS_CLAIM, ISSUER, LocalIssuer
from hosted_mcp_local.platform import DB_FILE
from hosted_mcp_local.store import SqliteApiKeyStore, SqliteServerStore
from tests.e2e.platform import LocalPlatform, stdio_greeter
from tests.support.auth_matrix import (
    ADMIN_GROUP,
    PRINCIPALS,
    SERVERS,
    CredentialKind,
    MatrixCase,
    MatrixRoute,
    Outcome,
    Principal,
    fill,
    matrix_cases,
    outcome_of,
)
from tests.support.jwt_attacks import ATTACKS, MALFORMED_AUTHORIZATION, Attack
from tests.support.tokens import TestIdp

DOOMED = "doomed"  # the server the matrix's "delete server" route deletes, so the public one stays for the rest


@dataclass
class LocalAuth:
    platform: LocalPlatform
    http: httpx.Client
    idp: TestIdp
    credentials: dict[str, dict[str, str]]
    values: dict[str, str]

    def send(self, headers: dict[str, str], route: MatrixRoute) -> tuple[int, dict[str, str], str]:
        """Status, headers and (for a refusal) body; an allowed stream (SSE) is closed after its headers."""
        values = dict(self.values)
        if route.method == "DELETE" and route.path == "/mcp/{public.id}":
            values["public.id"] = values[f"{DOOMED}.id"]
        body = route.json_body()
        request_headers = {**headers, **({"Content-Type": "application/json"} if body is not None else {})}
        request_headers.setdefault("Accept", "application/json, text/event-stream")
        path = fill(route.path, values)
        with self.http.stream(route.method, path, headers=request_headers, content=body, params=route.query) as answer:
            text = answer.read().decode(errors="replace") if answer.status_code in (401, 403) else ""
            return answer.status_code, dict(answer.headers), text


def _groups(principal: Principal) -> list[str]:
    return [LOCAL_ADMIN_GROUP if g == ADMIN_GROUP else g for g in principal.groups]


def _seed_expired_key(platform: LocalPlatform, principal: Principal) -> str:
    """A key issued ten days ago for one day, written to the platform's store (the API issues no expired keys)."""
    created = utc_now() - timedelta(days=10)
    issued = new_key(
        name=principal.name,
        owner=principal.username,
        groups=tuple(_groups(principal)),
        created_by="root",
        now=created,
        expires_at=created + timedelta(days=1),
    )
    store = SqliteServerStore(platform.data_dir / DB_FILE)
    try:
        SqliteApiKeyStore(store).put(issued.record)
    finally:
        store.close()
    return issued.secret


def _issue_key(api: httpx.Client, principal: Principal) -> dict[str, str]:
    body = {"name": principal.name, "owner": principal.username, "groups": _groups(principal)}
    issued = api.post("/api-keys", json=body)
    assert issued.status_code == 201, issued.text
    return dict(issued.json())


def _credentials(platform: LocalPlatform, api: httpx.Client, principal: Principal) -> dict[str, str]:
    if principal.kind is CredentialKind.NONE:
        return {}
    if principal.kind is CredentialKind.JWT:
        return {"Authorization": f"Bearer {platform.token(principal.username, _groups(principal))}"}
    if principal.expired:
        return {"X-Api-Key": _seed_expired_key(platform, principal)}
    issued = _issue_key(api, principal)
    if principal.revoked:
        assert api.delete(f"/api-keys/{issued['keyId']}").status_code == 200
    # Locally keys go in X-Api-Key (the authorizer on AWS reads them from Authorization; both reach one check).
    return {"X-Api-Key": issued["apiKey"]}


def _issuer_as_test_idp(platform: LocalPlatform) -> TestIdp:
    """The local issuer's key, kid, iss, aud and groups claim, as the attack builders take them."""
    issuer = LocalIssuer(platform.data_dir)
    key = serialization.load_pem_private_key(issuer.key_path.read_bytes(), password=None)
    return TestIdp(issuer=ISSUER, audience=AUDIENCE, rsa_key=key, rsa_kid=issuer.kid, groups_claim=GROUPS_CLAIM)


@pytest.fixture(scope="module")
def local(platform: LocalPlatform) -> Iterator[LocalAuth]:
    values: dict[str, str] = {}
    seeds = [(s.key, stdio_greeter(s.name, groups=list(s.groups))) for s in SERVERS]
    seeds.append((DOOMED, stdio_greeter(DOOMED)))
    created = {key: platform.create(body) for key, body in seeds}
    for key, record in created.items():
        values[f"{key}.id"], values[f"{key}.name"] = record["id"], record["normalizedName"]
    for server in SERVERS:
        platform.wait(created[server.key]["id"])
    with platform.admin() as api:
        credentials = {p.name: _credentials(platform, api, p) for p in PRINCIPALS}
        values["keyId"] = _issue_key(api, Principal("victim", CredentialKind.API_KEY, "apikey/victim"))["keyId"]
    with httpx.Client(base_url=platform.url, timeout=30) as http:
        yield LocalAuth(platform, http, _issuer_as_test_idp(platform), credentials, values)


# -- the role x route matrix ---------------------------------------------------------------------------------

CASES = matrix_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_role_by_route(local: LocalAuth, case: MatrixCase) -> None:
    # Given the caller and route of this case, When the request reaches the local gateway over HTTP
    status, headers, body = local.send(local.credentials[case.principal.name], case.route)
    # Then the outcome is the one the AWS gateway gives: no surprise allow or deny
    assert outcome_of(status) is case.expected, f"status {status}: {body}"
    # And a 401 challenges for a bearer credential while a 403 does not (credentials would not help)
    challenge = {k.lower(): v for k, v in headers.items()}.get("www-authenticate")
    if status == 401:
        assert challenge is not None
        assert challenge.startswith("Bearer")
    else:
        assert challenge is None
    # And a refusal never echoes the credential it refused
    for secret in local.credentials[case.principal.name].values():
        assert secret.removeprefix("Bearer ") not in body


def test_the_matrix_reaches_real_servers(local: LocalAuth) -> None:
    # Given the private server settled after the matrix's admin updated it
    local.platform.wait(local.values["private.id"])
    # When a member's allowed data-plane call goes through, Then the server itself answers: an MCP session starts
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    route = MatrixRoute("POST", "/mcp/{private.name}/mcp", initialize)
    status, headers, _ = local.send(local.credentials["member"], route)
    assert status == 200
    assert {k.lower() for k in headers} >= {"mcp-session-id"}


# -- JWT attacks -----------------------------------------------------------------------------------------------


# A management route any user may call, and the public server's data plane (no group needed).
PROBES = (MatrixRoute("GET", "/connections"), MatrixRoute("POST", "/mcp/{public.name}/mcp", {}))


@pytest.fixture(scope="module")
def attacker() -> TestIdp:
    return TestIdp()


def _assert_refused(local: LocalAuth, authorization: str) -> None:
    credential = authorization.partition(" ")[2].strip()
    for route in PROBES:
        status, headers, body = local.send({"Authorization": authorization}, route)
        assert status == 401, (route.path, status, body)
        assert {k.lower(): v for k, v in headers.items()}["www-authenticate"].startswith("Bearer")
        assert len(credential) < 16 or credential not in body


def _assert_control_accepted(local: LocalAuth) -> None:
    control = f"Bearer {local.idp.mint('bob', ['finance'])}"
    for route in PROBES:
        status, _, body = local.send({"Authorization": control}, route)
        assert outcome_of(status) is Outcome.ALLOW, (route.path, status, body)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_jwt_attack_is_rejected_while_a_valid_token_is_accepted(
    local: LocalAuth, attacker: TestIdp, attack: Attack
) -> None:
    # Given the local issuer accepts an honest token on both planes
    _assert_control_accepted(local)
    # When the attack's token is presented, claiming the admin group where it can
    token = attack.build(local.idp, attacker, LOCAL_ADMIN_GROUP)
    # Then both planes answer 401 with a challenge, and never echo the token
    _assert_refused(local, f"Bearer {token}")


# HTTP/1.1 has no trailing whitespace in a header value ("Bearer " arrives as "Bearer", which is covered).
@pytest.mark.parametrize("value", [v for v in MALFORMED_AUTHORIZATION if v == v.strip()])
def test_malformed_authorization_header_is_rejected(local: LocalAuth, value: str) -> None:
    _assert_refused(local, value)
