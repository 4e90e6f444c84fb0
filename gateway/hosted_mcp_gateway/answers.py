"""Reading what a server answers, on its way to the client: how a call ended, and lists cut to the caller's grant.

Answers come as one JSON body or as an event stream (a streamable-HTTP POST answered with SSE, a 2025 session's
GET stream, the SSE transport's stream). Events are handled whole: bytes are held only until the blank line that
ends an event, then passed on exactly as they came, unless the event is a list answer that must lose entries,
in which case its `data` is written again (its `id:`, `event:` and other lines stay as they were).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hosted_mcp.auth.tool_access import LISTS, Grant, visible
from hosted_mcp.models.calls import CallOutcome
from hosted_mcp_gateway import jsonrpc

LIST_KEYS = tuple(LISTS.values())  # the result member holding each kind's entries: tools, prompts, resources
CALL_RESULT = frozenset({"content", "structuredContent", "messages", "contents"})  # what marks a call's result
LINE = re.compile(rb"\r\n|\r|\n")
BLANK_LINE = re.compile(rb"(?>\r\n|\r|\n)(?>\r\n|\r|\n)")  # the end of an event: a line ending, then an empty line


def outcome_of(message: Mapping[str, Any]) -> CallOutcome:
    """How a call ended, from the server's response to it."""
    if "error" in message:
        return CallOutcome.ERROR
    result = message.get("result")
    if isinstance(result, Mapping):
        if result.get("resultType") == "input_required":
            return CallOutcome.INPUT_REQUIRED
        if result.get("isError") is True:
            return CallOutcome.ERROR
    return CallOutcome.OK


def filtered(message: jsonrpc.Message, grant: Grant, kind: str | None = None) -> jsonrpc.Message | None:
    """The message with its list answer cut to `grant` (of `kind`, or whichever list it holds when None); None when
    it needs no change."""
    result = message.get("result")
    if not isinstance(result, dict) or not jsonrpc.is_response(message):
        return None
    if kind is None and not CALL_RESULT.isdisjoint(result):
        return None
    for candidate in (kind,) if kind else LIST_KEYS:
        entries = result.get(candidate)
        if not isinstance(entries, list):
            continue
        kept = visible(grant, candidate, entries)
        if len(kept) == len(entries):
            return None
        return {**message, "result": {**result, candidate: kept}}
    return None


class EventSplitter:
    """Whole events out of a byte stream: feed chunks, get each complete event's raw bytes (its blank line
    included). Each byte is searched about once, however large an event grows across chunks."""

    def __init__(self, limit: int = 16 << 20) -> None:
        self._buffer = bytearray()
        self._limit = limit

    def feed(self, chunk: bytes) -> list[bytes]:
        position = max(0, len(self._buffer) - 3)  # a blank line (at most 4 bytes) may straddle the old end
        self._buffer += chunk
        events, start = [], 0
        while (found := BLANK_LINE.search(self._buffer, position)) is not None:
            end = found.end()
            if end == len(self._buffer) and self._buffer[-1] == 0x0D:
                break  # a CR at the very end may be the first half of a CRLF: wait for the next byte
            events.append(bytes(self._buffer[start:end]))
            start = position = end
        del self._buffer[:start]
        if len(self._buffer) > self._limit:
            raise ValueError("event larger than the limit")
        return events

    def rest(self) -> bytes:
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest


def event_parts(event: bytes) -> tuple[bytes, bytes | None]:
    """The name (`message` unless said otherwise) and the data (lines joined; None without any) of a raw event."""
    name, data = b"message", []
    for line in LINE.split(event):
        if line.startswith(b"data:"):
            data.append(line[5:].removeprefix(b" "))
        elif line.startswith(b"event:"):
            name = line[6:].strip()
    return name, b"\n".join(data) if data else None


def event_message(event: bytes) -> jsonrpc.Message | None:
    """The JSON-RPC message of one raw `message` event, or None (another event type, a comment, not JSON-RPC)."""
    name, data = event_parts(event)
    if name != b"message" or data is None:
        return None
    return jsonrpc.parse(data)


def rewritten_event(event: bytes, message: jsonrpc.Message) -> bytes:
    """The event with its data replaced by `message`, every other line kept in place."""
    lines, written = [], False
    for line in LINE.split(event):
        if not line:
            continue
        if line.startswith(b"data:"):
            if not written:
                lines.append(b"data: " + jsonrpc.dumps(message))
                written = True
            continue
        lines.append(line)
    return b"\n".join(lines) + b"\n\n"
