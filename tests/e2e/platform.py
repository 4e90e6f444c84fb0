"""Drive a real `hosted-mcp serve` process, and call hosted servers with the official MCP Python SDK client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from hosted_mcp_local import cli
from hosted_mcp_local.identity import LocalIssuer
from tests.support.lambdas import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"
TOOLS = REPO_ROOT / ".tools"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """For conditions nothing notifies about (a port opening, a process ending); bounded in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def processes_in(directory: Path) -> list[int]:
    """Pids of every process whose working directory is `directory` (a server's replicas and their children)."""
    found = []
    target = directory.resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) == target:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class LocalPlatform:
    """One `hosted-mcp serve` process on a loopback port with its own data directory."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # settings for `serve` (HOSTED_MCP_*)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalPlatform:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in ("shared", "gateway", "local")),
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **self.env,
        }
        self.log = self.data_dir.parent / f"{self.data_dir.name}-serve.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "hosted_mcp_local.cli", "serve", "--port", str(self.port)),
                    *("--data-dir", str(self.data_dir), "--log-level", "warning"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        wait_until(self._healthy, 30, "the platform to answer /healthz")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"hosted-mcp serve exited with {self.process.returncode}: {self.logs()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log and self.log.exists() else ""

    def stop(self) -> None:
        """A graceful stop (SIGTERM): the platform ends every process it started."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)

    def crash(self) -> None:
        """SIGKILL: no chance to clean up, as after a power cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    # -- credentials ---------------------------------------------------------------------------------------

    def token(self, user: str, groups: list[str] | None = None, *, admin: bool = False) -> str:
        issuer = LocalIssuer(self.data_dir)
        return issuer.mint(user, groups or [], admin=admin, ttl=timedelta(minutes=30), now=datetime.now(UTC))

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token('root', admin=True)}"}, timeout=30
        )

    # -- servers -------------------------------------------------------------------------------------------

    def publish_examples(self) -> None:
        """The local stand-in for uploading artifacts to the hosting bucket."""
        shutil.copytree(EXAMPLES, self.data_dir / "artifacts" / "examples", dirs_exist_ok=True)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.admin() as api:
            response = api.post("/mcp", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def get(self, server_id: str) -> dict[str, Any]:
        with self.admin() as api:
            response = api.get(f"/mcp/{server_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def get_by_name(self, name: str) -> dict[str, Any]:
        with self.admin() as api:
            servers: list[dict[str, Any]] = api.get("/mcp", params={"limit": 100}).json()["Items"]
        [found] = [s for s in servers if s["name"] == name]
        return found

    def wait(
        self, server_id: str, status: str = "InService", timeout: float = 90, *, expect: cli.Exit = cli.Exit.OK
    ) -> dict[str, Any] | None:
        """`hosted-mcp wait` (event-driven) must exit with `expect`: returns the record, or None once it is deleted."""
        code = cli.main(
            [
                *("wait", server_id, "--for", status, "--timeout", str(timeout)),
                *("--url", self.url, "--token", self.token("root", admin=True)),
            ]
        )
        if status == "Deleted":
            assert code == expect, f"server {server_id} not deleted (exit {code})"
            return None
        record = self.get(server_id)
        assert code == expect, f"server {server_id} ended {record['status']}: {record.get('lastError')} (exit {code})"
        return record

    def workdir(self, server_id: str) -> Path:
        return self.data_dir / "servers" / server_id / "work"

    def replica_log(self, server_id: str, replica: int = 0) -> Path:
        return self.data_dir / "servers" / server_id / "logs" / f"replica-{replica}.log"

    def audit(self, server_id: str) -> list[dict[str, Any]]:
        with self.admin() as api:
            response = api.get(f"/mcp/{server_id}/audit")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["Items"]
        return items

    def follow(self, server_id: str | None = None) -> EventFollower:
        """Every event (status changes and restarts) from `GET /events`, collected from now on."""
        return EventFollower(self, server_id).start()


class EventFollower:
    """Reads the platform's event stream on a thread; `wait_for` blocks until an event matching a predicate came."""

    def __init__(self, platform: LocalPlatform, server_id: str | None) -> None:
        self.platform = platform
        self.server_id = server_id
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._open = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> EventFollower:
        self._thread.start()
        assert self._open.wait(20), "the event stream did not open"
        return self

    def _read(self) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the platform stopped: the stream ends
            self._follow()

    def _follow(self) -> None:
        params = {"include": "restarts", **({"serverId": self.server_id} if self.server_id else {})}
        token = self.platform.token("root", admin=True)
        with (
            httpx.Client(base_url=self.platform.url, headers={"Authorization": f"Bearer {token}"}) as client,
            client.stream("GET", "/events", params=params, timeout=httpx.Timeout(10, read=None)) as response,
        ):
            data: list[str] = []
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith(":"):
                    self._open.set()
                elif line.startswith("data:"):
                    data.append(line.removeprefix("data:").strip())
                elif not line and data:
                    with self._changed:
                        self.events.append(json.loads("\n".join(data)))
                        self._changed.notify_all()
                    data = []

    def wait_for(self, wanted: Callable[[dict[str, Any]], bool], timeout: float = 90) -> dict[str, Any]:
        with self._changed:
            found = self._changed.wait_for(lambda: next((e for e in self.events if wanted(e)), None), timeout)
        assert found, f"no such event within {timeout}s; saw {[e['detail'] for e in self.events]}"
        return found

    def close(self) -> None:
        self._stop.set()


def restarted(event: dict[str, Any]) -> bool:
    return bool(event["detailType"] == "Hosted MCP Server Restarted")


def entered(status: str) -> Callable[[dict[str, Any]], bool]:
    def matches(event: dict[str, Any]) -> bool:
        return bool(event["detailType"] == "Hosted MCP Server Status Changed" and event["detail"]["toStatus"] == status)

    return matches


def stdio_greeter(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "serverType": "stdio",
        "startCommand": "python server.py",
        "s3Path": "examples/greeter-stdio",
        "environment": {"GREETING": "Hello"},
        **extra,
    }


# -- MCP client ----------------------------------------------------------------------------------------------


async def _session_calls(
    url: str, token: str | None, calls: list[tuple[str, dict[str, Any]]], transport: str
) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    results: list[str] = []

    async def run(session: ClientSession) -> None:
        await session.initialize()
        for tool, arguments in calls:
            result = await session.call_tool(tool, arguments)
            assert not result.is_error, result
            results.append(result.content[0].text)  # type: ignore[union-attr]

    if transport == "sse":
        async with sse_client(url, headers=headers) as (read, write), ClientSession(read, write) as session:
            await run(session)
    else:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await run(session)
    return results


def call_tools(
    url: str, token: str | None, calls: list[tuple[str, dict[str, Any]]], *, transport: str = "streamable"
) -> list[str]:
    """One MCP session (initialize, then each tool call in turn) through the gateway; the text of each answer."""
    return asyncio.run(asyncio.wait_for(_session_calls(url, token, calls, transport), timeout=60))


def call_tool(url: str, token: str | None, tool: str, arguments: dict[str, Any], **kwargs: Any) -> str:
    return call_tools(url, token, [(tool, arguments)], **kwargs)[0]


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}},
}


def gateway_answer(url: str, token: str) -> httpx.Response:
    """One `initialize` through the gateway, as a client would send it."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    return httpx.post(url, headers=headers, json=INITIALIZE, timeout=10)


def wait_answering(url: str, token: str, timeout: float = 60) -> None:
    """Until the gateway has a replica that answers for the server (restoring after a platform restart is not a
    status change: nothing notifies it)."""
    wait_until(lambda: gateway_answer(url, token).status_code == 200, timeout, f"{url} to answer")
