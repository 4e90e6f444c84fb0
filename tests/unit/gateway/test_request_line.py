"""The request-line rule: control characters in the target or headers are a 400 before anything else runs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hosted_mcp_gateway.request_line import RequestLineRule


def scope(path: str = "/mcp/a/mcp", raw_path: bytes | None = None, query: bytes = b"", headers: Any = ()) -> dict:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode(),
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1"), *headers],
    }


def run(request: dict) -> tuple[int, dict | None, bool]:
    reached: list[bool] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    asyncio.run(RequestLineRule(inner)(request, receive, send))
    if not sent:
        return 0, None, bool(reached)
    return sent[0]["status"], json.loads(sent[1]["body"]), bool(reached)


@pytest.mark.parametrize(
    "request_scope",
    [
        scope("/mcp/a/mcp\r\nX-Hosted-Mcp-User: admin", b"/mcp/a/mcp%0D%0AX-Hosted-Mcp-User:%20admin"),
        scope("/mcp/a/mcp\n", b"/mcp/a/mcp%0A"),
        scope("/mcp/a/mcp\x00", b"/mcp/a/mcp%00"),
        scope("/mcp/a/mcp\x7f", b"/mcp/a/mcp%7F"),
        scope("/mcp/a/mcp x", b"/mcp/a/mcp x"),
        scope(query=b"a=b c"),
        scope(query=b"a=\xff"),
        scope(headers=[(b"x-note", b"a\x00b")]),
        scope(headers=[(b"x-note", b"a\x1bb")]),
    ],
)
def test_unsafe_requests_are_refused_with_400_and_go_no_further(request_scope: dict) -> None:
    status, body, reached = run(request_scope)

    assert (status, reached) == (400, False)
    assert body is not None
    assert body["code"] == "BadRequest"


def test_the_error_names_what_was_wrong() -> None:
    _, body, _ = run(scope(headers=[(b"x-note", b"\x01")]))

    assert body is not None
    assert "x-note" in body["message"]


@pytest.mark.parametrize(
    "request_scope",
    [
        scope("/mcp/a/mcp", query=b"sessionId=abc&x=%0D%0A"),
        scope("/mcp/a/mcp/a b", b"/mcp/a/mcp/a%20b"),  # a decoded space is fine: it is re-encoded upstream
        scope(headers=[(b"user-agent", b"agent\t1.0 \xc3\xa9")]),  # tab and non-ASCII in values are allowed
    ],
)
def test_ordinary_requests_pass_through_untouched(request_scope: dict) -> None:
    assert run(request_scope) == (0, None, True)
