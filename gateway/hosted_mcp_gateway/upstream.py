"""The gateway as a client of a 2025-revision server: one session, on its streamable HTTP or its SSE transport.

Where the gateway speaks for a client (a 2026-07-28 client of a 2025 server, or any streamable-HTTP client of an
SSE server), it holds a session with the replica and runs each request as an `Exchange`: the messages that belong
to it (progress, logs, the server's own requests), up to and including its response.

- `StreamableSession`: each request is a POST whose answer (JSON, or an event stream) is the exchange.
- `SseSession`: one `GET` event stream carries every answer; requests are POSTed to the endpoint it announced.
  A reader demultiplexes the stream: a response goes to the request with its id, progress to the request with
  its token, anything else to the one request in flight, or to the session's own stream when there are several
  or none (where a 2025 server's unrelated messages belong anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from hosted_mcp_gateway import jsonrpc
from hosted_mcp_gateway.forwarder import UpstreamError, UpstreamPool, UpstreamResponse, exchange, split_url
from hosted_mcp_gateway.mcp_headers import SUPPORTED_VERSIONS

LEGACY_VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
GATEWAY_CLIENT = {"name": "hosted-mcp-gateway", "version": "1"}
FULL_CAPABILITIES = {"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {"listChanged": False}}
QUEUE_LIMIT = 1024
ENDPOINT_SECONDS = 10.0
_END = object()

Transport = Literal["streamable", "sse"]


class BridgeError(Exception):
    """The server could not be reached or did not answer as the 2025 revisions say."""


class SessionLost(Exception):
    """The replica no longer knows the session (it restarted): open a new one."""


# -- exchanges ------------------------------------------------------------------------------------------------------


class Exchange(ABC):
    """The messages of one request up to its response; resumable from another task (a parked MRTR round)."""

    streaming: bool

    @abstractmethod
    def messages(self) -> AsyncIterator[jsonrpc.Message]: ...

    @abstractmethod
    def finish(self) -> None:
        """The response was read: release what the exchange holds."""

    @abstractmethod
    def abort(self) -> None:
        """Stop: the client went away, or a parked round expired."""


class StreamExchange(Exchange):
    def __init__(self, answer: UpstreamResponse) -> None:
        self.answer = answer
        self.streaming = (answer.header(b"content-type") or b"").startswith(b"text/event-stream")
        self._messages = jsonrpc_messages(answer)

    def messages(self) -> AsyncIterator[jsonrpc.Message]:
        return self._messages

    def finish(self) -> None:
        self.answer.close()

    def abort(self) -> None:
        self.answer.connection.close()


class QueueExchange(Exchange):
    """Messages a session's reader routes to one request (SSE transport), or to the session's own stream."""

    streaming = True

    def __init__(self, owner: SseSession, request_id: Any, token: Any = None) -> None:
        self.owner, self.request_id, self.token = owner, request_id, token
        self.queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_LIMIT)
        self._messages = self._read()

    async def _read(self) -> AsyncIterator[jsonrpc.Message]:
        while True:
            item = await self.queue.get()
            if item is _END:
                return
            yield item
            if self.request_id is not None and jsonrpc.is_response(item) and item.get("id") == self.request_id:
                return

    def messages(self) -> AsyncIterator[jsonrpc.Message]:
        return self._messages

    def finish(self) -> None:
        self.owner.forget(self)

    def abort(self) -> None:
        self.owner.forget(self)


# -- sessions -------------------------------------------------------------------------------------------------------


@dataclass
class UpstreamSession(ABC):
    replica: str
    path: str
    identity: list[tuple[str, str]]  # the caller's identity headers, on every upstream request
    version: str = LEGACY_VERSION
    server_info: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)
    instructions: str | None = None
    log_level: str | None = None
    used: float = field(default_factory=time.monotonic)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> str:
        return f"hm-{next(self._ids)}"

    def base_headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", "application/json"), ("Accept", ACCEPT), ("MCP-Protocol-Version", self.version)]

    @abstractmethod
    async def request(
        self, pool: UpstreamPool, message: jsonrpc.Message, extra: list[tuple[str, str]] | None = None
    ) -> Exchange: ...

    @abstractmethod
    async def send(self, pool: UpstreamPool, message: jsonrpc.Message) -> None:
        """A notification, or a response to the server's request: only its acceptance matters."""

    @abstractmethod
    async def listen(self, pool: UpstreamPool) -> Exchange:
        """The session's own stream: what the server sends outside any request."""

    @abstractmethod
    async def close(self, pool: UpstreamPool) -> None: ...

    @property
    def alive(self) -> bool:
        return True


@dataclass
class StreamableSession(UpstreamSession):
    session_id: str | None = None

    def headers(self) -> list[tuple[str, str]]:
        headers = self.base_headers()
        if self.session_id:
            headers.append(("Mcp-Session-Id", self.session_id))
        return headers + self.identity

    async def _post(
        self, pool: UpstreamPool, message: jsonrpc.Message, extra: list[tuple[str, str]]
    ) -> UpstreamResponse:
        self.used = time.monotonic()
        address, prefix = split_url(self.replica)
        body = jsonrpc.dumps(message)
        return await exchange(pool, address, "POST", f"{prefix}{self.path}", self.headers() + extra, body)

    async def request(
        self, pool: UpstreamPool, message: jsonrpc.Message, extra: list[tuple[str, str]] | None = None
    ) -> Exchange:
        answer = await self._post(pool, message, extra or [])
        if answer.status == 404 and self.session_id:
            await drain(answer)
            raise SessionLost()
        if answer.status >= 300 and not _carries_messages(answer):
            await drain(answer)
            raise BridgeError(f"HTTP {answer.status}")
        return StreamExchange(answer)

    async def send(self, pool: UpstreamPool, message: jsonrpc.Message) -> None:
        await drain(await self._post(pool, message, []))

    async def listen(self, pool: UpstreamPool) -> Exchange:
        address, prefix = split_url(self.replica)
        answer = await exchange(pool, address, "GET", f"{prefix}{self.path}", self.headers(), None)
        return StreamExchange(answer)

    async def close(self, pool: UpstreamPool) -> None:
        if self.session_id:
            address, prefix = split_url(self.replica)
            await drain(await exchange(pool, address, "DELETE", f"{prefix}{self.path}", self.headers(), None))


@dataclass
class SseSession(UpstreamSession):
    endpoint: str = ""  # path and query on the replica, as the server announced them
    _stream: UpstreamResponse | None = None
    _reader: asyncio.Task[None] | None = None
    _waiting: dict[Any, QueueExchange] = field(default_factory=dict)  # request id -> its exchange
    _tokens: dict[Any, QueueExchange] = field(default_factory=dict)  # progress token -> its exchange
    _own: QueueExchange | None = None
    _closed: bool = False

    @property
    def alive(self) -> bool:
        return not self._closed

    async def connect(self, pool: UpstreamPool) -> None:
        address, prefix = split_url(self.replica)
        headers = [("Accept", "text/event-stream"), *self.identity]
        self._stream = await exchange(pool, address, "GET", f"{prefix}{self.path}", headers, None)
        if self._stream.status != 200:
            await drain(self._stream)
            raise BridgeError(f"the SSE stream answered HTTP {self._stream.status}")
        found: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.ensure_future(self._read(found))
        try:
            announced = await asyncio.wait_for(found, ENDPOINT_SECONDS)
        except TimeoutError:
            self._reader.cancel()
            raise BridgeError("the SSE stream announced no endpoint") from None
        parts = urlsplit(urljoin(f"{self.replica}{self.path}", announced))
        self.endpoint = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    async def _read(self, found: asyncio.Future[str]) -> None:
        assert self._stream is not None
        parser = jsonrpc.SseParser()
        try:
            async for chunk in self._stream.body():
                for event, data in parser.feed(chunk):
                    if event == "endpoint" and not found.done():
                        found.set_result(data.strip())
                    elif event == "message" and (message := jsonrpc.parse(data.encode())) is not None:
                        await self._route(message)
        except (UpstreamError, OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            self._closed = True
            for waiting in [*self._waiting.values(), *([self._own] if self._own else [])]:
                with contextlib.suppress(asyncio.QueueFull):
                    waiting.queue.put_nowait(_END)

    async def _route(self, message: jsonrpc.Message) -> None:
        target: QueueExchange | None
        if jsonrpc.is_response(message):
            target = self._waiting.get(message.get("id"))
        elif message.get("method") == "notifications/progress":
            target = self._tokens.get((message.get("params") or {}).get("progressToken"))
        else:
            target = next(iter(self._waiting.values())) if len(self._waiting) == 1 else None
        target = target or self._own
        if target is not None:
            with contextlib.suppress(asyncio.QueueFull):  # a reader that stopped reading loses, nobody else
                target.queue.put_nowait(message)

    def forget(self, done: QueueExchange) -> None:
        self._waiting.pop(done.request_id, None)
        if done.token is not None:
            self._tokens.pop(done.token, None)
        if done is self._own:
            self._own = None

    async def _post(self, pool: UpstreamPool, message: jsonrpc.Message, extra: list[tuple[str, str]]) -> None:
        if self._closed:
            raise SessionLost()
        self.used = time.monotonic()
        address, prefix = split_url(self.replica)
        headers = [("Content-Type", "application/json"), *self.identity, *extra]
        answer = await exchange(pool, address, "POST", f"{prefix}{self.endpoint}", headers, jsonrpc.dumps(message))
        await drain(answer)
        if answer.status == 404:
            raise SessionLost()
        if answer.status >= 300:
            raise BridgeError(f"HTTP {answer.status}")

    async def request(
        self, pool: UpstreamPool, message: jsonrpc.Message, extra: list[tuple[str, str]] | None = None
    ) -> Exchange:
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        waiting = QueueExchange(self, message["id"], token)
        self._waiting[message["id"]] = waiting
        if token is not None:
            self._tokens[token] = waiting
        try:
            await self._post(pool, message, extra or [])
        except BaseException:
            self.forget(waiting)
            raise
        return waiting

    async def send(self, pool: UpstreamPool, message: jsonrpc.Message) -> None:
        await self._post(pool, message, [])

    async def listen(self, pool: UpstreamPool) -> Exchange:
        self._own = QueueExchange(self, None)
        return self._own

    async def close(self, pool: UpstreamPool) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
        if self._stream is not None:
            self._stream.connection.close()


# -- opening a session ----------------------------------------------------------------------------------------------


async def open_session(
    pool: UpstreamPool,
    replica: str,
    path: str,
    identity: list[tuple[str, str]],
    *,
    transport: Transport = "streamable",
    client_info: Any = None,
    initialize: jsonrpc.Message | None = None,
) -> tuple[UpstreamSession, jsonrpc.Message]:
    """An initialized session and the server's answer to `initialize` (the gateway's own one, or `initialize`
    as a client sent it: then the client sends `notifications/initialized` itself)."""
    session: UpstreamSession
    if transport == "sse":
        sse = SseSession(replica=replica, path=path, identity=identity)
        await sse.connect(pool)
        session = sse
    else:
        session = StreamableSession(replica=replica, path=path, identity=identity)
    own = initialize is None
    request = initialize or {
        "jsonrpc": "2.0",
        "id": session.next_id(),
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY_VERSION,
            "capabilities": FULL_CAPABILITIES,
            "clientInfo": client_info if isinstance(client_info, dict) and client_info.get("name") else GATEWAY_CLIENT,
        },
    }
    try:
        answered = await session.request(pool, request)
    except SessionLost as lost:
        raise BridgeError("initialize was refused") from lost
    if isinstance(session, StreamableSession) and isinstance(answered, StreamExchange):
        session.session_id = (answered.answer.header(b"mcp-session-id") or b"").decode("latin-1") or None
    reply = None
    async for message in answered.messages():
        if jsonrpc.is_response(message) and message.get("id") == request["id"]:
            reply = message
            break
    answered.finish()
    if reply is None:
        await session.close(pool)
        raise BridgeError("initialize got no answer")
    result = reply.get("result") or {}
    negotiated = result.get("protocolVersion")
    session.version = negotiated if negotiated in SUPPORTED_VERSIONS else LEGACY_VERSION
    session.server_info = result.get("serverInfo") or {}
    session.capabilities = result.get("capabilities") or {}
    session.instructions = result.get("instructions")
    if own:
        if "error" in reply:
            await session.close(pool)
            raise BridgeError(f"initialize failed: {reply['error'].get('message', 'error')}")
        await session.send(pool, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    return session, reply


async def drain(answer: UpstreamResponse) -> None:
    with contextlib.suppress(UpstreamError, OSError, asyncio.IncompleteReadError):
        async for _ in answer.body():
            pass
    answer.close()


def jsonrpc_messages(answer: UpstreamResponse) -> AsyncIterator[jsonrpc.Message]:
    return jsonrpc.messages_of(answer.body(), answer.header(b"content-type") or b"")


def _carries_messages(answer: UpstreamResponse) -> bool:
    return (answer.header(b"content-type") or b"").startswith((b"application/json", b"text/event-stream"))
