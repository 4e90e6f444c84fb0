"""The bridge's processes: the child's environment and stderr, liveness that does not lie, sessions and children
cleaned up, exit codes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest

from hosted_mcp_bridge import cli
from tests.bridge.support import (
    MODES,
    PLAIN,
    Peer,
    RunningBridge,
    alive,
    call_text,
    free_port,
    initialize,
    post,
    run,
    session,
    sse_messages,
    text_of,
    wait_until,
)
from tests.support.lambdas import REPO_ROOT

EXITS_AT_ONCE = [sys.executable, "-c", "import sys; sys.exit(5)"]
CALL_ENV = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "env", "arguments": {"name": "X"}}}


def health(bridge: RunningBridge) -> int | None:
    try:
        return bridge.health().status_code
    except httpx.HTTPError:
        return None  # not listening (any more)


@pytest.mark.parametrize("mode", MODES)
def test_the_server_gets_the_bridges_environment_and_stderr(
    start_bridge: Callable[..., RunningBridge], mode: str
) -> None:
    # Given a bridge started with a variable in its environment
    bridge = start_bridge(mode, command=PLAIN, env={"HOSTED_MCP_BRIDGE_TEST": "from-the-bridge"})
    session_id = initialize(bridge)
    # When a tool reads it
    seen = call_text(bridge, session_id, "env", name="HOSTED_MCP_BRIDGE_TEST")
    # Then the server saw it (as mcp-proxy's --pass-environment did), and what it wrote to stderr is in the bridge's
    assert seen == "from-the-bridge"
    assert "plain: serving on stdio" in bridge.logs()


def test_shared_mode_health_fails_and_the_bridge_exits_when_its_server_dies(
    start_bridge: Callable[..., RunningBridge],
) -> None:
    # Given a healthy shared bridge with a session
    bridge = start_bridge("shared", command=PLAIN)
    initialize(bridge)
    [server] = bridge.servers()
    assert health(bridge) == 200
    # When its server process is killed
    os.kill(server, signal.SIGKILL)
    # Then /healthz stops answering 200 at once, and the bridge exits with its "server exited" code for the
    # supervisor to restart it
    wait_until(lambda: health(bridge) != 200, 5, "/healthz to fail")
    assert bridge.process is not None
    assert bridge.process.wait(timeout=10) == cli.EXIT_SERVER
    assert "the server process exited" in bridge.logs()


def test_per_session_mode_ends_the_session_whose_server_died(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given two sessions, each with its own server process
    bridge = start_bridge("per-session", command=PLAIN, options=["--spare-children", "0"])
    first, second = initialize(bridge), initialize(bridge)
    first_server = int(call_text(bridge, first, "pid"))
    # When the first session's server is killed
    os.kill(first_server, signal.SIGKILL)
    wait_until(lambda: post(bridge, CALL_ENV, first).status_code == 404, 5, "the session to end")
    # Then that session is gone (404: the client starts a new one), the other works, and the bridge is healthy
    assert post(bridge, CALL_ENV, second).status_code == 200
    assert health(bridge) == 200
    assert post(bridge, CALL_ENV, initialize(bridge)).status_code == 200


def test_per_session_health_fails_when_the_server_cannot_start(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given a per-session bridge whose command exits at once
    bridge = start_bridge("per-session", command=EXITS_AT_ONCE, healthy=False)
    # When its spare server has exited
    wait_until(lambda: health(bridge) == 503, 10, "/healthz to report the failure")
    # Then /healthz says why, and a new session is refused rather than left hanging
    assert "exited (code 5)" in bridge.health().json()["status"]
    params = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    refused = post(bridge, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
    assert refused.status_code == 200
    assert "exited" in sse_messages(refused.text)[0]["error"]["message"]
    assert "mcp-session-id" not in refused.headers
    assert bridge.health().json()["sessions"] == 0


def test_shared_mode_exits_when_the_server_never_initializes(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given a shared bridge whose command exits at once
    bridge = start_bridge("shared", command=EXITS_AT_ONCE, healthy=False)
    # Then the bridge exits with its "server" code
    assert bridge.process is not None
    assert bridge.process.wait(timeout=15) == cli.EXIT_SERVER


def test_per_session_children_end_with_their_sessions(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given a per-session bridge with one spare server, and a short idle timeout
    bridge = start_bridge("per-session", options=["--session-idle-timeout", "1"])
    wait_until(lambda: len(bridge.servers()) == 1, 10, "the spare server")
    seen: list[int] = []

    async def use_and_leave() -> None:
        async with session(bridge.url, Peer("ada")) as client:
            seen.append(int(text_of(await client.call_tool("pid", {}))))
            assert len(bridge.servers()) == 2  # ada's server, and a new spare

    # When a client uses a session and ends it (the SDK client sends DELETE)
    run(use_and_leave())
    # Then its server ends with it, and the spare stays
    wait_until(lambda: not alive(seen[0]), 10, "the session's server to end")
    assert len(bridge.servers()) == 1
    assert bridge.health().json()["sessions"] == 0
    # When a session is opened and then left idle (no request, no stream) past the timeout
    before = set(bridge.servers())
    idle = initialize(bridge)
    wait_until(lambda: bridge.health().json()["sessions"] == 0, 10, "the idle session to end")
    # Then it is ended, and so is its server (the spare it took is replaced)
    assert post(bridge, CALL_ENV, idle).status_code == 404
    wait_until(lambda: not (before & set(bridge.servers())), 10, "the idle session's server to end")
    assert len(bridge.servers()) == 1


def test_shared_sessions_end_without_ending_the_server(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given a shared bridge
    bridge = start_bridge("shared")
    [server] = bridge.servers()

    async def use_and_leave() -> str:
        async with session(bridge.url, Peer("ada")) as client:
            return text_of(await client.call_tool("pid", {}))

    # When two clients come and go
    pids = {run(use_and_leave()), run(use_and_leave())}
    # Then both were served by the one server, which still runs, with no session left
    assert pids == {str(server)}
    assert alive(server)
    assert bridge.health().json() == {
        "mode": "shared",
        "sessions": 0,
        "child": {"pid": server, "running": True, "initialized": True},
        "status": "ok",
    }


@pytest.mark.parametrize("mode", MODES)
def test_sigterm_ends_streams_servers_and_the_bridge(start_bridge: Callable[..., RunningBridge], mode: str) -> None:
    # Given a bridge with a session whose standalone stream is open
    bridge = start_bridge(mode, command=PLAIN)
    session_id = initialize(bridge)
    servers = bridge.servers()
    headers = {"mcp-session-id": session_id, "accept": "text/event-stream"}
    with httpx.stream("GET", bridge.url, headers=headers, timeout=10) as stream:
        assert stream.status_code == 200
        # When the bridge is asked to stop
        began = time.monotonic()
        assert bridge.process is not None
        bridge.process.send_signal(signal.SIGTERM)
        list(stream.iter_bytes())  # the stream ends instead of holding the shutdown up
        code = bridge.process.wait(timeout=15)
    # Then it exits 0, promptly, and no server process is left
    assert code == cli.EXIT_OK
    assert time.monotonic() - began < 8
    assert [pid for pid in servers if alive(pid)] == []


def test_the_session_limit_holds(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given a bridge that allows one session
    bridge = start_bridge("shared", command=PLAIN, options=["--max-sessions", "1"])
    initialize(bridge)
    # When a second client initializes
    params = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    refused = post(bridge, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
    # Then it is refused with 503
    assert refused.status_code == 503
    assert "too many sessions" in refused.json()["error"]["message"]


def test_exit_codes() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "bridge")}

    def bridge(*argv: str) -> int:
        command = [sys.executable, "-m", "hosted_mcp_bridge", *argv]
        return subprocess.run(command, env=env, capture_output=True, timeout=30, check=False).returncode

    # Given a port that is taken
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = str(taken.getsockname()[1])
        # When the bridge is started without a command, with one that cannot run, or on the taken port
        # Then each exits with its own code from the table in cli.py
        assert bridge("--port", str(free_port())) == cli.EXIT_USAGE
        assert bridge("--port", str(free_port()), "--", "/nonexistent/server") == cli.EXIT_SERVER
        assert bridge("--port", busy, "--", *PLAIN) == cli.EXIT_LISTEN
