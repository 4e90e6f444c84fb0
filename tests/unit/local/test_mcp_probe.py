"""The stdlib MCP client behind readiness and liveness, against a small fake server speaking both transports."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hosted_mcp.adapters.mcp_probe import McpProbeError, McpReadinessProbe, check_sse, check_streamable_http
from hosted_mcp.models.domain import ServerRecord, ServerSpec
from hosted_mcp.models.fields import ServerStatus, ServerType
from tests.unit.local.conftest import T0

TOOLS = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}


class FakeMcp(BaseHTTPRequestHandler):
    """Streamable HTTP at /mcp (initialize as JSON, tools/list as an event stream); /broken answers 500."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, str | None]] = []

    def log_message(self, *args: Any) -> None:
        return

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        message = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(("POST", message["method"], self.headers.get("Mcp-Session-Id")))
        if self.path == "/broken":
            self._send(500)
        elif "id" not in message:
            self._send(202)
        elif message["method"] == "initialize":
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": {"protocolVersion": "2025-06-18"}}
            self._send(200, json.dumps(reply).encode(), {"Content-Type": "application/json", "Mcp-Session-Id": "s1"})
        else:
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": TOOLS}
            stream = f"event: message\ndata: {json.dumps(reply)}\n\n".encode()
            self._send(200, stream, {"Content-Type": "text/event-stream"})

    def do_DELETE(self) -> None:
        self.seen.append(("DELETE", self.path, self.headers.get("Mcp-Session-Id")))
        self._send(200)


@pytest.fixture
def fake_server() -> Iterator[str]:
    FakeMcp.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeMcp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def record(server_type: ServerType = ServerType.HTTP) -> ServerRecord:
    spec = ServerSpec(name="fake", serverType=server_type, startCommand="run", port=8000)
    return ServerRecord(
        id="s1", normalizedName="fake", spec=spec, status=ServerStatus.CREATING, owner="t", createdAt=T0, updatedAt=T0
    )


def test_a_server_answering_initialize_and_tools_list_is_ready(fake_server: str) -> None:
    tools = check_streamable_http(f"{fake_server}/mcp")

    assert tools == 1
    # initialize, initialized (with the session), tools/list (with the session), then the session is closed
    assert FakeMcp.seen == [
        ("POST", "initialize", None),
        ("POST", "notifications/initialized", "s1"),
        ("POST", "tools/list", "s1"),
        ("DELETE", "/mcp", "s1"),
    ]


def test_the_probe_names_the_real_reason(fake_server: str) -> None:
    probe = McpReadinessProbe(lambda r: [f"{fake_server}/mcp", f"{fake_server}/broken"])

    assert probe.problem(record()) == "initialize answered HTTP 500"


def test_nothing_listening_is_a_problem_not_an_exception(fake_server: str) -> None:
    probe = McpReadinessProbe(lambda r: "http://127.0.0.1:9/mcp", timeout=1)

    problem = probe.problem(record())

    assert problem is not None
    assert "initialize" in problem


def test_no_endpoint_at_all_is_a_problem() -> None:
    assert McpReadinessProbe(lambda r: []).problem(record()) == "the deployment has no running endpoint"


def test_an_unready_server_is_tried_again_after_a_delay() -> None:
    waits: list[float] = []
    probe = McpReadinessProbe(
        lambda r: "http://127.0.0.1:9/mcp", attempts=3, retry_delay=0.5, sleep=waits.append, timeout=1
    )

    assert probe.problem(record()) is not None
    assert waits == [0.5, 0.5]


def test_sse_transport_answers_arrive_on_the_stream() -> None:
    class FakeSse(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        queue: list[bytes] = []
        ready = threading.Condition()

        def log_message(self, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b"event: endpoint\ndata: /messages/?session_id=abc\n\n")
            self.wfile.flush()
            for _ in range(2):
                with self.ready:
                    self.ready.wait_for(lambda: bool(self.queue), timeout=10)
                    chunk = self.queue.pop(0)
                self.wfile.write(chunk)
                self.wfile.flush()

        def do_POST(self) -> None:
            message = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.path == "/messages/?session_id=abc"
            if "id" in message:
                result = {"protocolVersion": "2024-11-05"} if message["method"] == "initialize" else TOOLS
                reply = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result})
                with self.ready:
                    self.queue.append(f"event: message\ndata: {reply}\n\n".encode())
                    self.ready.notify_all()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert check_sse(f"http://127.0.0.1:{server.server_address[1]}/sse") == 1
    finally:
        server.shutdown()
        server.server_close()


def test_an_error_answer_is_reported_with_its_message(fake_server: str) -> None:
    with pytest.raises(McpProbeError, match="HTTP 500"):
        check_streamable_http(f"{fake_server}/broken")
