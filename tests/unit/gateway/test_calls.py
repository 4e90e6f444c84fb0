"""The call gate on its own: verdicts on requests, and answers watched on their way to the client (ASGI, in process).

The data plane around it (validation, replicas, relaying) is covered with real servers in the policy matrix; here
each rule meets the message shapes that are hard to get from a real server: huge answers, batches, broken bodies.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hosted_mcp.adapters.memory import InMemoryCallAudit, InMemoryServerStore
from hosted_mcp.logic.servers import create_server
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.calls import CallOutcome
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp_gateway.call_recorder import CallRecorder
from hosted_mcp_gateway.calls import FORBIDDEN, LIST_LIMIT, CallGate
from hosted_mcp_gateway.mcp_headers import McpRequest

ADMIN = Caller(username="admin", isAdmin=True)
ADA = Caller(username="ada", groups=("analysts",))
REPLICA = "http://127.0.0.1:1"


def server(**fields: Any) -> ServerRecord:
    body = {"name": "docs", "serverType": "http", "startCommand": "x", **fields}
    return create_server(InMemoryServerStore(), CreateServerRequest.model_validate(body), ADMIN, now=datetime.now(UTC))


def request(method: str, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 9, "method": method, "params": params}


def legacy(message: dict[str, Any]) -> McpRequest:
    return McpRequest("legacy", json.dumps(message).encode(), None)


class Client:
    """What the client receives over ASGI."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


def exchange(
    gate: CallGate, record: ServerRecord, message: dict[str, Any], answer: list[bytes], content_type: bytes
) -> Client:
    """Admit `message`, send `answer` (chunks) through the verdict's watch, end the exchange."""
    client = Client()

    async def run() -> None:
        body = json.dumps(message).encode()
        verdict = gate.admit(record, ADA, REPLICA, McpRequest("legacy", body, None), {})
        assert not verdict.refused
        send = verdict.watch(client)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
        for n, chunk in enumerate(answer):
            await send({"type": "http.response.body", "body": chunk, "more_body": n < len(answer) - 1})
        verdict.end()

    asyncio.run(run())
    return client


def recorded(gate: CallGate, record: ServerRecord) -> list[tuple[str, str | None, CallOutcome]]:
    assert gate.recorder is not None
    gate.recorder.flush()
    audit = gate.recorder.audit
    return [(c.method, c.name, c.outcome) for c in reversed(audit.calls(record.id, 100).records)]


@pytest.fixture
def gate() -> CallGate:
    return CallGate(recorder=CallRecorder(InMemoryCallAudit(), interval=3600))


POLICY = {"analysts": {"tools": ["search"]}}


def test_a_json_list_is_cut_and_its_length_follows(gate: CallGate) -> None:
    # Given a caller who may use one tool, and a server answering tools/list with JSON, in two chunks
    record = server(toolPolicy=POLICY)
    answer = json.dumps({"jsonrpc": "2.0", "id": 9, "result": {"tools": [{"name": "search"}, {"name": "rm"}]}})

    # When the answer passes the watch
    client = exchange(
        gate, record, request("tools/list"), [answer[:20].encode(), answer[20:].encode()], b"application/json"
    )

    # Then the client gets the cut list, with its own length, in one piece
    assert json.loads(client.body)["result"]["tools"] == [{"name": "search"}]
    assert int(client.headers[b"content-length"]) == len(client.body)


def test_an_event_stream_list_is_cut_and_the_events_ids_stay(gate: CallGate) -> None:
    record = server(toolPolicy=POLICY)
    progress = b'id: 1\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n'
    listed = b'id: 2\ndata: {"jsonrpc":"2.0","id":9,"result":{"tools":[{"name":"rm"},{"name":"search"}]}}\n\n'

    client = exchange(gate, record, request("tools/list"), [progress + listed[:30], listed[30:]], b"text/event-stream")

    assert client.body.startswith(progress)
    assert client.body.endswith(b'id: 2\ndata: {"jsonrpc":"2.0","id":9,"result":{"tools":[{"name":"search"}]}}\n\n')


def test_a_list_too_large_to_cut_is_refused_not_passed_whole(gate: CallGate) -> None:
    record = server(toolPolicy=POLICY)
    tools = [{"name": "x" * 1000} for _ in range(LIST_LIMIT // 1000 + 10)]
    answer = json.dumps({"jsonrpc": "2.0", "id": 9, "result": {"tools": tools}}).encode()

    client = exchange(
        gate,
        record,
        request("tools/list"),
        [answer[i : i + 65536] for i in range(0, len(answer), 65536)],
        b"application/json",
    )

    assert client.status == 502
    assert json.loads(client.body)["id"] == 9


@pytest.mark.parametrize("content_type", [b"application/json", b"text/event-stream"])
def test_a_calls_outcome_is_read_from_its_answer_and_recorded(gate: CallGate, content_type: bytes) -> None:
    record = server()
    error = {"jsonrpc": "2.0", "id": 9, "result": {"content": [], "isError": True}}
    body = json.dumps(error).encode()
    answer = body if content_type == b"application/json" else b"data: " + body + b"\n\n"

    client = exchange(gate, record, request("tools/call", name="search"), [answer], content_type)

    assert client.body == answer
    assert recorded(gate, record) == [("tools/call", "search", CallOutcome.ERROR)]


def test_a_huge_answer_passes_untouched_and_counts_as_ok(gate: CallGate) -> None:
    record = server()
    answer = json.dumps({"jsonrpc": "2.0", "id": 9, "result": {"content": [{"type": "text", "text": "x" * (2 << 20)}]}})

    client = exchange(gate, record, request("resources/read", uri="big://1"), [answer.encode()], b"application/json")

    assert client.body == answer.encode()
    assert recorded(gate, record) == [("resources/read", "big://1", CallOutcome.OK)]


def test_an_answer_that_never_comes_is_incomplete_and_frees_its_slot(gate: CallGate) -> None:
    # Given a replica that runs one call at a time
    record = server(callLimits={"maxConcurrentPerReplica": 1})

    # When a call is admitted and its exchange ends before any answer (the client left)
    verdict = gate.admit(record, ADA, REPLICA, legacy(request("tools/call", name="a")), {})
    verdict.end()

    # Then it is recorded as incomplete, and the next call gets the slot
    assert recorded(gate, record) == [("tools/call", "a", CallOutcome.INCOMPLETE)]
    assert not gate.admit(record, ADA, REPLICA, legacy(request("tools/call", name="b")), {}).refused


@pytest.mark.parametrize(
    ("body", "restricted", "refused"),
    [
        (b'[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm"}}]', False, True),
        (b'[{"jsonrpc":"2.0","method":"notifications/initialized"}]', True, False),
        (b'[{"jsonrpc":"2.0","id":1,"method":"tools\\/call","params":{"name":"rm"}}]', False, True),
        (b'{"method": "tools/call" not json', True, True),
        (b'{"method": "tools/call" not json', False, False),
        (b"not json naming no call", True, False),
    ],
)
def test_a_body_that_is_no_single_message_is_never_half_checked(
    gate: CallGate, body: bytes, restricted: bool, refused: bool
) -> None:
    record = server(toolPolicy=POLICY if restricted else None)
    verdict = gate.admit(record, ADA, REPLICA, McpRequest("legacy", body, None), {})
    assert verdict.refused is refused


def test_a_2026_call_is_decided_on_its_validated_headers(gate: CallGate) -> None:
    # (the data plane validated that the headers agree with the body before asking)
    record = server(toolPolicy=POLICY)
    message = request("tools/call", name="rm")
    modern = McpRequest("modern", json.dumps(message).encode(), "2026-07-28")
    verdict = gate.admit(record, ADA, REPLICA, modern, {"mcp-method": "tools/call", "mcp-name": "rm"})
    assert verdict.refused
    client = Client()
    asyncio.run(verdict.refuse(client, []))
    assert client.status == 403
    assert json.loads(client.body)["error"]["code"] == FORBIDDEN


def test_a_plain_2025_request_that_holds_no_call_is_passed_without_parsing(gate: CallGate) -> None:
    # Given a server with no policy and no rate limit
    record = server()

    # When a 2025 request names no call (here it is not even JSON the gate could read)
    verdict = gate.admit(record, ADA, REPLICA, McpRequest("legacy", b'{"method":"initialize" broken', None), {})

    # Then it passes untouched, as if there were no gate
    assert not verdict.refused
    assert verdict.watch(print) is print  # type: ignore[comparison-overlap]


@pytest.mark.parametrize(
    ("method", "encoding", "content_type"),
    [
        ('"tools/call"', "utf-8", "application/json"),
        ('"tools\\/call"', "utf-8", "application/json"),
        ('"tools\\u002fcall"', "utf-8", "application/json"),
        ('"tools/call"', "utf-16", "application/json"),
        ('"tools/call"', "utf-32-le", "application/json"),
        ('"tools+AC8-call"', "ascii", "application/json; charset=utf-7"),
    ],
)
def test_a_call_is_found_however_its_method_is_spelled(
    gate: CallGate, method: str, encoding: str, content_type: str
) -> None:
    # Given a caller a policy refuses `rm`
    record = server(toolPolicy=POLICY)
    body = ('{"jsonrpc":"2.0","id":1,"method":' + method + ',"params":{"name":"rm"}}').encode(encoding)

    # Then a call to it is refused however the body spells its method (or, unreadable, it is refused anyway)
    verdict = gate.admit(record, ADA, REPLICA, McpRequest("legacy", body, None), {"content-type": content_type})
    assert verdict.refused
