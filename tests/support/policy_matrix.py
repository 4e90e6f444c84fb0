"""The tool-policy matrix every tier runs: one policy, four callers, what each may use written out by hand, and a
driver that tries everything through the official MCP Python SDK client and reports what it saw.

The expectations are literal sets, not computed by the decision function under test. A call counts as `denied`
only when the client got the policy's refusal (JSON-RPC error `FORBIDDEN`); `allowed` when the server answered
(even with an error of its own: `test_error_handling` always does). Lists are what the client received, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from hosted_mcp_gateway.calls import FORBIDDEN
from tests.servers import conformance_server

MODERN = "2026-07-28"
GROUPS = ["alpha", "beta", "gamma"]
POLICY: dict[str, Any] = {
    "alpha": {"tools": ["test_simple_text"], "prompts": ["test_simple_prompt"], "resources": ["test://static-text"]},
    "beta": {"tools": ["test_*_content", "test_error_handling"], "prompts": []},
    "*": {"tools": [], "prompts": ["test_prompt_*"], "resources": []},
}
EVERY = None  # what a rule that leaves a kind out allows

# caller -> (groups, what it may use of each kind): alpha and beta by their rules, alpha+beta the union of both,
# gamma (in no listed group) the `*` rule.
ALLOWED: dict[str, tuple[list[str], dict[str, set[str] | None]]] = {
    "alpha": (
        ["alpha"],
        {"tools": {"test_simple_text"}, "prompts": {"test_simple_prompt"}, "resources": {"test://static-text"}},
    ),
    "beta": (
        ["beta"],
        {
            "tools": {"test_image_content", "test_audio_content", "test_error_handling"},
            "prompts": set(),
            "resources": EVERY,
        },
    ),
    "gamma": (
        ["gamma"],
        {
            "tools": set(),
            "prompts": {"test_prompt_with_arguments", "test_prompt_with_embedded_resource", "test_prompt_with_image"},
            "resources": set(),
        },
    ),
    "alpha+beta": (
        ["alpha", "beta"],
        {
            "tools": {"test_simple_text", "test_image_content", "test_audio_content", "test_error_handling"},
            "prompts": {"test_simple_prompt"},
            "resources": EVERY,
        },
    ),
}
TOOLS_TRIED = ["test_simple_text", "test_image_content", "test_audio_content", "test_error_handling", "test_sampling"]
PROMPTS_TRIED = {
    "test_simple_prompt": {},
    "test_prompt_with_image": {},
    "test_prompt_with_arguments": {"arg1": "a", "arg2": "b"},
}
RESOURCES_TRIED = ["test://static-text", "test://static-binary", "test://template/7/data"]
SERVER_TOOLS = list(conformance_server.TOOLS)
SERVER_PROMPTS = [p.name for p in conformance_server.PROMPTS]
SERVER_RESOURCES = [str(r.uri) for r in conformance_server.RESOURCES]

# (era, transport): a 2026-07-28 client speaks streamable HTTP only; 2025 clients also the SSE transport.
CLIENTS = [("legacy", "streamable"), (MODERN, "streamable"), ("legacy", "sse")]


def matrix_cases(hostings: Iterable[str]) -> list[Any]:
    """Every (hosting, era, transport, caller) of the matrix, as pytest parameters; an HTTP server has no SSE
    transport."""
    return [
        pytest.param(hosting, era, transport, caller, id=f"{hosting}-{era}-{transport}-{caller}")
        for hosting in hostings
        for era, transport in CLIENTS
        if not (hosting == "http" and transport == "sse")
        for caller in ALLOWED
    ]


Observed = dict[tuple[str, str], Any]


def _may(allowed: set[str] | None, name: str) -> bool:
    return allowed is EVERY or name in allowed


def expected(caller: str) -> Observed:
    """What `probe` must report for `caller`: nothing more, nothing less."""
    rules = ALLOWED[caller][1]
    out: Observed = {
        ("tools/list", ""): [t for t in SERVER_TOOLS if _may(rules["tools"], t)],
        ("prompts/list", ""): [p for p in SERVER_PROMPTS if _may(rules["prompts"], p)],
        ("resources/list", ""): [r for r in SERVER_RESOURCES if _may(rules["resources"], r)],
    }
    for tool in TOOLS_TRIED:
        out[("tools/call", tool)] = "allowed" if _may(rules["tools"], tool) else "denied"
    for prompt in PROMPTS_TRIED:
        out[("prompts/get", prompt)] = "allowed" if _may(rules["prompts"], prompt) else "denied"
    for uri in RESOURCES_TRIED:
        out[("resources/read", uri)] = "allowed" if _may(rules["resources"], uri) else "denied"
    return out


def differences(observed: Observed, wanted: Observed) -> list[str]:
    """Every cell where what was seen is not what was expected (an unexpected allow, deny or list entry)."""
    return [
        f"{method} {name}: saw {observed.get((method, name))!r}, expected {want!r}"
        for (method, name), want in wanted.items()
        if observed.get((method, name)) != want
    ]


@dataclass(frozen=True)
class Endpoint:
    """Where a client connects: the streamable-HTTP URL and the SSE URL of one hosted server."""

    url: str
    sse_url: str


async def _probe(endpoint: Endpoint, headers: Mapping[str, str], era: str, transport: str) -> Observed:
    http = httpx2.AsyncClient(headers=dict(headers), timeout=20)
    connection = (
        sse_client(endpoint.sse_url, headers=dict(headers))
        if transport == "sse"
        else streamable_http_client(endpoint.url, http_client=http)
    )
    observed: Observed = {}

    async def attempt(key: tuple[str, str], call: Any) -> None:
        try:
            await call
            observed[key] = "allowed"
        except MCPError as error:
            observed[key] = "denied" if error.code == FORBIDDEN else f"error {error.code}: {error}"

    async with http, Client(connection, mode=era) as client:
        observed[("tools/list", "")] = [t.name for t in (await client.list_tools()).tools]
        observed[("prompts/list", "")] = [p.name for p in (await client.list_prompts()).prompts]
        observed[("resources/list", "")] = [str(r.uri) for r in (await client.list_resources()).resources]
        for tool in TOOLS_TRIED:
            arguments = {"prompt": "x"} if tool == "test_sampling" else {}
            await attempt(("tools/call", tool), client.call_tool(tool, arguments))
        for prompt, arguments in PROMPTS_TRIED.items():
            await attempt(("prompts/get", prompt), client.get_prompt(prompt, arguments))
        for uri in RESOURCES_TRIED:
            await attempt(("resources/read", uri), client.read_resource(uri))
    return observed


def probe(endpoint: Endpoint, headers: Mapping[str, str], era: str, transport: str) -> Observed:
    """One client session (`era`: "legacy" or MODERN; `transport`: "streamable" or "sse") trying everything."""
    return asyncio.run(asyncio.wait_for(_probe(endpoint, headers, era, transport), timeout=60))
