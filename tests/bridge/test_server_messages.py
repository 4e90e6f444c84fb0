"""Every kind of server→client message reaches the session it belongs to, in both child modes, through the
official MCP Python SDK client: progress, logging, sampling, elicitation, roots, list_changed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.bridge.support import MODES, Peer, RunningBridge, run, session, text_of


@pytest.mark.parametrize("mode", MODES)
def test_progress_reaches_the_caller_before_the_answer(start_bridge: Callable[..., RunningBridge], mode: str) -> None:
    # Given a bridge hosting the companion server
    bridge = start_bridge(mode)
    seen: list[str] = []

    async def scenario() -> None:
        async with session(bridge.url, Peer("ada")) as client:

            async def progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append(f"progress {progress:g}/{total:g}")

            # When a tool reports progress three times before it answers
            result = await client.call_tool("count", {"steps": 3}, progress_callback=progress)
            seen.append(text_of(result))

    run(scenario())
    # Then the client saw each step, in order, before the answer
    assert seen == ["progress 1/3", "progress 2/3", "progress 3/3", "counted 3"]


@pytest.mark.parametrize("mode", MODES)
def test_logging_during_a_call_reaches_its_session(start_bridge: Callable[..., RunningBridge], mode: str) -> None:
    # Given a bridge and a client session
    bridge = start_bridge(mode)
    ada = Peer("ada")

    async def scenario() -> str:
        async with session(bridge.url, ada) as client:
            # When a tool sends a logging notification while it runs
            return text_of(await client.call_tool("shout", {"text": "hello log"}))

    answer = run(scenario())
    # Then the client's logging callback received it, and the call was answered
    assert answer == "shouted hello log"
    assert ada.logs == ["hello log"]


@pytest.mark.parametrize("mode", MODES)
def test_sampling_elicitation_and_roots_round_trip(start_bridge: Callable[..., RunningBridge], mode: str) -> None:
    # Given a bridge and a client that supports sampling, elicitation and roots
    bridge = start_bridge(mode)
    ada = Peer("ada")

    async def scenario() -> list[str]:
        async with session(bridge.url, ada) as client:
            # When tools ask the client for a completion, a value and its roots
            return [
                text_of(await client.call_tool("sample", {"prompt": "write a haiku"})),
                text_of(await client.call_tool("ask", {"question": "your name?"})),
                text_of(await client.call_tool("roots", {})),
            ]

    answers = run(scenario())
    # Then each request reached the client, and its answer reached the server
    assert answers == ["sampled by ada", "answer from ada", "file:///home/ada"]
    assert ada.sampled == ["write a haiku"]
    assert ada.elicited == ["your name?"]
    assert ada.roots_asked == 1


@pytest.mark.parametrize("mode", MODES)
def test_the_http_sse_transport_carries_the_same_messages(
    start_bridge: Callable[..., RunningBridge], mode: str
) -> None:
    # Given a bridge, and a client of the deprecated HTTP+SSE transport
    bridge = start_bridge(mode)
    ada = Peer("ada")
    steps: list[float] = []

    async def scenario() -> list[str]:
        async with session(f"{bridge.base}/sse", ada, transport="sse") as client:

            async def progress(progress: float, total: float | None, message: str | None) -> None:
                steps.append(progress)

            # When it calls tools that report progress, log and sample
            return [
                text_of(await client.call_tool("count", {"steps": 2}, progress_callback=progress)),
                text_of(await client.call_tool("shout", {"text": "over sse"})),
                text_of(await client.call_tool("sample", {"prompt": "p"})),
            ]

    answers = run(scenario())
    # Then everything travels on its one stream
    assert answers == ["counted 2", "shouted over sse", "sampled by ada"]
    assert steps == [1, 2]
    assert ada.logs == ["over sse"]
    assert ada.sampled == ["p"]


@pytest.mark.parametrize("mode", MODES)
def test_list_changed_reaches_the_sessions_of_the_changed_server(
    start_bridge: Callable[..., RunningBridge], mode: str
) -> None:
    # Given two client sessions on one bridge
    bridge = start_bridge(mode)
    ada, bob = Peer("ada"), Peer("bob")

    async def scenario() -> tuple[list[str], list[str]]:
        async with session(bridge.url, ada) as first, session(bridge.url, bob) as second:
            # When a tool in ada's session adds a tool
            await first.call_tool("grow", {"name": "sprout"})
            for _ in range(100):  # the notification travels on the GET stream, apart from the call's answer
                if "notifications/tools/list_changed" in ada.notifications + bob.notifications and (
                    mode == "per-session" or "notifications/tools/list_changed" in bob.notifications
                ):
                    break
                await asyncio.sleep(0.05)
            return (
                [t.name for t in (await first.list_tools()).tools],
                [t.name for t in (await second.list_tools()).tools],
            )

    ada_tools, bob_tools = run(scenario())
    # Then every session the changed server serves is told; in per-session mode that is ada's alone
    assert "notifications/tools/list_changed" in ada.notifications
    assert "sprout" in ada_tools
    if mode == "shared":
        assert "notifications/tools/list_changed" in bob.notifications
        assert "sprout" in bob_tools
    else:
        assert "notifications/tools/list_changed" not in bob.notifications
        assert "sprout" not in bob_tools
