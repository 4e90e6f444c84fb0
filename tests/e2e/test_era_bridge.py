"""A client of the current revision (2026-07-28) using a server that speaks only the 2025 ones, through the gateway.

`@modelcontextprotocol/server-everything` in streamableHttp mode is such a server: sessions, `initialize`, server
requests on the response stream. The official Python SDK client pinned to 2026-07-28 gets the whole protocol from
it anyway: `server/discover`, progress before the result, sampling and elicitation as `input_required` rounds
(MRTR) whose retries may go to either of two replicas, and a clean refusal of what it did not declare.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import types
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.platform import LocalPlatform
from tests.support.clients import answer_elicitation, answer_sampling, first_text
from tests.support.conformance import NODE, missing_node_tools

LAUNCHER = Path(__file__).parents[1] / "servers" / "everything_loopback.mjs"
MODERN = "2026-07-28"


@pytest.fixture(scope="module")
def everything(platform: LocalPlatform) -> dict:
    """server-everything over streamable HTTP (2025 revisions only), with two replicas."""
    if missing := missing_node_tools():
        pytest.fail(f"not installed: {', '.join(missing)} (run `make install`)")
    created = platform.create(
        {
            "name": "bridged-everything",
            "serverType": "http",
            "startCommand": shlex.join([str(NODE), str(LAUNCHER), "streamableHttp"]),
            "autoScalingConfig": {"minCapacity": 2, "maxCapacity": 2},
        }
    )
    record = platform.wait(created["id"], timeout=120)
    assert record is not None
    return record


def modern_session(
    platform: LocalPlatform, record: dict, use: Callable[[Client], Awaitable[Any]], **callbacks: Any
) -> Any:
    async def run() -> Any:
        headers = {"Authorization": f"Bearer {platform.token('ada')}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(record["url"], http_client=http), mode=MODERN, **callbacks) as client,
        ):
            assert client.protocol_version == MODERN
            return await use(client)

    return asyncio.run(asyncio.wait_for(run(), timeout=60))


def test_discover_describes_the_legacy_server_in_the_current_revision(
    platform: LocalPlatform, everything: dict
) -> None:
    # When a current-revision client asks the bridged server what it is
    async def discover(client: Client) -> types.DiscoverResult:
        raw = await client.session.send_discover(MODERN)  # on the wire, not the pinned mode's assumption
        return types.DiscoverResult.model_validate(raw)

    found = modern_session(platform, everything, discover)

    # Then it learns the server's real identity and capabilities, and that both eras are served
    assert MODERN in found.supported_versions
    assert "2025-11-25" in found.supported_versions
    assert found.capabilities.tools is not None
    assert (found.meta or {}).get("io.modelcontextprotocol/serverInfo", {}).get("name")


def test_progress_of_a_long_tool_arrives_before_its_result(platform: LocalPlatform, everything: dict) -> None:
    progress: list[float] = []

    async def long_call(client: Client) -> types.CallToolResult:
        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append(value)

        return await client.call_tool(
            "trigger-long-running-operation", {"duration": 1, "steps": 3}, progress_callback=on_progress
        )

    result = modern_session(platform, everything, long_call)

    assert not result.is_error
    assert progress == [1, 2, 3]
    assert "completed" in (first_text(result) or "")


@pytest.mark.parametrize("attempt", range(3))  # the retry lands on either replica: it must not matter
def test_sampling_round_trips_as_input_required(platform: LocalPlatform, everything: dict, attempt: int) -> None:
    asked: list[str] = []

    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append(params.messages[0].content.text)  # type: ignore[union-attr]
        return await answer_sampling(context, params)

    async def sample(client: Client) -> types.CallToolResult:
        return await client.call_tool("trigger-sampling-request", {"prompt": f"attempt {attempt}"})

    result = modern_session(platform, everything, sample, sampling_callback=sampling)

    assert not result.is_error, first_text(result)
    assert asked == [f"Resource trigger-sampling-request context: attempt {attempt}"]
    assert "sampled by the bench" in (first_text(result) or "")


def test_elicitation_round_trips_as_input_required(platform: LocalPlatform, everything: dict) -> None:
    async def elicit(client: Client) -> types.CallToolResult:
        return await client.call_tool("trigger-elicitation-request", {})

    result = modern_session(platform, everything, elicit, elicitation_callback=answer_elicitation)

    assert not result.is_error, first_text(result)
    assert "provided the requested information" in (first_text(result) or "")  # its answer to "accept"


def test_a_server_request_the_client_did_not_declare_is_refused_not_left_hanging(
    platform: LocalPlatform, everything: dict
) -> None:
    # Given a client that declares no sampling
    async def sample(client: Client) -> types.CallToolResult:
        return await client.call_tool("trigger-sampling-request", {"prompt": "x"})

    # When it calls a tool that asks for sampling
    result = modern_session(platform, everything, sample)

    # Then the call ends (with the server's error), it does not wait for an answer nobody will give
    assert result.is_error
