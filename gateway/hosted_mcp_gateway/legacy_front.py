"""Streamable HTTP of the 2025 revisions, served by the gateway for a server that has only the SSE transport.

An SSE server (the 2024-11-05 HTTP+SSE transport) has no `/mcp`: the gateway plays the streamable-HTTP server
itself on `/mcp/{name}/mcp` and holds, for each client session, an `SseSession` with a replica. The client's own
`initialize` opens it and the server's answer goes back with a session id of the gateway's; a request is relayed
and answered as an event stream carrying what the server sends about it (progress, logs, its own requests, which
the client answers with a POST like any 2025 client) and then the response; GET streams what the server sends
outside requests; DELETE ends the session. Request ids pass unchanged: the session is this client's alone.

A session lives in the gateway process that opened it (its id is sealed with the process's identity): it ends
with that process, and the client opens a new one (HTTP 404, as the transport says).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.types import Receive, Send

from hosted_mcp_gateway import jsonrpc
from hosted_mcp_gateway.asgi import SSE_HEADERS, answer, background, disconnected, json_answer, problem
from hosted_mcp_gateway.forwarder import UpstreamError, UpstreamPool
from hosted_mcp_gateway.upstream import BridgeError, Exchange, SessionLost, UpstreamSession, open_session

MAX_SESSIONS = 10_000
IDLE_SECONDS = 1800.0
KEEPALIVE_SECONDS = 15.0


@dataclass
class FrontSession:
    upstream: UpstreamSession
    caller_key: str
    server_id: str
    used: float = field(default_factory=time.monotonic)


class LegacyFront:
    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self._sessions: OrderedDict[str, FrontSession] = OrderedDict()

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), OrderedDict()
        for session in sessions:
            with contextlib.suppress(Exception):
                await session.upstream.close(self.pool)

    def _find(self, session_id: str | None, caller_key: str, server_id: str) -> FrontSession | None:
        session = self._sessions.get(session_id or "")
        if session is None or session.caller_key != caller_key or session.server_id != server_id:
            return None
        if not session.upstream.alive or time.monotonic() - session.used > IDLE_SECONDS:
            self._drop(session_id or "")
            return None
        session.used = time.monotonic()
        return session

    def _drop(self, session_id: str) -> None:
        gone = self._sessions.pop(session_id, None)
        if gone is not None:
            background(gone.upstream.close(self.pool))

    async def post(
        self,
        message: jsonrpc.Message | None,
        *,
        session_id: str | None,
        caller_key: str,
        server_id: str,
        replica: str,
        path: str,
        identity: list[tuple[str, str]],
        receive: Receive,
        send: Send,
    ) -> None:
        if message is None:
            await json_answer(send, 400, jsonrpc.error(None, jsonrpc.INVALID_REQUEST, "Not one JSON-RPC message"))
            return
        if message.get("method") == "initialize" and "id" in message:
            await self._initialize(message, caller_key, server_id, replica, path, identity, send)
            return
        session = self._find(session_id, caller_key, server_id)
        if session is None:
            error = jsonrpc.error(message.get("id"), jsonrpc.INVALID_REQUEST, "Session not found: initialize again")
            await json_answer(send, 404, error)
            return
        try:
            if not jsonrpc.is_request(message):  # a notification, or the client's answer to the server
                await session.upstream.send(self.pool, message)
                await answer(send, 202, [], b"")
                return
            exchange = await session.upstream.request(self.pool, message)
        except (SessionLost, BridgeError, UpstreamError, OSError, asyncio.IncompleteReadError):
            self._drop(session_id or "")
            error = jsonrpc.error(message.get("id"), jsonrpc.INVALID_REQUEST, "Session lost: initialize again")
            await json_answer(send, 404, error)
            return
        await _stream(exchange, message.get("id"), receive, send)

    async def _initialize(
        self,
        message: jsonrpc.Message,
        caller_key: str,
        server_id: str,
        replica: str,
        path: str,
        identity: list[tuple[str, str]],
        send: Send,
    ) -> None:
        try:
            upstream, reply = await open_session(
                self.pool, replica, path, identity, transport="sse", initialize=message
            )
        except (BridgeError, UpstreamError, OSError, asyncio.IncompleteReadError):
            error = jsonrpc.error(message.get("id"), jsonrpc.INTERNAL_ERROR, "The server did not answer")
            await json_answer(send, 502, error, [(b"retry-after", b"5")])
            return
        session_id = uuid.uuid4().hex
        self._sessions[session_id] = FrontSession(upstream, caller_key, server_id)
        while len(self._sessions) > MAX_SESSIONS:
            self._drop(next(iter(self._sessions)))
        await json_answer(send, 200, reply, [(b"mcp-session-id", session_id.encode())])

    async def get(self, session_id: str | None, caller_key: str, server_id: str, receive: Receive, send: Send) -> None:
        """The session's own stream: what the server sends outside any request, until the client leaves."""
        session = self._find(session_id, caller_key, server_id)
        if session is None:
            await problem(send, 404, "SessionNotFound", "No such session: initialize again")
            return
        own = await session.upstream.listen(self.pool)
        await _stream(own, None, receive, send)

    async def delete(self, session_id: str | None, caller_key: str, server_id: str, send: Send) -> None:
        if self._find(session_id, caller_key, server_id) is None:
            await problem(send, 404, "SessionNotFound", "No such session")
            return
        self._drop(session_id or "")
        await answer(send, 200, [], b"")


async def _stream(exchange: Exchange, request_id: object, receive: Receive, send: Send) -> None:
    """An event stream of the exchange's messages, until its response (or forever for a GET), or the client leaves."""
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})

    async def relay() -> None:
        async for message in exchange.messages():
            await send({"type": "http.response.body", "body": jsonrpc.sse_event(message), "more_body": True})
            if request_id is not None and jsonrpc.is_response(message) and message.get("id") == request_id:
                return

    async def keepalive() -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})

    tasks = [asyncio.ensure_future(relay()), asyncio.ensure_future(disconnected(receive))]
    if request_id is None:
        tasks.append(asyncio.ensure_future(keepalive()))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        exchange.finish()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
