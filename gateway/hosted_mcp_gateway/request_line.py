"""Rule: a request whose target or headers carry control characters is refused with 400, before anything else.

The gateway builds the hosted server's request line from the request's path and query. A percent-encoded CR LF
(`%0D%0A`) decodes into the ASGI `path`; written into an upstream request line, it would let a caller add header
lines (forged identity headers) or a whole second request on a kept-alive connection (RFC 9112 section 2.2: a
recipient must not treat bare CR or LF as anything but invalid). No legitimate MCP path, query or header value
carries a control character, so they are refused here rather than escaped later.

Checked: the decoded path, the raw path and query bytes (visible ASCII only), and every header name and value
(no control character but horizontal tab, RFC 9110 section 5.5).
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Receive, Scope, Send

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
RAW_UNSAFE = re.compile(rb"[^\x21-\x7e]")
HEADER_UNSAFE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def request_line_problem(scope: Scope) -> str | None:
    """What makes this request unsafe to forward, or None."""
    if CONTROL.search(scope.get("path", "")):
        return "path: control characters are not allowed"
    if RAW_UNSAFE.search(scope.get("raw_path") or b""):
        return "path: only visible ASCII is allowed (percent-encode the rest)"
    if RAW_UNSAFE.search(scope.get("query_string", b"")):
        return "query: only visible ASCII is allowed (percent-encode the rest)"
    for name, value in scope.get("headers", ()):
        if HEADER_UNSAFE.search(name) or HEADER_UNSAFE.search(value):
            return f"header {name.decode('latin-1')!r}: control characters are not allowed"
    return None


class RequestLineRule:
    """Pure ASGI wrapper: refuses unsafe requests with the platform's usual JSON error body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (problem := request_line_problem(scope)) is not None:
            body = json.dumps({"code": "BadRequest", "message": problem}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
