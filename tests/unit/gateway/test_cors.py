"""CORS: a preflight from a trusted origin is granted without credentials; a foreign origin is refused."""

from __future__ import annotations

from hosted_mcp_gateway.cors import grant, is_preflight, preflight
from hosted_mcp_gateway.trusted_host import TrustedHosts

HOSTS = TrustedHosts(["mcp.example.com"])


def test_a_preflight_from_a_trusted_origin_is_granted_with_the_mcp_headers_it_asked_for() -> None:
    asked = {
        "origin": "https://mcp.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "Authorization, Content-Type, Mcp-Protocol-Version, Mcp-Param-Region, X-Evil",
    }
    assert is_preflight("OPTIONS", asked)

    status, headers = preflight(asked, HOSTS)

    granted = dict(headers)
    assert status == 204
    assert granted[b"access-control-allow-origin"] == b"https://mcp.example.com"
    assert b"POST" in granted[b"access-control-allow-methods"]
    allowed = granted[b"access-control-allow-headers"].split(b", ")
    assert allowed == [b"authorization", b"content-type", b"mcp-protocol-version", b"mcp-param-region"]


def test_a_preflight_from_a_foreign_origin_is_refused() -> None:
    status, headers = preflight({"origin": "https://evil.example", "access-control-request-method": "POST"}, HOSTS)
    assert status == 403
    assert b"access-control-allow-origin" not in dict(headers)


def test_answers_to_a_trusted_origin_expose_the_session_id_and_others_get_nothing() -> None:
    exposed = dict(grant("http://localhost:5173", HOSTS))
    assert exposed[b"access-control-allow-origin"] == b"http://localhost:5173"
    assert b"Mcp-Session-Id" in exposed[b"access-control-expose-headers"]
    assert grant(None, HOSTS) == []
    assert grant("https://evil.example", HOSTS) == []


def test_an_options_request_without_cors_headers_is_not_a_preflight() -> None:
    assert not is_preflight("OPTIONS", {"origin": "http://localhost"})
    assert not is_preflight("POST", {"origin": "http://localhost", "access-control-request-method": "POST"})
