"""Reading just enough of a JSON-RPC line to route it, and writing the few messages the bridge makes itself.

A child's answers are the large messages (a tool's result can be megabytes), and routing one needs only its
top-level `id`. SDKs write answers in one of a few layouts: `{"jsonrpc":"2.0","id":…,"result":…}` (Python, Go,
Rust, Java) or `{"result":…,"jsonrpc":"2.0","id":…}` (TypeScript). `response_id` finds the id in those layouts
by looking at the first bytes, and at the last few hundred bytes, of the line; it never walks the result. Any
other layout returns None and the caller parses the line in full (correct, only slower).

Why the tail search is safe: in valid JSON a `"` inside a string is always escaped, so `,"id":` or `{"id":` can
only start a key; and when that key's scalar value is followed by the line's final `}`, that `}` closes the
top-level object, so the key is a top-level one.
"""

from __future__ import annotations

import json
import re
from typing import Any

_ID = rb'(-?\d+|"(?:[^"\\]|\\.)*"|null)'
_VERSION = rb'"jsonrpc"\s*:\s*"2\.0"\s*,\s*'
# A response that starts with its id (after an optional "jsonrpc"), or with its result/error.
_RESPONSE_HEAD = re.compile(
    rb"\s*\{\s*(?:" + _VERSION + rb')?(?:"id"\s*:\s*' + _ID + rb"\s*,\s*(?:" + _VERSION + rb')?)?"(?:result|error)"\s*:'
)
_ID_AT_END = re.compile(rb'[{,]\s*"id"\s*:\s*' + _ID + rb'\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$')
TAIL = 320
_DUMP = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
LOG_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


def response_id(line: bytes) -> tuple[int, int] | None:
    """Where the top-level id of a response sits in `line` (start, end), if the layout is a common one.

    None means "not recognised": the line may be a request, a notification, or an answer in another layout.
    """
    head = _RESPONSE_HEAD.match(line)
    if head is None:
        return None
    if head.start(1) >= 0:
        return head.span(1)
    tail = _ID_AT_END.search(line, max(0, len(line) - TAIL))
    return tail.span(1) if tail is not None else None


def id_value(token: bytes) -> Any:
    """The Python value of an id token from `response_id` (an int, a str or None)."""
    if token[:1] == b'"':
        return json.loads(token)
    return None if token == b"null" else int(token)


def dump(message: Any) -> bytes:
    """Compact JSON on one line (control characters in strings are escaped, so never a raw newline)."""
    return _DUMP(message).encode()


def one_line(body: bytes) -> bytes:
    """A JSON text as a single line: outside strings, CR and LF are only whitespace; inside, they are escaped."""
    if b"\n" in body or b"\r" in body:
        return body.replace(b"\r", b" ").replace(b"\n", b" ")
    return body


def error(message_id: Any, code: int, text: str) -> bytes:
    return dump({"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": text}})


def result(message_id: Any, value: Any) -> bytes:
    return dump({"jsonrpc": "2.0", "id": message_id, "result": value})
