"""Sessions never see each other's messages: answers and progress by id and token (both modes, with ids and
tokens that collide across sessions), and server→client requests by the rule in routing.py, which in shared
mode refuses rather than guesses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from mcp.shared.exceptions import MCPError

from tests.bridge.support import MODES, Peer, RunningBridge, run, session, text_of


@pytest.mark.parametrize("mode", MODES)
def test_two_concurrent_sessions_never_see_each_others_answers(
    start_bridge: Callable[..., RunningBridge], mode: str
) -> None:
    # Given two sessions on one bridge, whose clients number their requests (and progress tokens) alike
    bridge = start_bridge(mode)
    seen: dict[str, list[float]] = {"ada": [], "bob": []}

    async def caller(name: str) -> list[str]:
        async with session(bridge.url, Peer(name)) as client:

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                seen[name].append(progress)

            # When both call tools concurrently, many calls in flight at once in each session
            calls = [client.call_tool("echo", {"text": f"{name}-{i}"}) for i in range(25)]
            calls.append(client.call_tool("count", {"steps": 4}, progress_callback=on_progress))
            return [text_of(r) for r in await asyncio.gather(*calls)]

    async def both() -> list[list[str]]:
        return list(await asyncio.gather(caller("ada"), caller("bob")))

    ada, bob = run(both())
    # Then each session got exactly its own answers and its own progress
    assert ada == [f"ada-{i}" for i in range(25)] + ["counted 4"]
    assert bob == [f"bob-{i}" for i in range(25)] + ["counted 4"]
    assert seen == {"ada": [1, 2, 3, 4], "bob": [1, 2, 3, 4]}


@pytest.mark.parametrize("mode", MODES)
def test_a_server_request_goes_to_the_session_whose_call_asked(
    start_bridge: Callable[..., RunningBridge], mode: str
) -> None:
    # Given two sessions, ada idle and bob calling a tool that samples
    bridge = start_bridge(mode)
    ada, bob = Peer("ada"), Peer("bob")

    async def scenario() -> str:
        async with session(bridge.url, ada), session(bridge.url, bob) as second:
            return text_of(await second.call_tool("sample", {"prompt": "bob's secret"}))

    # When the server asks for a completion
    answer = run(scenario())
    # Then bob's client was asked and answered, and ada never saw the prompt
    assert answer == "sampled by bob"
    assert bob.sampled == ["bob's secret"]
    assert ada.sampled == []


def test_shared_mode_refuses_a_server_request_it_cannot_attribute(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given one shared child, and ada's call still in flight
    bridge = start_bridge("shared")
    ada, bob = Peer("ada"), Peer("bob")

    async def scenario() -> tuple[str, str]:
        async with session(bridge.url, ada) as first, session(bridge.url, bob) as second:
            holding = asyncio.ensure_future(first.call_tool("hold", {"seconds": 1.5, "text": "ada done"}))
            await asyncio.sleep(0.3)
            # When bob's tool asks for a completion while requests of both sessions are in flight
            with pytest.raises(MCPError) as refused:
                await second.call_tool("sample", {"prompt": "bob's secret"})
            return str(refused.value), text_of(await holding)

    message, held = run(scenario())
    # Then the bridge refuses it to the server instead of guessing (the tool fails): nobody is shown bob's prompt
    assert "cannot tell which session this is for" in message
    assert ada.sampled == bob.sampled == []
    # And ada's call is unaffected
    assert held == "ada done"


def test_shared_mode_refuses_a_capability_the_session_did_not_declare(
    start_bridge: Callable[..., RunningBridge],
) -> None:
    # Given a shared child, a session whose client supports no sampling, and another that does
    bridge = start_bridge("shared")
    ada, bob = Peer("ada"), Peer("bob")

    async def scenario() -> str:
        async with session(bridge.url, ada, sampling=False) as first, session(bridge.url, bob):
            # When a tool of ada's session asks for a completion
            with pytest.raises(MCPError) as refused:
                await first.call_tool("sample", {"prompt": "ada's secret"})
            return str(refused.value)

    message = run(scenario())
    # Then it is refused (the bridge declared sampling to the child on every client's behalf), not sent to bob
    assert "did not declare the sampling capability" in message
    assert bob.sampled == []


def test_per_session_mode_serves_concurrent_server_requests(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given per-session children, and ada's call still in flight
    bridge = start_bridge("per-session")
    ada, bob = Peer("ada"), Peer("bob")

    async def scenario() -> list[str]:
        async with session(bridge.url, ada) as first, session(bridge.url, bob) as second:
            # When both sessions' tools ask their client for a completion at the same time
            results = await asyncio.gather(
                first.call_tool("sample", {"prompt": "ada's"}), second.call_tool("sample", {"prompt": "bob's"})
            )
            return [text_of(r) for r in results]

    # Then each was asked its own
    assert run(scenario()) == ["sampled by ada", "sampled by bob"]
    assert ada.sampled == ["ada's"]
    assert bob.sampled == ["bob's"]


@pytest.mark.parametrize("mode", MODES)
def test_logging_after_the_answer_goes_to_the_standalone_stream(
    start_bridge: Callable[..., RunningBridge], mode: str
) -> None:
    # Given two sessions, and a tool that logs a moment after it has answered (no request in flight any more)
    bridge = start_bridge(mode)
    ada, bob = Peer("ada"), Peer("bob")

    async def scenario() -> None:
        async with session(bridge.url, ada) as first, session(bridge.url, bob):
            await first.call_tool("murmur", {"text": "later", "delay": 0.2})
            for _ in range(60):
                if ada.logs and (mode == "per-session" or bob.logs):
                    break
                await asyncio.sleep(0.05)

    run(scenario())
    # Then it reaches the sessions of that server on their standalone (GET) streams: every session in shared mode
    assert ada.logs == ["later"]
    assert bob.logs == (["later"] if mode == "shared" else [])
