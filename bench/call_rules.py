"""The per-call rules' own CPU, in process: the gate a call passes (tool policy, limits, trace context, the watch on
its answer, metrics) and the audit writer, for calls with both off and with a 20-tool policy and the audit on.

No network and no server: each call is admitted, its answer (JSON, or one SSE event) sent through the watch, the
exchange ended; the audit writer then writes what accumulated to SQLite. CPU time of this process (the writer's
thread included) over the calls made. It isolates what `bench gateway`'s end-to-end figure measures through the
noise of a shared machine.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.stats import Table

CALLS = 20_000
REQUEST = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"ping"}}}'
ANSWER = (
    b'{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"ping"}],'
    b'"structuredContent":{"result":"ping"},"isError":false}}'
)
EVENT = b"event: message\r\ndata: " + ANSWER + b"\r\n\r\n"


def measure(policy_tools: list[str], calls: int = CALLS) -> dict[tuple[str, bool], float]:
    """µs of CPU per call, by (rules "off"/"on", SSE answer)."""
    from hosted_mcp.adapters.memory import InMemoryServerStore
    from hosted_mcp.logic.servers import create_server
    from hosted_mcp.models.api import CreateServerRequest
    from hosted_mcp.models.domain import Caller
    from hosted_mcp_gateway.call_recorder import CallRecorder
    from hosted_mcp_gateway.calls import CallGate
    from hosted_mcp_gateway.mcp_headers import McpRequest
    from hosted_mcp_local.store import SqliteCallAudit

    store, admin, now = InMemoryServerStore(), Caller(username="admin", isAdmin=True), datetime.now(UTC)
    base = {"serverType": "stdio", "startCommand": "python server.py"}
    records = {
        "off": create_server(
            store, CreateServerRequest.model_validate({**base, "name": "off", "auditCalls": False}), admin, now=now
        ),
        "on": create_server(
            store,
            CreateServerRequest.model_validate({**base, "name": "on", "toolPolicy": {"*": {"tools": policy_tools}}}),
            admin,
            now=now,
        ),
    }
    caller = Caller(username="bench-user")
    results: dict[tuple[str, bool], float] = {}
    with tempfile.TemporaryDirectory(prefix="hosted-mcp-rules-") as tmp:
        audit = SqliteCallAudit(Path(tmp) / "calls.db", retention=timedelta(days=1))
        recorder = CallRecorder(audit, interval=3600)
        gate = CallGate(recorder=recorder)

        async def sink(message: Any) -> None:
            return None

        async def one(record: Any, sse: bool) -> None:
            headers = {"content-type": "application/json"}
            verdict = gate.admit(record, caller, "http://127.0.0.1:1", McpRequest("legacy", REQUEST, None), headers)
            send = verdict.watch(sink)
            content_type = b"text/event-stream" if sse else b"application/json"
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
            await send({"type": "http.response.body", "body": EVENT if sse else ANSWER, "more_body": sse})
            if sse:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            verdict.end()

        async def many(record: Any, sse: bool) -> None:
            for _ in range(calls):
                await one(record, sse)

        for sse in (False, True):
            for rules, record in records.items():
                began = time.process_time()
                asyncio.run(many(record, sse))
                recorder.flush()
                results[(rules, sse)] = (time.process_time() - began) / calls * 1e6
        recorder.close()
        audit.close()
    return results


def rules_table(policy_tools: list[str]) -> Table:
    results = measure(policy_tools)
    table = Table(
        f"Per-call rules in process: CPU per tools/call, no network ({CALLS:,} calls each)",
        ["answer", "both off", f"{len(policy_tools)}-tool policy + audit", "difference"],
    )
    for sse, label in ((False, "JSON"), (True, "SSE event")):
        off, on = results[("off", sse)], results[("on", sse)]
        table.add(label, f"{off:.1f} µs", f"{on:.1f} µs", f"{on - off:+.1f} µs")
    table.notes = [
        "Each call admitted (rate, tool policy, concurrency, trace context), its answer sent through the watch that "
        "finds its outcome, the exchange ended (metrics, audit record); the audit writer's SQLite writes included. "
        "Both columns include the harness (parsing the request, building ASGI messages): the difference is the rules'."
    ]
    return table
