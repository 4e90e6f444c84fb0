"""The few ASGI moves the data plane's modules share: answer whole, start an event stream, notice a client leave."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, MutableMapping
from typing import Any

from starlette.types import Receive, Send

from hosted_mcp_gateway import jsonrpc

SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store"), (b"x-accel-buffering", b"no")]
JSON_HEADERS = [(b"content-type", b"application/json")]


async def answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """A whole answer, with its length."""
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def json_answer(
    send: Send, status: int, message: jsonrpc.Message, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await answer(send, status, [*JSON_HEADERS, *(headers or [])], jsonrpc.dumps(message))


async def problem(send: Send, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
    """The platform's error body (`{"code", "message"}`), as the management API answers too."""
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await json_answer(send, status, {"code": code, "message": message}, extra)


async def disconnected(receive: Receive) -> None:
    """Returns once the client has gone away (closed its connection or its response stream)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """`send`, adding `extra` headers to the answer's start."""
    if not extra:
        return send

    async def sending(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


async def quietly(awaitable: Any) -> None:
    with contextlib.suppress(Exception):
        await awaitable


_BACKGROUND: set[asyncio.Task[None]] = set()


def background(awaitable: Any) -> None:
    """Fire and forget, keeping a reference until done (the event loop holds only weak ones)."""
    task = asyncio.ensure_future(quietly(awaitable))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
