"""JSON-RPC and SSE framing for the parts of the data plane that read messages: parse, build, frame, split."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

Message = dict[str, Any]

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
HEADER_MISMATCH = -32020
UNSUPPORTED_PROTOCOL_VERSION = -32022
LEGACY_RESOURCE_NOT_FOUND = -32002


def parse(body: bytes) -> Message | None:
    """One JSON-RPC message object, or None when the body is not one (a batch, not JSON, not an object)."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return message if isinstance(message, dict) else None


def dumps(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def error(request_id: Any, code: int, message: str, data: Any = None) -> Message:
    body: Message = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": body}


def is_request(message: Message) -> bool:
    return "method" in message and "id" in message


def is_notification(message: Message) -> bool:
    return "method" in message and "id" not in message


def is_response(message: Message) -> bool:
    return "method" not in message and ("result" in message or "error" in message)


def sse_event(message: Message, event: str = "message") -> bytes:
    return b"event: %b\ndata: %b\n\n" % (event.encode(), dumps(message))


class SseParser:
    """Incremental `text/event-stream` parser: feed bytes, get (event, data) pairs of complete events."""

    def __init__(self, limit: int = 16 << 20) -> None:
        self._buffer = b""
        self._limit = limit

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        self._buffer += chunk
        if b"\r" in self._buffer:
            self._buffer = self._buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events = []
        while b"\n\n" in self._buffer:
            block, self._buffer = self._buffer.split(b"\n\n", 1)
            event, data = "message", []
            for line in block.decode("utf-8", errors="replace").split("\n"):
                if not line or line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    event = value
                elif name == "data":
                    data.append(value)
            if data:
                events.append((event, "\n".join(data)))
        if len(self._buffer) > self._limit:
            raise ValueError("event larger than the limit")
        return events


async def messages_of(body: AsyncIterator[bytes], content_type: bytes) -> AsyncIterator[Message]:
    """The JSON-RPC messages of an answer: one JSON object, or each `message` event of an event stream."""
    if content_type.startswith(b"text/event-stream"):
        parser = SseParser()
        async for chunk in body:
            for event, data in parser.feed(chunk):
                if event == "message" and (message := parse(data.encode())) is not None:
                    yield message
        return
    whole = b"".join([chunk async for chunk in body])
    if whole and (message := parse(whole)) is not None:
        yield message
