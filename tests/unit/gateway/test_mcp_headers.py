"""Mirrored MCP headers must agree with the body (MCP 2026-07-28, Streamable HTTP, Server Validation)."""

from __future__ import annotations

import base64
import json

import pytest

from hosted_mcp_gateway.mcp_headers import HeaderProblem, validate

MODERN = "2026-07-28"


def call(method: str = "tools/call", version: str | None = MODERN, **params: object) -> bytes:
    meta = {"io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {}}
    body_params = {**params, "_meta": meta} if version else dict(params)
    return json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": body_params}).encode()


def headers(**values: str) -> dict[str, str]:
    return {k.replace("_", "-").lower(): v for k, v in values.items()}


def refused(headers_: dict[str, str], body: bytes) -> dict:
    with pytest.raises(HeaderProblem) as caught:
        validate(headers_, body)
    return caught.value.body


def test_a_modern_call_whose_headers_agree_passes_as_modern() -> None:
    request = validate(
        headers(mcp_protocol_version=MODERN, mcp_method="tools/call", mcp_name="greet"), call(name="greet")
    )
    assert (request.era, request.method, request.id) == ("modern", "tools/call", 7)


@pytest.mark.parametrize(
    ("sent", "body", "what"),
    [
        ({"mcp_protocol_version": MODERN, "mcp_method": "tools/list"}, call(name="greet"), "mcp-method"),
        (
            {"mcp_protocol_version": MODERN, "mcp_method": "tools/call", "mcp_name": "other"},
            call(name="greet"),
            "mcp-name",
        ),
        ({"mcp_protocol_version": MODERN, "mcp_method": "tools/call"}, call(name="greet"), "mcp-name is required"),
        ({"mcp_protocol_version": MODERN}, call("tools/list"), "mcp-method is required"),
        ({"mcp_method": "tools/list"}, call("tools/list"), "MCP-Protocol-Version header missing"),
        (
            {"mcp_protocol_version": "2025-11-25", "mcp_method": "tools/list"},
            call("tools/list"),
            "MCP-Protocol-Version",
        ),
        (
            {"mcp_protocol_version": MODERN, "mcp_method": "resources/read", "mcp_name": "file:///b"},
            call("resources/read", uri="file:///a"),
            "mcp-name",
        ),
    ],
)
def test_a_mismatch_is_a_header_mismatch_error(sent: dict[str, str], body: bytes, what: str) -> None:
    error = refused(headers(**sent), body)
    assert error["error"]["code"] == -32020
    assert error["id"] == 7
    assert what in error["error"]["message"]


def test_a_name_may_come_base64_encoded_and_is_compared_decoded() -> None:
    name = "grüße 世界"
    encoded = "=?base64?" + base64.b64encode(name.encode()).decode() + "?="
    request = validate(headers(mcp_protocol_version=MODERN, mcp_method="tools/call", mcp_name=encoded), call(name=name))
    assert request.era == "modern"

    broken = headers(mcp_protocol_version=MODERN, mcp_method="tools/call", mcp_name="=?base64?%%%?=")
    assert refused(broken, call(name=name))["error"]["code"] == -32020


def test_a_version_the_platform_does_not_serve_names_the_ones_it_does() -> None:
    error = refused(headers(mcp_protocol_version="2099-01-01"), call("tools/list", version="2099-01-01"))
    assert error["error"]["code"] == -32022
    assert error["error"]["data"]["requested"] == "2099-01-01"
    assert "2026-07-28" in error["error"]["data"]["supported"]


def test_legacy_requests_need_no_mirrored_headers_but_those_sent_must_agree() -> None:
    initialize = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}).encode()
    assert validate(headers(mcp_protocol_version="2025-06-18"), initialize).era == "legacy"
    assert validate({}, initialize).era == "legacy"
    assert refused(headers(mcp_method="tools/list"), initialize)["error"]["code"] == -32020


def test_a_body_that_is_not_one_message_is_left_to_the_server_unless_modern() -> None:
    assert validate({}, b"[1, 2]").message is None
    assert refused(headers(mcp_protocol_version=MODERN), b"not json")["error"]["code"] == -32600
