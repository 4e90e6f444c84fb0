"""What one shared child holds for many sessions: the logging level each session set, and each session's
resource subscriptions. Per-session children need none of this: each holds its own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from tests.bridge.support import PLAIN, Peer, RunningBridge, run, session, text_of

# Logging and resources/subscribe are deprecated from 2026-07-28 on; these sessions speak the 2025 revisions.
pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


def test_each_session_gets_the_logging_its_own_level_asks_for(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given one shared child, ada asking for warnings and up, bob for everything
    bridge = start_bridge("shared", command=PLAIN)
    ada, bob = Peer("ada"), Peer("bob")

    async def scenario() -> str:
        async with session(bridge.url, ada) as first, session(bridge.url, bob) as second:
            await first.set_logging_level("warning")
            await second.set_logging_level("debug")
            # When each one's tool logs at info, then at error
            for client in (first, second):
                await client.call_tool("log", {"level": "info", "text": "info line"})
                await client.call_tool("log", {"level": "error", "text": "error line"})
            return text_of(await first.call_tool("state", {}))

    state = json.loads(run(scenario()))
    # Then the child logs at the most verbose level any session asked for, and each session got only its own
    assert state["level"] == "debug"
    assert ada.logs == ["error line"]
    assert bob.logs == ["info line", "error line"]


def test_resource_updates_reach_the_sessions_that_subscribed(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given one shared child, and two sessions subscribed to the same URI
    bridge = start_bridge("shared", command=PLAIN)
    ada, bob = Peer("ada"), Peer("bob")
    uri = "file:///shared/report.txt"

    async def updated(peer: Peer, count: int) -> None:
        for _ in range(100):
            if peer.notifications.count("notifications/resources/updated") >= count:
                return
            await asyncio.sleep(0.05)

    async def scenario() -> list[str]:
        async with session(bridge.url, ada) as first, session(bridge.url, bob) as second:
            await first.subscribe_resource(uri)
            await second.subscribe_resource(uri)
            # When ada unsubscribes, and the resource then changes
            await first.unsubscribe_resource(uri)
            states = [text_of(await first.call_tool("state", {}))]
            await first.call_tool("touch", {"uri": uri})
            await updated(bob, 1)
            # And when bob unsubscribes too
            await second.unsubscribe_resource(uri)
            states.append(text_of(await first.call_tool("state", {})))
            return states

    while_bob, after_both = (json.loads(s)["subscriptions"] for s in run(scenario()))
    # Then the child stayed subscribed while bob was, only bob was told of the change, and the child was
    # unsubscribed once nobody was
    assert while_bob == [uri]
    assert bob.notifications.count("notifications/resources/updated") == 1
    assert "notifications/resources/updated" not in ada.notifications
    assert after_both == []
