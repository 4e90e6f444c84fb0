"""Run a real `hosted-mcp-bridge` process around a real stdio MCP server, and talk to it with the official MCP
Python SDK client (or with plain HTTP where a test is about the transport's own rules)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp_types as types
from mcp.client.session import ClientRequestContext, ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.lambdas import REPO_ROOT

SERVERS = REPO_ROOT / "tests" / "servers"
COMPANION = [sys.executable, str(SERVERS / "companion.py")]
PLAIN = [sys.executable, str(SERVERS / "plain.py")]
MODES = ("per-session", "shared")
ACCEPT_BOTH = "application/json, text/event-stream"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """For conditions nothing notifies about (a port opening, a process ending); bounded in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def children_of(pid: int) -> list[int]:
    """Pids of the live processes whose parent is `pid` (a zombie no longer counts)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == pid and stat[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@dataclass
class RunningBridge:
    """`python -m hosted_mcp_bridge` on a loopback port; its stderr (and its children's) kept in a file."""

    log: Path
    mode: str = "per-session"
    command: list[str] = field(default_factory=lambda: list(COMPANION))
    options: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, *, healthy: bool = True) -> RunningBridge:
        env = {**os.environ, **self.env, "PYTHONPATH": str(REPO_ROOT / "bridge")}
        argv = [sys.executable, "-m", "hosted_mcp_bridge", "--port", str(self.port), "--child", self.mode]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*argv, *self.options, "--", *self.command], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        if healthy:
            wait_until(self.healthy, 30, f"the bridge ({self.mode}) to be healthy")
        return self

    def health(self) -> httpx.Response:
        return httpx.get(f"{self.base}/healthz", timeout=2)

    def healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the bridge exited with {self.process.returncode}: {self.logs()}")
        try:
            return self.health().status_code == 200
        except httpx.HTTPError:
            return False

    def servers(self) -> list[int]:
        """The MCP server processes this bridge runs (its children)."""
        return children_of(self.pid)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


# -- the official MCP client -------------------------------------------------------------------------------------


@dataclass
class Peer:
    """What one client session saw from the server, besides answers."""

    name: str
    logs: list[Any] = field(default_factory=list)
    notifications: list[str] = field(default_factory=list)
    sampled: list[str] = field(default_factory=list)
    elicited: list[str] = field(default_factory=list)
    roots_asked: int = 0


def callbacks(peer: Peer, *, sampling: bool = True, elicitation: bool = True, roots: bool = True) -> dict[str, Any]:
    """Client callbacks that answer as `peer` (its name is in every answer) and record what they were asked."""

    async def on_sampling(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        content = params.messages[0].content
        peer.sampled.append(content.text if isinstance(content, types.TextContent) else str(content))
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=f"sampled by {peer.name}"), model="test"
        )

    async def on_elicitation(context: ClientRequestContext, params: types.ElicitRequestParams) -> Any:
        peer.elicited.append(params.message)
        return types.ElicitResult(action="accept", content={"value": f"answer from {peer.name}"})

    async def on_roots(context: ClientRequestContext) -> Any:
        peer.roots_asked += 1
        return types.ListRootsResult(roots=[types.Root(uri=f"file:///home/{peer.name}", name=peer.name)])

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        peer.logs.append(params.data)

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):
            return
        method = getattr(message, "method", None)
        if method is not None:
            peer.notifications.append(str(method))

    chosen: dict[str, Any] = {"logging_callback": on_log, "message_handler": on_message}
    if sampling:
        chosen["sampling_callback"] = on_sampling
    if elicitation:
        chosen["elicitation_callback"] = on_elicitation
    if roots:
        chosen["list_roots_callback"] = on_roots
    return chosen


@contextlib.asynccontextmanager
async def session(
    url: str, peer: Peer, *, transport: str = "streamable", headers: dict[str, str] | None = None, **options: Any
) -> AsyncIterator[ClientSession]:
    """An initialized MCP client session on the bridge; it is ended (DELETE) when the block exits."""
    if transport == "sse":
        async with (
            sse_client(url, headers=headers) as (read, write),
            ClientSession(read, write, **callbacks(peer, **options)) as client,
        ):
            await client.initialize()
            yield client
        return
    async with (
        httpx2.AsyncClient(timeout=30, headers=headers) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, **callbacks(peer, **options)) as client,
    ):
        await client.initialize()
        yield client


def text_of(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent), result
    return content.text


def run(coroutine: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


# -- plain HTTP, for the transport's own rules ------------------------------------------------------------------


def post(bridge: RunningBridge, body: Any, session_id: str | None = None, **headers: str) -> httpx.Response:
    sent = {"accept": ACCEPT_BOTH, "content-type": "application/json", **headers}
    if session_id is not None:
        sent["mcp-session-id"] = session_id
    payload = body if isinstance(body, bytes) else None
    return httpx.post(bridge.url, content=payload, json=None if payload is not None else body, headers=sent, timeout=20)


def initialize(bridge: RunningBridge, version: str = "2025-06-18", **headers: str) -> str:
    """A session opened with plain HTTP; its Mcp-Session-Id."""
    params = {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    answer = post(bridge, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}, **headers)
    assert answer.status_code == 200, answer.text
    session_id = answer.headers["mcp-session-id"]
    assert post(bridge, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session_id).status_code == 202
    return session_id


def call_text(bridge: RunningBridge, session_id: str, tool: str, **arguments: Any) -> str:
    """One tools/call over plain HTTP; the text of its answer."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    answer = post(bridge, body, session_id)
    assert answer.status_code == 200, answer.text
    text: str = sse_messages(answer.text)[0]["result"]["content"][0]["text"]
    return text


def sse_messages(text: str) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an SSE body."""
    import json

    return [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")]
