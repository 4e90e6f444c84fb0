"""Focused protocol checks through the gateway (issue 10, "Show"): progress arrives before the result, sampling
and elicitation round-trip, a request whose MCP headers disagree with its body is refused before it reaches the
server, and a browser's CORS preflight is answered without credentials.

Each check runs against the stdio hosting (the case issue 10 is about) and, where the check is about the bridge,
against the HTTP hosting of the same server as the control that shows the check itself is sound.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.platform import LocalPlatform
from tests.support.clients import first_text, python_client

TESTS = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def conformance(platform: LocalPlatform) -> dict[str, dict]:
    """tests/servers/conformance_server.py hosted as stdio, as HTTP, and as HTTP with two replicas."""
    shutil.copytree(TESTS / "servers", platform.data_dir / "artifacts" / "bench-servers", dirs_exist_ok=True)
    created = {
        hosting: platform.create(
            {
                "name": f"checks-{hosting}",
                "serverType": hosting.split("-")[0],
                "startCommand": "python conformance_server.py",
                "s3Path": "bench-servers",
                "autoScalingConfig": {"minCapacity": replicas, "maxCapacity": replicas},
            }
        )
        for hosting, replicas in (("stdio", 1), ("http", 1), ("http-x2", 2))
    }
    records = {hosting: platform.wait(record["id"]) for hosting, record in created.items()}
    return {hosting: record for hosting, record in records.items() if record is not None}


@pytest.fixture(scope="module")
def witness(platform: LocalPlatform) -> dict:
    """An HTTP server that records the head of every request it receives (tests/e2e/servers/witness.py)."""
    shutil.copytree(TESTS / "e2e" / "servers", platform.data_dir / "artifacts" / "servers", dirs_exist_ok=True)
    created = platform.create(
        {"name": "witness", "serverType": "http", "startCommand": "python witness.py", "s3Path": "servers"}
    )
    record = platform.wait(created["id"])
    assert record is not None
    return record


# -- progress -----------------------------------------------------------------------------------------------------


async def _call_with_progress(url: str, token: str, steps: int, interval_ms: int) -> tuple[list[float], float, str]:
    started = time.monotonic()
    progress_at: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        progress_at.append(time.monotonic() - started)

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
    ):
        started = time.monotonic()
        result = await client.call_tool(
            "slow_progress", {"steps": steps, "intervalMs": interval_ms}, progress_callback=on_progress
        )
        return progress_at, time.monotonic() - started, first_text(result) or ""


@pytest.mark.parametrize("hosting", ["stdio", "http"])
def test_progress_of_a_long_tool_reaches_the_client_before_the_result(
    platform: LocalPlatform, conformance: dict[str, dict], hosting: str
) -> None:
    # Given a tool that reports progress every 400 ms for 4 steps, then answers
    url = conformance[hosting]["url"]

    # When a client calls it through the gateway, asking for progress
    coroutine = _call_with_progress(url, platform.token("ada"), steps=4, interval_ms=400)
    progress_at, answered_at, text = asyncio.run(asyncio.wait_for(coroutine, timeout=30))

    # Then every step arrived, each as it happened: the first well before the result, not all at once at the end
    assert text == "done after 4 steps"
    assert len(progress_at) == 4, progress_at
    assert progress_at[0] < answered_at - 0.8, (progress_at, answered_at)


# -- sampling and elicitation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("hosting", ["stdio", "http"])
def test_sampling_and_elicitation_round_trip(
    platform: LocalPlatform, conformance: dict[str, dict], hosting: str
) -> None:
    # Given a client that answers sampling ("sampled by the bench") and elicitation (accept)
    url, token = conformance[hosting]["url"], platform.token("ada")

    # When tools that ask the client for a model completion and for user input are called through the gateway
    sampled = python_client(url, token, "legacy", tool="test_sampling", arguments={"prompt": "hi"})
    elicited = python_client(url, token, "legacy", tool="test_elicitation", arguments={"message": "who?"})

    # Then each request reached the client and its answer came back into the tool's result
    assert sampled.ok, sampled.explain()
    assert sampled.text == "LLM response: sampled by the bench"
    assert elicited.ok, elicited.explain()
    assert elicited.text is not None
    assert elicited.text.startswith("User response: action=accept")


@pytest.mark.parametrize("hosting", ["stdio", "http", "http-x2"])
def test_a_current_revision_client_completes_a_multi_round_trip_call(
    platform: LocalPlatform, conformance: dict[str, dict], hosting: str
) -> None:
    # Given a client pinned to 2026-07-28 (no initialize, no session) that answers sampling
    url, token = conformance[hosting]["url"], platform.token("ada")

    # When it calls a tool that needs a model completion: the server answers input_required, the client retries
    # with its answer and the server's sealed request state (two independent POSTs through the gateway)
    outcome = python_client(url, token, "2026-07-28", tool="test_sampling", arguments={"prompt": "hi"})

    # Then the call completes in the current revision with the client's answer in the result
    assert outcome.ok, outcome.explain()
    assert outcome.protocol_version == "2026-07-28"
    assert outcome.text == "LLM response: sampled by the bench"


# -- header validation --------------------------------------------------------------------------------------------

MODERN = "2026-07-28"


def modern_call(name: str = "greet", version: str = MODERN) -> dict[str, Any]:
    meta = {"io.modelcontextprotocol/protocolVersion": version}
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": {}, "_meta": meta}}


def b64(value: str) -> str:
    return f"=?base64?{base64.b64encode(value.encode()).decode()}?="


MISMATCHES = {
    "method": {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list", "Mcp-Name": "greet"},
    "name": {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "other"},
    "name-base64": {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": b64("other")},
    "version-vs-meta": {"MCP-Protocol-Version": "2025-11-25", "Mcp-Method": "tools/call", "Mcp-Name": "greet"},
}


def post_through_gateway(platform: LocalPlatform, record: dict, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        record["url"],
        content=json.dumps(modern_call()),
        headers={
            "Authorization": f"Bearer {platform.token('ada')}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **headers,
        },
        timeout=10,
    )


def received(platform: LocalPlatform, record: dict) -> bytes:
    log = platform.workdir(record["id"]) / "heads.log"
    return log.read_bytes() if log.exists() else b""


@pytest.mark.parametrize("mismatch", list(MISMATCHES))
def test_headers_that_disagree_with_the_body_get_400_and_never_reach_the_server(
    platform: LocalPlatform, witness: dict, mismatch: str
) -> None:
    # Given a current-revision tools/call for "greet", and what the hosted server has received so far
    before = received(platform, witness)

    # When its MCP headers disagree with its body
    answer = post_through_gateway(platform, witness, MISMATCHES[mismatch])

    # Then the gateway refuses it with HTTP 400 and JSON-RPC -32020, and the server never sees it
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == -32020
    assert received(platform, witness) == before


def test_an_unsupported_protocol_version_gets_400_and_never_reaches_the_server(
    platform: LocalPlatform, witness: dict
) -> None:
    # Given a request claiming a revision no one speaks, in its header and its _meta alike
    before = received(platform, witness)
    body = modern_call(version="1999-01-01")

    # When it is posted through the gateway
    answer = httpx.post(
        witness["url"],
        content=json.dumps(body),
        headers={
            "Authorization": f"Bearer {platform.token('ada')}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "1999-01-01",
            "Mcp-Method": "tools/call",
            "Mcp-Name": "greet",
        },
        timeout=10,
    )

    # Then it is refused with 400 before the server
    assert answer.status_code == 400, answer.text
    assert received(platform, witness) == before


@pytest.mark.parametrize("name_header", ["greet", b64("greet")], ids=["plain", "base64"])
def test_headers_that_agree_with_the_body_reach_the_server(
    platform: LocalPlatform, witness: dict, name_header: str
) -> None:
    # Given a current-revision tools/call whose headers agree with its body (Mcp-Name plain or =?base64?...?=)
    before = received(platform, witness)
    headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name_header}

    # When it is posted through the gateway
    answer = post_through_gateway(platform, witness, headers)

    # Then the server receives it, headers intact, and answers
    assert answer.status_code == 200, answer.text
    arrived = received(platform, witness)[len(before) :].lower()
    assert b"mcp-method: tools/call" in arrived
    assert f"mcp-name: {name_header}".lower().encode() in arrived


# -- CORS ---------------------------------------------------------------------------------------------------------


def preflight(platform: LocalPlatform, record: dict, origin: str) -> httpx.Response:
    return httpx.options(
        record["url"],
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version, mcp-session-id",
        },
        timeout=10,
    )


def test_a_preflight_from_an_allowed_origin_gets_204_with_cors_headers(platform: LocalPlatform, witness: dict) -> None:
    # Given a page served from an allowed (loopback) origin
    origin = f"http://127.0.0.1:{platform.port}"

    # When the browser sends its preflight, which never carries credentials
    answer = preflight(platform, witness, origin)

    # Then it gets 204 with the CORS headers that let the real request through
    assert answer.status_code == 204, answer.text
    assert answer.headers["access-control-allow-origin"] == origin
    assert "POST" in answer.headers["access-control-allow-methods"].upper()
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "mcp-protocol-version", "mcp-session-id"} <= allowed


def test_a_preflight_from_a_foreign_origin_gets_no_cors_grant(platform: LocalPlatform, witness: dict) -> None:
    # Given a page on a foreign origin; When its browser sends a preflight
    answer = preflight(platform, witness, "http://evil.example")

    # Then nothing allows it: an error status and no Access-Control-Allow-Origin
    assert answer.status_code >= 400
    assert "access-control-allow-origin" not in answer.headers


def test_a_request_without_credentials_from_an_allowed_origin_is_still_refused(
    platform: LocalPlatform, witness: dict
) -> None:
    # Given an allowed origin; When it posts without a credential
    answer = httpx.post(
        witness["url"], json=modern_call(), headers={"Origin": f"http://127.0.0.1:{platform.port}"}, timeout=10
    )
    # Then only the preflight is exempt: the request itself is 401
    assert answer.status_code == 401
