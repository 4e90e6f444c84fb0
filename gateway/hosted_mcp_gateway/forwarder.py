"""A lean HTTP/1.1 forwarder for the data plane: one request to a replica, its answer streamed back over ASGI.

The gateway's hop to a replica is loopback HTTP/1.1, so a general-purpose client (httpx over httpcore and h11)
spends most of its time on features this hop never uses. This one writes the request head in one piece, keeps
idle connections per replica (keep-alive), reads the answer's head with one `readuntil` and streams its body as
it arrives (Content-Length, chunked or until close), chunk by chunk, never whole. Large or unsized request bodies
are streamed upstream chunked; small ones go in one write with their length.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send

READ_SIZE = 1 << 16
HEAD_LIMIT = 1 << 16
IDLE_PER_REPLICA = 64
CONNECT_SECONDS = 5.0
NO_BODY_STATUSES = frozenset({204, 304})
UNSAFE_TARGET = re.compile(r"[^\x21-\x7e]")
UNSAFE_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
UNSAFE_HEAD_LINE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


class UpstreamError(Exception):
    """The replica could not be reached or answered something that is not HTTP/1.1."""


@dataclass(eq=False)
class Connection:
    key: tuple[str, int]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        """Open, and nothing unread: bytes the replica sent beyond the answer we read (or while the connection
        sat idle) are not an answer to anything we will send, so such a connection is never reused."""
        return not self.reader.at_eof() and not self.writer.is_closing() and not self.unread()

    def unread(self) -> int:
        # StreamReader has no public view of what it has buffered but not handed out yet.
        return len(getattr(self.reader, "_buffer", b""))

    def close(self) -> None:
        self.writer.close()


@dataclass
class UpstreamPool:
    """Idle keep-alive connections per replica (host, port); a connection is in use by one exchange at a time."""

    idle_per_replica: int = IDLE_PER_REPLICA
    _idle: dict[tuple[str, int], list[Connection]] = field(default_factory=dict)

    async def acquire(self, key: tuple[str, int]) -> tuple[Connection, bool]:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.usable():
                return connection, True
            connection.close()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*key, limit=HEAD_LIMIT), CONNECT_SECONDS)
        except (OSError, TimeoutError) as error:
            raise UpstreamError(type(error).__name__) from error
        return Connection(key, reader, writer), False

    def release(self, connection: Connection) -> None:
        idle = self._idle.setdefault(connection.key, [])
        if connection.usable() and len(idle) < self.idle_per_replica:
            idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


@dataclass(eq=False)
class UpstreamResponse:
    """A replica's answer: status, raw headers (lower-case names), and its body, read on demand."""

    status: int
    headers: list[tuple[bytes, bytes]]
    connection: Connection
    pool: UpstreamPool
    length: int | None  # Content-Length, or None for chunked / until-close
    chunked: bool
    reusable: bool
    done: bool = False

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    async def body(self) -> AsyncIterator[bytes]:
        reader = self.connection.reader
        if self.length is not None:
            remaining = self.length
            while remaining > 0:
                data = await reader.read(min(remaining, READ_SIZE))
                if not data:
                    raise UpstreamError("IncompleteBody")
                remaining -= len(data)
                yield data
        elif self.chunked:
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0], 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, ignored
                        pass
                    break
                if size <= READ_SIZE:
                    yield (await reader.readexactly(size + 2))[:-2]
                    continue
                while size > 0:
                    data = await reader.read(min(size, READ_SIZE))
                    if not data:
                        raise UpstreamError("IncompleteBody")
                    size -= len(data)
                    yield data
                await reader.readexactly(2)
        else:
            while data := await reader.read(READ_SIZE):
                yield data
        self.done = True

    def close(self) -> None:
        """Back to the pool when the exchange completed cleanly, closed otherwise."""
        if self.done and self.reusable:
            self.pool.release(self.connection)
        else:
            self.connection.close()


def split_url(base: str) -> tuple[tuple[str, int], str]:
    """(host, port) and path prefix of a replica's base URL such as `http://127.0.0.1:8123`."""
    parts = urlsplit(base)
    return (parts.hostname or "127.0.0.1", parts.port or 80), parts.path.rstrip("/")


async def exchange(
    pool: UpstreamPool,
    key: tuple[str, int],
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes | AsyncIterator[bytes] | None,
) -> UpstreamResponse:
    """Send one request and read the answer's head; a reused connection the replica had closed is retried once.

    The target and headers must already be safe (the gateway refuses control characters and percent-encodes the
    path it forwards); anything else is refused here too rather than written into the request head.
    """
    if UNSAFE_TARGET.search(target) or UNSAFE_TARGET.search(method):
        raise UpstreamError("UnsafeTarget")
    head = [f"{method} {target} HTTP/1.1\r\nHost: {key[0]}:{key[1]}\r\n"]
    for name, value in headers:
        if UNSAFE_HEADER.search(value) or UNSAFE_TARGET.search(name) or ":" in name:
            raise UpstreamError("UnsafeHeader")
        head.append(f"{name}: {value}\r\n")
    if isinstance(body, bytes):
        head.append(f"Content-Length: {len(body)}\r\n")
    elif body is not None:
        head.append("Transfer-Encoding: chunked\r\n")
    head.append("\r\n")
    request_head = "".join(head).encode("latin-1", errors="replace")
    while True:
        connection, reused = await pool.acquire(key)
        try:
            return await _send(connection, pool, method, request_head, body)
        except _StaleConnection:
            connection.close()
            if not reused:
                raise UpstreamError("ConnectionClosed") from None
        except BaseException:
            connection.close()
            raise


class _StaleConnection(Exception):
    """A kept-alive connection closed before the request could be sent or answered: safe to retry on a new one."""


async def _send(
    connection: Connection, pool: UpstreamPool, method: str, head: bytes, body: bytes | AsyncIterator[bytes] | None
) -> UpstreamResponse:
    writer, reader = connection.writer, connection.reader
    try:
        if isinstance(body, bytes) or body is None:
            writer.write(head + body if body else head)
        else:
            writer.write(head)
            async for chunk in body:
                if chunk:
                    writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        raw = await reader.readuntil(b"\r\n\r\n")
        while raw[9:10] == b"1" and raw[9:12] != b"101":  # 1xx interim answers (100 Continue): skip
            raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial and isinstance(body, bytes | None):
            raise _StaleConnection() from error
        raise UpstreamError("IncompleteHead") from error
    except (ConnectionError, BrokenPipeError) as error:
        if isinstance(body, bytes | None):
            raise _StaleConnection() from error
        raise UpstreamError(type(error).__name__) from error
    except (asyncio.LimitOverrunError, OSError) as error:
        raise UpstreamError(type(error).__name__) from error
    return _parse_head(raw, connection, pool, method)


def _parse_head(raw: bytes, connection: Connection, pool: UpstreamPool, method: str) -> UpstreamResponse:
    lines = raw[:-4].split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1.") or not status_line[1].isdigit():
        raise UpstreamError("NotHttp")
    status = int(status_line[1])
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    reusable = status_line[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or UNSAFE_HEAD_LINE.search(line):  # a bare LF or NUL would reach the client's response head
            raise UpstreamError("NotHttp")
        name, value = name.strip().lower(), value.strip()
        if name == b"content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                raise UpstreamError("NotHttp")
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = value.lower().endswith(b"chunked")
        elif name == b"connection" and b"close" in value.lower():
            reusable = False
        headers.append((name, value))
    if method == "HEAD" or status in NO_BODY_STATUSES or 100 <= status < 200:
        length, chunked = 0, False
    elif chunked:
        length = None
    elif length is None:
        reusable = False  # the body ends when the replica closes the connection
    return UpstreamResponse(status, headers, connection, pool, length, chunked, reusable)


async def stream_answer(
    upstream: UpstreamResponse,
    body: AsyncIterator[bytes],
    headers: list[tuple[bytes, bytes]],
    receive: Receive,
    send: Send,
    *,
    on_end: Callable[[], None] | None = None,
) -> None:
    """Send the answer over ASGI as its chunks arrive; a client that goes away ends the upstream exchange too."""
    await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
    watcher: asyncio.Task[None] | None = None
    if upstream.length != 0:
        watcher = asyncio.ensure_future(_close_on_disconnect(receive, upstream))
    try:
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except (UpstreamError, asyncio.IncompleteReadError, ConnectionError, ValueError):
        upstream.done = False  # the answer ends here, cut: the client sees an incomplete response
    finally:
        if watcher is not None:
            watcher.cancel()
        with contextlib.suppress(Exception):
            await body.aclose()  # type: ignore[attr-defined]
        upstream.close()
        if on_end is not None:
            on_end()


async def _close_on_disconnect(receive: Receive, upstream: UpstreamResponse) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not upstream.done:
                upstream.connection.close()
            return


def request_body(scope: Scope, receive: Receive) -> AsyncIterator[bytes]:
    """The client's request body, streamed as the ASGI server delivers it."""

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise UpstreamError("ClientDisconnected")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    return chunks()


async def read_body(receive: Receive, limit: int | None = None) -> bytes | None:
    """The request body, whole; None when it grows past `limit` (without one, the caller checked its length)."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise UpstreamError("ClientDisconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)
