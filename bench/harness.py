"""What the timed benchmarks share: lean MCP clients of both eras, a bare mcp-proxy, and a running one-machine
platform.

The client speaks streamable HTTP with httpx and nothing else, so both paths of a comparison pay the same,
small client cost. Everything listens on loopback; every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "greeter-stdio"
PROTOCOL = "2025-06-18"
ACCEPT = "application/json, text/event-stream"


class McpError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proxy_bin() -> str:
    candidates = [os.environ.get("HOSTED_MCP_PROXY_BIN", ""), str(ROOT / ".tools" / "mcp-proxy" / "bin" / "mcp-proxy")]
    candidates.append(shutil.which("mcp-proxy") or "")
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    if found is None:
        raise RuntimeError("mcp-proxy (the baselines' bridge) not found: `make bench` installs it (.tools/mcp-proxy)")
    return found


# -- MCP client ------------------------------------------------------------------------------------------------


@dataclass
class McpSession:
    """One MCP session over streamable HTTP: initialize once, then tools/call as often as asked."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    client: httpx.Client = field(init=False)
    session_id: str | None = None
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.client = httpx.Client(timeout=self.timeout)

    def close(self) -> None:
        if self.session_id:
            with contextlib.suppress(httpx.HTTPError):
                self.client.delete(self.url, headers=self._headers())
        self.client.close()

    def __enter__(self) -> McpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": ACCEPT, "Content-Type": "application/json", **self.headers}
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
            headers["MCP-Protocol-Version"] = PROTOCOL
        return headers

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message_id = next(self.ids)
        body = {"jsonrpc": "2.0", "id": message_id, "method": method, "params": params or {}}
        result, headers = _post(self.client, self.url, body, self._headers())
        if method == "initialize":
            self.session_id = headers.get("mcp-session-id")
        return result

    def notify(self, method: str) -> None:
        body = {"jsonrpc": "2.0", "method": method}
        response = self.client.post(self.url, json=body, headers=self._headers())
        if response.status_code not in (200, 202):
            raise McpError(f"{method}: HTTP {response.status_code}")

    def initialize(self) -> dict[str, Any]:
        result = self.request(
            "initialize",
            {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
        )
        self.notify("notifications/initialized")
        return result

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return self.request("tools/call", {"name": name, "arguments": arguments})


MODERN = "2026-07-28"


@dataclass
class ModernClient:
    """A client of the current revision (2026-07-28): no session, each request stateless, its version in the
    `MCP-Protocol-Version` header and in `_meta`, its method and name in `Mcp-Method` / `Mcp-Name`."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    client: httpx.Client = field(init=False)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.client = httpx.Client(timeout=self.timeout)

    def initialize(self) -> None:
        """Nothing to open: the era has no session."""

    def close(self) -> None:
        self.client.close()

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        message_id = next(self.ids)
        meta = {"io.modelcontextprotocol/protocolVersion": MODERN}
        params = {"name": name, "arguments": arguments, "_meta": meta}
        body = {"jsonrpc": "2.0", "id": message_id, "method": "tools/call", "params": params}
        headers = {
            "Accept": ACCEPT,
            "Content-Type": "application/json",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": "tools/call",
            "Mcp-Name": name,
            **self.headers,
        }
        result, _ = _post(self.client, self.url, body, headers)
        return result


def _post(
    client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[dict[str, Any], httpx.Headers]:
    """POST one JSON-RPC request: its result and the answer's headers, or McpError saying what went wrong."""
    method = body["method"]
    with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            response.read()
            raise McpError(f"{method}: HTTP {response.status_code} {response.text[:200]}")
        answer = _answer(response, body["id"])
    if "error" in answer:
        raise McpError(f"{method}: {answer['error']}")
    result: dict[str, Any] = answer["result"]
    return result, response.headers


def _answer(response: httpx.Response, message_id: int) -> dict[str, Any]:
    """The JSON-RPC answer to `message_id`, from a JSON body or from an SSE stream. A POST's stream ends after its
    answer: it is read to its end, as the gateway's forwarder reads a replica's, so the connection is kept alive
    (httpx closes a connection whose answer was left unread, and every call would then pay a new connection)."""
    if response.headers.get("content-type", "").startswith("application/json"):
        payload: dict[str, Any] = json.loads(response.read())
        return payload
    found: dict[str, Any] | None = None
    data: list[str] = []
    for line in response.iter_lines():
        if line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif not line and data:
            message = json.loads("\n".join(data))
            data = []
            if message.get("id") == message_id:
                found = message
    if found is None:
        raise McpError("the stream ended before the answer")
    return found


def first_answer(url: str, deadline: float, headers: dict[str, str] | None = None, interval: float = 0.01) -> float:
    """Wait for the port to accept (cheap connects every `interval`), then retry `initialize` until answered.

    Returns the monotonic time of the first answer. The waiting itself stays light so it does not steal CPU from
    the server that is starting on the same machine.
    """
    target = httpx.URL(url)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((target.host, target.port or 80), timeout=0.05):
                break
        except OSError:
            time.sleep(interval)
    while time.monotonic() < deadline:
        try:
            with McpSession(url, dict(headers or {}), timeout=2.0) as session:
                session.initialize()
                return time.monotonic()
        except (httpx.HTTPError, McpError):
            time.sleep(interval)
    raise TimeoutError(f"{url} did not answer MCP in time")


# -- bare mcp-proxy (the baseline) -----------------------------------------------------------------------------


@dataclass
class BareProxy:
    """The example stdio server behind mcp-proxy, started the way the platform starts it, without the platform."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> None:
        shutil.copytree(EXAMPLE, self.workdir, dirs_exist_ok=True)
        env = {name: os.environ[name] for name in ("HOME", "LANG", "TMPDIR", "USER") if name in os.environ}
        env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)))
        env.update({"PYTHONUNBUFFERED": "1", "GREETING": "Hello"})
        command = [proxy_bin(), "--port", str(self.port), "--host", "127.0.0.1", "--pass-environment", "--"]
        self.process = subprocess.Popen(
            [*command, "python", "server.py"],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


# -- the one-machine platform ----------------------------------------------------------------------------------


@dataclass
class StatusEvent:
    server_id: str
    to_status: str | None
    at: float  # monotonic, when this process read it
    wall: datetime  # the same instant on the wall clock, to line up with the platform's log timestamps


class RunningPlatform:
    """`hosted-mcp serve` on a loopback port with its own data directory, and a reader of its status events."""

    def __init__(self, data_dir: Path, log_level: str = "warning") -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.log_path = data_dir.parent / "serve.log"
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.events: list[StatusEvent] = []
        self._seen = threading.Condition()
        self._reader: threading.Thread | None = None
        self._closing = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> RunningPlatform:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(ROOT / "examples", self.data_dir / "artifacts" / "examples", dirs_exist_ok=True)
        # The code of this checkout, whichever checkout the interpreter's environment was installed from.
        code = os.pathsep.join(str(ROOT / part) for part in ("shared", "gateway", "local", "bridge"))
        env = {**os.environ, "PYTHONPATH": code}
        command = [sys.executable, "-m", "hosted_mcp_local.cli", "serve", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--data-dir", str(self.data_dir), "--log-level", self.log_level],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hosted-mcp serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise TimeoutError("the platform did not answer /healthz")
        self._reader = threading.Thread(target=self._read_events, daemon=True)
        self._reader.start()
        with self._seen:
            if not self._seen.wait_for(lambda: self._subscribed, timeout=10):
                raise TimeoutError("the event stream did not open")
        return self

    _subscribed = False

    def token(self, user: str = "bench", *, admin: bool = False) -> str:
        from hosted_mcp_local.identity import LocalIssuer

        issuer = LocalIssuer(self.data_dir)
        return issuer.mint(user, [], admin=admin, ttl=timedelta(hours=2), now=datetime.now(UTC))

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token('root', admin=True)}"}, timeout=30
        )

    def _read_events(self) -> None:
        headers = {"Authorization": f"Bearer {self.token('root', admin=True)}"}
        while not self._closing.is_set():
            try:
                with httpx.stream(
                    "GET", f"{self.url}/events", headers=headers, timeout=httpx.Timeout(5, read=None)
                ) as response:
                    data: list[str] = []
                    for line in response.iter_lines():
                        if line.startswith(": subscribed"):
                            with self._seen:
                                self._subscribed = True
                                self._seen.notify_all()
                        elif line.startswith("data:"):
                            data.append(line.removeprefix("data:").strip())
                        elif not line and data:
                            detail = json.loads("\n".join(data))["detail"]
                            data = []
                            with self._seen:
                                self.events.append(
                                    StatusEvent(
                                        detail["serverId"], detail.get("toStatus"), time.monotonic(), datetime.now(UTC)
                                    )
                                )
                                self._seen.notify_all()
            except httpx.HTTPError:
                if not self._closing.wait(0.2):
                    continue

    def wait_for(self, server_id: str, status: str | None, timeout: float = 120) -> float:
        """The monotonic time the platform published `server_id` reaching `status` (None: removed)."""
        return self.wait_event(server_id, status, timeout).at

    def wait_event(self, server_id: str, status: str | None, timeout: float = 120) -> StatusEvent:

        def found() -> StatusEvent | None:
            return next((e for e in self.events if e.server_id == server_id and e.to_status == status), None)

        with self._seen:
            if not self._seen.wait_for(lambda: found() is not None, timeout=timeout):
                raise TimeoutError(f"{server_id} did not reach {status} within {timeout}s")
            event = found()
        assert event is not None
        return event

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.admin() as api:
            response = api.post("/mcp", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"create failed: {response.status_code} {response.text}")
        created: dict[str, Any] = response.json()
        return created

    def delete(self, server_id: str) -> None:
        with self.admin() as api:
            response = api.delete(f"/mcp/{server_id}")
        if response.status_code >= 300:
            raise RuntimeError(f"delete failed: {response.status_code} {response.text}")
        self.wait_for(server_id, None)

    def replica_pids(self, server_id: str) -> list[int]:
        """The bridge and the server it wraps: every process whose cwd is the server's working directory."""
        workdir = (self.data_dir / "servers" / server_id / "work").resolve()
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == workdir:
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def replica_port(self, server_id: str) -> int:
        """The port of the server's bridge (ours, or an mcp-proxy it runs as an HTTP server), read from the process
        whose cwd is the server's working directory."""
        workdir = (self.data_dir / "servers" / server_id / "work").resolve()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if Path(os.readlink(entry / "cwd")) != workdir:
                    continue
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--port" in argv and any(b"mcp-proxy" in a or b"hosted_mcp_bridge" in a for a in argv[:4]):
                return int(argv[argv.index(b"--port") + 1])
        raise RuntimeError(f"no bridge found for {server_id}")

    def crash(self) -> None:
        """SIGKILL: no chance to clean up, as after a power cut (its servers' processes are left running)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self._closing.set()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time consumed so far by `pids` (Linux /proc), robust to other load on the machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of `pids` together (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def stdio_body(name: str) -> dict[str, Any]:
    """The example stdio server, as an admin would describe it (the same files the baseline runs)."""
    return {
        "name": name,
        "serverType": "stdio",
        "startCommand": "python server.py",
        "s3Path": "examples/greeter-stdio",
        "environment": {"GREETING": "Hello"},
    }
