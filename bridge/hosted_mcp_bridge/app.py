"""The HTTP side: MCP's streamable HTTP transport at `/mcp`, its deprecated HTTP+SSE transport at `/sse` +
`/messages/`, and `/healthz`. A plain ASGI callable (no framework routing or middleware on the per-call path).

One module: both transports are one ASGI callable over the same sessions; the rest are its request helpers.

Streamable HTTP (2025-03-26 … 2025-11-25):
- POST `initialize` opens a session and answers with `Mcp-Session-Id`; every later request must carry it (400
  without it, 404 once the session is gone, so the client starts a new one).
- POST with requests answers with an SSE stream that carries everything the child sends about those requests
  (progress, logging, its own requests to the client) and ends after the last answer. A client that accepts
  only JSON gets the answer(s) as one JSON body; what relates to them then goes to its standalone stream. The
  head is written when the first message is ready, so a plain answer leaves in one piece with its length.
- POST with only notifications or answers (to the child's requests) gets 202.
- GET opens the session's standalone stream (a newer GET replaces it); DELETE ends the session.
- `MCP-Protocol-Version` on requests after initialize must name a revision the bridge speaks (else 400); without
  it the negotiated one applies. JSON-RPC batches are accepted from sessions that negotiated 2025-03-26 or
  older, refused (400) from later ones, which removed them. `Last-Event-ID` is not used: streams are not
  resumable, and a client that reconnects gets a new stream.

HTTP+SSE (2024-11-05): GET `/sse` opens a session whose first event, `endpoint`, names `messages/?session_id=…`
relative to the SSE URL (so it resolves under whatever prefix the bridge is published at); POSTs there get 202
and everything, answers included, travels on the SSE stream. The session ends when that stream closes.

Not checked here: `Origin` and `Host`. The bridge listens on loopback (or inside the server's task) and the
platform's gateway, the only thing that reaches it, validates both before forwarding (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from hosted_mcp_bridge import jsonrpc
from hosted_mcp_bridge.bridge import Bridge, Unavailable
from hosted_mcp_bridge.outlet import Outlet
from hosted_mcp_bridge.routing import Child, Session
from hosted_mcp_bridge.settings import BATCH_VERSIONS, PROTOCOL_VERSIONS

logger = logging.getLogger("hosted_mcp_bridge")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache, no-transform")]
JSON_TYPE = (b"content-type", b"application/json")
# A stream's first message usually comes within milliseconds; only a slower one is worth a task that watches for
# the client leaving (its requests' related messages must then go elsewhere).
WATCH_AFTER = 0.005
SESSION_HEADER = b"mcp-session-id"
VERSION_HEADER = b"mcp-protocol-version"
KNOWN_VERSIONS = frozenset(v.encode() for v in PROTOCOL_VERSIONS)


class HttpError(Exception):
    def __init__(self, status: int, code: int, text: str, message_id: Any = None) -> None:
        super().__init__(text)
        self.status, self.code, self.text, self.message_id = status, code, text, message_id


class BridgeApp:
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.limit = bridge.settings.max_message_bytes
        self.queued = bridge.settings.max_queued_bytes
        self.keepalive = bridge.settings.keepalive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                await self._http(scope, receive, send)
            except HttpError as refused:
                await _json(send, refused.status, jsonrpc.error(refused.message_id, refused.code, refused.text))
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/mcp" or path == "/mcp/":
            if method == "POST":
                await self.post(scope, receive, send)
            elif method == "GET":
                await self.get(scope, receive, send)
            elif method == "DELETE":
                await self.delete(scope, send)
            else:
                await _plain(send, 405, b"Method Not Allowed", [(b"allow", b"GET, POST, DELETE")])
        elif path == "/sse":
            if method != "GET":
                await _plain(send, 405, b"Method Not Allowed", [(b"allow", b"GET")])
            else:
                await self.sse(scope, receive, send)
        elif path == "/messages/" or path == "/messages":
            if method != "POST":
                await _plain(send, 405, b"Method Not Allowed", [(b"allow", b"POST")])
            else:
                await self.messages(scope, receive, send)
        elif path == "/healthz" and method in ("GET", "HEAD"):
            healthy, detail = self.bridge.health()
            await _json(send, 200 if healthy else 503, jsonrpc.dump(detail))
        else:
            await _plain(send, 404, b"Not Found")

    # -- streamable HTTP ---------------------------------------------------------------------------------------

    async def post(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        accept = headers.get(b"accept", b"*/*")
        sse = _accepts(accept, b"text/event-stream")
        if not sse and not _accepts(accept, b"application/json"):
            raise HttpError(
                406, jsonrpc.INVALID_REQUEST, "Not Acceptable: accept application/json or text/event-stream"
            )
        body = await self._body(headers, receive)
        messages, batch = _parse(body)
        initialize = any(m.get("method") == "initialize" for m in messages)
        created = initialize
        if initialize:
            if batch:
                raise HttpError(400, jsonrpc.INVALID_REQUEST, "initialize must not be part of a batch")
            session = self._open(legacy=False)
        else:
            session = self._session(headers)
            if batch and session.version is not None and session.version not in BATCH_VERSIONS:
                raise HttpError(400, jsonrpc.INVALID_REQUEST, f"batches are not part of MCP {session.version}")
        try:
            child = await self._bind(session)
        except HttpError:
            if created:
                self.bridge.end_session(session)
            raise
        requests = sum(1 for m in messages if "method" in m and "id" in m)
        outlet = Outlet(sse=sse, limit=self.queued, batch=batch)
        outlet.awaiting = requests
        _submit(child, session, messages, body if not batch else None, outlet)
        session.last_seen = time.monotonic()
        if requests == 0:
            await _plain(send, 202, b"")
            return
        opened = session if created else None
        try:
            if sse:
                await self._stream_answer(outlet, send, receive, opened)
            else:
                await self._json_answer(outlet, send, opened)
        finally:
            session.last_seen = time.monotonic()
            if created and session.version is None:  # initialize failed: no session to keep
                self.bridge.end_session(session)

    async def get(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        if not _accepts(headers.get(b"accept", b"*/*"), b"text/event-stream"):
            raise HttpError(406, jsonrpc.INVALID_REQUEST, "Not Acceptable: the GET stream is text/event-stream")
        session = self._session(headers)
        outlet = Outlet(sse=True, limit=self.queued, persistent=True)
        session.attach(outlet)
        try:
            await self._stream(outlet, send, receive)
        finally:
            session.detach(outlet)

    async def delete(self, scope: Scope, send: Send) -> None:
        session = self._session(dict(scope["headers"]))
        self.bridge.end_session(session)
        await _plain(send, 200, b"")

    # -- HTTP+SSE (deprecated, 2024-11-05) -------------------------------------------------------------------

    async def sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = self._open(legacy=True)
        outlet = Outlet(sse=True, limit=self.queued, persistent=True)
        outlet.put_raw(b"event: endpoint\ndata: messages/?session_id=" + session.id.encode() + b"\n\n")
        session.attach(outlet)
        try:
            await self._stream(outlet, send, receive)
        finally:
            self.bridge.end_session(session)

    async def messages(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        session_id = (query.get("session_id") or query.get("sessionId") or [""])[0]
        session = self.bridge.sessions.get(session_id)
        if session is None or not session.legacy:
            await _plain(send, 404, b"Could not find session")
            return
        body = await self._body(dict(scope["headers"]), receive)
        messages, batch = _parse(body)
        child = await self._bind(session)
        outlet = session.standalone
        if outlet is None:
            await _plain(send, 404, b"Could not find session")
            return
        _submit(child, session, messages, body if not batch else None, outlet)
        session.last_seen = time.monotonic()
        await _plain(send, 202, b"Accepted")

    # -- shared pieces -------------------------------------------------------------------------------------------

    def _open(self, *, legacy: bool) -> Session:
        try:
            return self.bridge.open_session(legacy=legacy)
        except Unavailable as refused:
            raise HttpError(503, jsonrpc.INTERNAL_ERROR, str(refused)) from refused

    async def _bind(self, session: Session) -> Child:
        try:
            return await self.bridge.bind(session)
        except Unavailable as refused:
            raise HttpError(503, jsonrpc.INTERNAL_ERROR, str(refused)) from refused

    def _session(self, headers: dict[bytes, bytes]) -> Session:
        session_id = headers.get(SESSION_HEADER)
        if not session_id:
            raise HttpError(400, jsonrpc.INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is required")
        session = self.bridge.sessions.get(session_id.decode("latin-1"))
        if session is None or session.legacy:
            raise HttpError(404, jsonrpc.INVALID_REQUEST, "Session not found")
        version = headers.get(VERSION_HEADER)
        if version is not None and version not in KNOWN_VERSIONS:
            raise HttpError(
                400,
                jsonrpc.INVALID_REQUEST,
                f"Bad Request: unsupported MCP-Protocol-Version {version.decode('latin-1')}",
            )
        return session

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        content_type = headers.get(b"content-type", b"")
        if content_type.split(b";", 1)[0].strip().lower() != b"application/json":
            raise HttpError(415, jsonrpc.INVALID_REQUEST, "Unsupported Media Type: send application/json")
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            raise HttpError(413, jsonrpc.INVALID_REQUEST, f"the body is larger than {self.limit} bytes")
        message = await receive()
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            return body
        parts, size = [body], len(body)
        while message.get("more_body", False):
            message = await receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, jsonrpc.INVALID_REQUEST, "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise HttpError(413, jsonrpc.INVALID_REQUEST, f"the body is larger than {self.limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def _json_answer(self, outlet: Outlet, send: Send, opened: Session | None) -> None:
        answers = await outlet.settled()
        if not answers:
            await _plain(send, 202, b"", _session_header(opened))  # every request in it was cancelled
            return
        body = answers[0] if len(answers) == 1 and not outlet.batch else b"[" + b",".join(answers) + b"]"
        await _json(send, 200, body, _session_header(opened))

    async def _stream_answer(self, outlet: Outlet, send: Send, receive: Receive, opened: Session | None) -> None:
        """A POST's SSE answer. When the first message is also the last, it goes out with its length, in one piece."""
        watcher: list[asyncio.Task[None]] = []
        timer = asyncio.get_running_loop().call_later(WATCH_AFTER, _watch_soon, receive, outlet, watcher)
        try:
            first = await outlet.take()
            if first is None or (outlet.finished and not outlet.chunks):
                body = first or b""
                head = [*SSE_HEADERS, *_session_header(opened), (b"content-length", b"%d" % len(body))]
                await send({"type": "http.response.start", "status": 200, "headers": head})
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            head = [*SSE_HEADERS, *_session_header(opened)]
            await send({"type": "http.response.start", "status": 200, "headers": head})
            await send({"type": "http.response.body", "body": first, "more_body": True})
            if not watcher:
                timer.cancel()
                _watch_soon(receive, outlet, watcher)
            await self._rest(outlet, send)
        finally:
            timer.cancel()
            for task in watcher:
                task.cancel()

    async def _stream(self, outlet: Outlet, send: Send, receive: Receive) -> None:
        """A standalone or HTTP+SSE stream: the head at once, then messages until it is finished or the client goes."""
        watcher: list[asyncio.Task[None]] = []
        _watch_soon(receive, outlet, watcher)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            opening = outlet.take_now() or b": stream open\n\n"  # the HTTP+SSE endpoint event, else a comment
            await send({"type": "http.response.body", "body": opening, "more_body": True})
            await self._rest(outlet, send)
        finally:
            for task in watcher:
                task.cancel()

    async def _rest(self, outlet: Outlet, send: Send) -> None:
        while (chunk := await outlet.take(self.keepalive)) is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if not outlet.gone:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    # -- lifespan ----------------------------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.bridge.start()
                except OSError as failure:
                    await send({"type": "lifespan.startup.failed", "message": f"cannot start the server: {failure}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.bridge.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _submit(child: Child, session: Session, messages: list[dict[str, Any]], raw: bytes | None, outlet: Outlet) -> None:
    """Hand each client message to the child; requests the bridge answers itself are answered on `outlet`."""
    for message in messages:
        if "method" in message:
            if "id" in message:
                local = child.request(session, message, raw, outlet)
                if local is not None:
                    outlet.answer(local)
            else:
                child.notify(session, message, raw)
        else:
            child.reply(session, message, raw)


def _parse(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The JSON-RPC messages of a body, and whether it was a batch; HttpError for anything else."""
    try:
        payload = json.loads(body)
    except ValueError as failure:
        raise HttpError(400, jsonrpc.PARSE_ERROR, "Parse error") from failure
    batch = isinstance(payload, list)
    messages = payload if batch else [payload]
    if not messages:
        raise HttpError(400, jsonrpc.INVALID_REQUEST, "Invalid Request: empty batch")
    for message in messages:
        if not _valid(message):
            raise HttpError(400, jsonrpc.INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")
    return messages, batch


def _valid(message: Any) -> bool:
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return False
    has_id = "id" in message
    if has_id and (not isinstance(message["id"], int | str) or isinstance(message["id"], bool)):
        return False
    if "method" in message:
        return isinstance(message["method"], str)
    return has_id and ("result" in message or "error" in message)


def _accepts(accept: bytes, media_type: bytes) -> bool:
    kind = media_type.split(b"/", 1)[0] + b"/*"
    for item in accept.split(b","):
        name = item.split(b";", 1)[0].strip().lower()
        if name in (media_type, kind, b"*/*"):
            return True
    return False


def _session_header(opened: Session | None) -> list[tuple[bytes, bytes]]:
    """`Mcp-Session-Id` for the answer to an initialize that opened a session (not when initialize failed)."""
    return [(SESSION_HEADER, opened.id.encode())] if opened is not None and opened.version is not None else []


def _watch_soon(receive: Receive, outlet: Outlet, tasks: list[asyncio.Task[None]]) -> None:
    if not tasks:
        tasks.append(asyncio.ensure_future(_watch(receive, outlet)))


async def _watch(receive: Receive, outlet: Outlet) -> None:
    """Mark `outlet` as left when the client disconnects (related messages then go elsewhere)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            outlet.leave()
            return


async def _plain(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body)), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _json(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [JSON_TYPE, (b"content-length", b"%d" % len(body)), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
