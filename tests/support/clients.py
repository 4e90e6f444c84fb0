"""Real MCP clients the protocol bench drives, each for one session: list the tools, call one, report.

- the MCP Python SDK 2.x `Client`, in-process (`mode` = "auto", "legacy", or a pinned modern version);
- the TypeScript client 2.x (`tests/clients/ts_client.mjs`, on Node 22);
- the MCP Inspector CLI 2.x (`--cli URL --method tools/list`, then `--method tools/call`, with `--header`).

Each declares sampling and elicitation and answers them, as an application with a model and a user would, and
each call is bounded in time. A failure is an outcome (with its error), never an exception.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from mcp import types
from mcp.client import Client
from mcp.client.context import ClientRequestContext
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.conformance import INSPECTOR, NODE, node_env
from tests.support.lambdas import REPO_ROOT

TS_CLIENT = REPO_ROOT / "tests" / "clients" / "ts_client.mjs"
SECONDS = 10  # one whole session, connect to close (a healthy one takes 0.1-2 s here)


@dataclass(frozen=True)
class Outcome:
    """What one client session saw. `ok` only when the tool answered without an error."""

    ok: bool
    protocol_version: str | None = None
    tools: tuple[str, ...] = ()
    text: str | None = None
    error: str | None = None
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    def explain(self) -> str:
        return f"version={self.protocol_version} tools={len(self.tools)} text={self.text!r} error={self.error}"


def sampled(text: str = "sampled by the bench") -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=text), model="bench", stop_reason="endTurn"
    )


async def answer_sampling(
    context: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    return sampled()


async def answer_elicitation(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={})


def first_text(result: types.CallToolResult) -> str | None:
    return next((block.text for block in result.content if isinstance(block, types.TextContent)), None)


async def _python_session(
    url: str, token: str, mode: str, transport: str, tool: str, arguments: dict[str, Any]
) -> Outcome:
    headers = {"Authorization": f"Bearer {token}"}
    http = httpx2.AsyncClient(headers=headers, timeout=SECONDS)
    connection = (
        sse_client(url, headers=headers) if transport == "sse" else streamable_http_client(url, http_client=http)
    )
    async with (
        http,
        Client(
            connection,
            mode=mode,
            sampling_callback=answer_sampling,
            elicitation_callback=answer_elicitation,
            client_info=types.Implementation(name="hosted-mcp-bench-py", version="1.0.0"),
        ) as client,
    ):
        tools = await client.list_tools()
        result = await client.call_tool(tool, arguments)
        return Outcome(
            ok=not result.is_error,
            protocol_version=client.protocol_version,
            tools=tuple(t.name for t in tools.tools),
            text=first_text(result),
            error=first_text(result) if result.is_error else None,
        )


def python_client(
    url: str, token: str, mode: str, *, transport: str = "http", tool: str = "echo", arguments: dict | None = None
) -> Outcome:
    """The MCP Python SDK 2.x `Client` for one session (`mode`: "auto", "legacy" or "2026-07-28")."""
    arguments = {"message": "from python"} if arguments is None else arguments
    return _timed(
        lambda: asyncio.run(
            asyncio.wait_for(_python_session(url, token, mode, transport, tool, arguments), timeout=SECONDS)
        )
    )


def typescript_client(
    url: str, token: str, era: str, *, transport: str = "http", tool: str = "echo", arguments: dict | None = None
) -> Outcome:
    """`tests/clients/ts_client.mjs`: @modelcontextprotocol/client 2.x (`era`: legacy, auto or 2026-07-28)."""
    arguments = {"message": "from typescript"} if arguments is None else arguments
    argv = [str(NODE), str(TS_CLIENT), url, "--era", era, "--transport", transport, "--token", token]
    argv += ["--tool", tool, "--args", json.dumps(arguments)]

    def run() -> Outcome:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=SECONDS, env=node_env(), check=False)
        if done.returncode != 0:
            return Outcome(ok=False, error=_last_line(done.stderr) or f"exit {done.returncode}")
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        result = types.CallToolResult.model_validate(answer["result"])
        return Outcome(
            ok=not result.is_error,
            protocol_version=answer["protocolVersion"],
            tools=tuple(answer["tools"]),
            text=first_text(result),
            error=first_text(result) if result.is_error else None,
        )

    return _timed(run)


def inspector_cli(url: str, token: str, era: str, home: Path, *, transport: str = "http") -> Outcome:
    """The Inspector CLI 2.x, as a person types it: `tools/list`, then `tools/call echo` (`era`: legacy, auto,
    modern; `--transport sse` for an SSE URL). `home` keeps its catalog and OAuth store out of the real ~."""
    common = [str(NODE), str(INSPECTOR), "--cli", url, "--transport", transport, "--protocol-era", era]
    common += ["--header", f"Authorization: Bearer {token}", "--format", "json", "--connect-timeout", "15000"]

    def call(*method: str) -> dict[str, Any]:
        done = subprocess.run(
            [*common, *method], capture_output=True, text=True, timeout=SECONDS, env=node_env(home), check=False
        )
        try:
            answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            answer = {"error": {"message": _last_line(done.stderr) or f"exit {done.returncode}, no JSON"}}
        return answer

    def run() -> Outcome:
        listed = call("--method", "tools/list")
        if "error" in listed:
            return Outcome(ok=False, error=f"tools/list: {listed['error'].get('message')}")
        called = call("--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=from inspector")
        if "error" in called:
            return Outcome(ok=False, error=f"tools/call: {called['error'].get('message')}")
        result = types.CallToolResult.model_validate(called["result"])
        return Outcome(
            ok=not result.is_error,
            tools=tuple(t["name"] for t in listed["result"]["tools"]),
            text=first_text(result),
            error=first_text(result) if result.is_error else None,
        )

    return _timed(run)


def _timed(run: Callable[[], Outcome]) -> Outcome:
    import time

    started = time.monotonic()
    try:
        outcome = run()
    except Exception as error:  # the bench records every way a client fails; the test asserts on it
        outcome = Outcome(ok=False, error=_describe(error))
    return Outcome(**{**outcome.__dict__, "seconds": time.monotonic() - started})


def _describe(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in error.exceptions)
    return f"{type(error).__name__}: {error}"[:500]


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""
