"""What a hosted server receives: trusted identity headers, and the caller's token only when it opted in."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from hosted_mcp.auth.forwarding import upstream_headers
from hosted_mcp.models.domain import Caller

CALLER = Caller(username="bob", groups=("finance", "ops"), credentialType="jwt")
INCOMING = {
    "Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.payload.signature",
    "Mcp-Session-Id": "abc",
    "MCP-Protocol-Version": "2025-06-18",
    "Last-Event-ID": "42",
    "Accept": "application/json, text/event-stream",
    "Cookie": "session=secret",
    "X-Api-Key": "hmk_0123456789abcdef_" + "a" * 43,
    "X-Hosted-Mcp-User": "alice",
    "x-hosted-mcp-groups": '["admins"]',
}


def test_by_default_the_token_is_stripped_and_identity_headers_are_set() -> None:
    headers = upstream_headers(INCOMING, CALLER, forward_caller_token=False)
    assert "Authorization" not in headers
    assert headers["X-Hosted-Mcp-User"] == "bob"
    assert json.loads(headers["X-Hosted-Mcp-Groups"]) == ["finance", "ops"]
    assert headers["X-Hosted-Mcp-Credential-Type"] == "jwt"


def test_mcp_transport_headers_pass_through() -> None:
    headers = upstream_headers(INCOMING, CALLER, forward_caller_token=False)
    for name in ("Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID", "Accept"):
        assert headers[name] == INCOMING[name]


@pytest.mark.parametrize("forward", [False, True])
def test_forged_identity_headers_and_platform_credentials_never_reach_the_server(forward: bool) -> None:
    headers = upstream_headers(INCOMING, CALLER, forward_caller_token=forward)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert "cookie" not in lowered
    assert "x-api-key" not in lowered
    assert lowered["x-hosted-mcp-user"] == "bob"
    assert json.loads(lowered["x-hosted-mcp-groups"]) == ["finance", "ops"]
    assert list(lowered).count("x-hosted-mcp-groups") == 1


def test_a_server_that_opted_in_receives_the_callers_jwt() -> None:
    headers = upstream_headers(INCOMING, CALLER, forward_caller_token=True)
    assert headers["Authorization"] == INCOMING["Authorization"]


def test_an_api_key_is_never_forwarded_even_to_a_server_that_opted_in() -> None:
    incoming = {"Authorization": "Bearer hmk_0123456789abcdef_" + "a" * 43}
    key_caller = CALLER.model_copy(update={"credentialType": "apiKey"})
    headers = upstream_headers(incoming, key_caller, forward_caller_token=True)
    assert "Authorization" not in headers


def test_identity_headers_are_header_safe_for_any_username() -> None:
    caller = Caller(username="zoë\r\nX-Evil: 1", groups=("grüppe",))
    headers = upstream_headers({}, caller, forward_caller_token=False)
    assert all(value.isascii() and "\r" not in value and "\n" not in value for value in headers.values())
    assert unquote(headers["X-Hosted-Mcp-User"]) == caller.username
    assert json.loads(headers["X-Hosted-Mcp-Groups"]) == ["grüppe"]
