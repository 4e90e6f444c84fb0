"""Outlets: where the messages bound for one client stream wait until the HTTP side writes them out.

The child's output is routed synchronously, as it is read; each HTTP response is a coroutine that takes from its
outlet whatever has piled up since it last looked and writes it in one piece. Three kinds:

- the answer to a POST that carried requests: an SSE stream (or one JSON body when the client accepts only JSON)
  that finishes once every request in it is answered;
- a session's standalone stream (streamable HTTP `GET`), for what belongs to no request in flight;
- the one stream of an HTTP+SSE session, which carries everything, answers included, until the client leaves.

Every outlet is bounded: past `limit` queued bytes it is marked broken, its queue is dropped and its response
ends, so a client that stops reading cannot make the bridge hold an unbounded amount of memory.
"""

from __future__ import annotations

import asyncio

SSE_PREFIX = b"event: message\ndata: "
SSE_SUFFIX = b"\n\n"
KEEPALIVE = b": keepalive\n\n"


class Outlet:
    __slots__ = (
        "_waiter",
        "awaiting",
        "batch",
        "broken",
        "chunks",
        "finished",
        "gone",
        "limit",
        "persistent",
        "size",
        "sse",
    )

    def __init__(self, *, sse: bool, limit: int, persistent: bool = False, batch: bool = False) -> None:
        self.sse = sse  # SSE events; otherwise the JSON answer(s) of a POST, written as one body
        self.persistent = persistent  # a standalone or HTTP+SSE stream: answers do not finish it
        self.batch = batch  # a JSON-RPC batch: a JSON body is an array even with one answer
        self.limit = limit
        self.awaiting = 0  # answers still owed on this outlet (POST answers only)
        self.chunks: list[bytes] = []
        self.size = 0
        self.finished = False  # no more messages will come
        self.broken = False  # overflowed: what was queued is dropped
        self.gone = False  # the client went away
        self._waiter: asyncio.Future[None] | None = None

    @property
    def open(self) -> bool:
        """Messages put here can still reach the client."""
        return not (self.finished or self.broken or self.gone)

    @property
    def streams(self) -> bool:
        """An open SSE stream: messages related to a request can travel on it."""
        return self.sse and self.open

    def put(self, line: bytes) -> bool:
        """Queue one JSON-RPC message (one line of JSON); False when it cannot reach the client.

        An SSE event is queued as its three pieces and joined once when taken: a large answer is copied once.
        """
        if not self.open or not self._fits(len(line) + 24):
            return False
        if self.sse:
            self.chunks += (SSE_PREFIX, line, SSE_SUFFIX)
        else:
            self.chunks.append(line)
        self._wake()
        return True

    def put_raw(self, chunk: bytes) -> bool:
        if not self.open or not self._fits(len(chunk)):
            return False
        self.chunks.append(chunk)
        self._wake()
        return True

    def _fits(self, size: int) -> bool:
        self.size += size
        if self.size <= self.limit:
            return True
        self.broken = True
        self.chunks.clear()
        self._wake()
        return False

    def answer(self, line: bytes) -> None:
        """Queue the answer to one of the requests this outlet carries; the last one finishes it."""
        self.put(line)
        if not self.persistent:
            self.awaiting -= 1
            if self.awaiting <= 0:
                self.finish()

    def withdraw(self) -> None:
        """One request of this outlet will get no answer (it was cancelled)."""
        if not self.persistent:
            self.awaiting -= 1
            if self.awaiting <= 0:
                self.finish()

    def finish(self) -> None:
        self.finished = True
        self._wake()

    def leave(self) -> None:
        """The client disconnected: nothing queued here can be delivered any more."""
        self.gone = True
        self.chunks.clear()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self, keepalive: float | None = None) -> bytes | None:
        """Everything queued so far as one chunk; None once finished (or broken, or gone) and drained.

        With `keepalive`, an SSE comment is returned after that many idle seconds, so that idle streams are not
        cut by intermediaries that close silent connections.
        """
        while not self.chunks:
            if self.finished or self.broken or self.gone:
                return None
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(keepalive, _settle, waiter) if keepalive else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if not self.chunks and keepalive and self.open:
                return KEEPALIVE
        chunks, self.chunks = self.chunks, []
        self.size = 0
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def take_now(self) -> bytes:
        """Whatever is queued, without waiting (may be empty)."""
        chunks, self.chunks = self.chunks, []
        self.size = 0
        return b"".join(chunks)

    async def settled(self) -> list[bytes]:
        """A JSON outlet's answers, each on its own, once every request it carries is answered (or it ended)."""
        assert not self.sse
        while not (self.finished or self.broken or self.gone):
            self._waiter = waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        chunks, self.chunks = self.chunks, []
        self.size = 0
        return chunks


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
