"""The data plane's HTTP/1.1 forwarder against a scripted loopback replica: framing, streaming, keep-alive."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from hosted_mcp_gateway.forwarder import UpstreamError, UpstreamPool, exchange, stream_answer

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
SAFETY = 10.0  # only bounds a hang; nothing here depends on timing


async def serve(handler: Handler) -> tuple[asyncio.Server, tuple[str, int], list[int]]:
    """A replica on loopback; returns the server, its address and a list that grows by one per connection."""
    connections: list[int] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    return server, (host, port), connections


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


def run(coroutine: Awaitable[Any]) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coroutine, SAFETY)

    return asyncio.run(bounded())


def test_a_chunked_answer_arrives_chunk_by_chunk_not_whole() -> None:
    async def scenario() -> list[bytes]:
        first_seen = asyncio.Event()

        async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            writer.write(b"6\r\nevent1\r\n")
            await writer.drain()
            await first_seen.wait()  # the second chunk exists only once the first reached the client
            writer.write(b"6\r\nevent2\r\n0\r\n\r\n")
            await writer.drain()

        server, address, _ = await serve(replica)
        pool = UpstreamPool()
        answer = await exchange(pool, address, "POST", "/mcp", [("content-type", "application/json")], b"{}")
        chunks = []
        async for chunk in answer.body():
            chunks.append(chunk)
            first_seen.set()
        answer.close()
        pool.close()
        server.close()
        return chunks

    assert run(scenario()) == [b"event1", b"event2"]


def test_the_request_reaches_the_replica_with_its_headers_and_body_in_one_piece() -> None:
    async def scenario() -> tuple[bytes, bytes, bytes]:
        seen: list[tuple[bytes, bytes]] = []

        async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(await read_request(reader))
            writer.write(b"HTTP/1.1 202 Accepted\r\nmcp-session-id: s-1\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

        server, address, _ = await serve(replica)
        pool = UpstreamPool()
        answer = await exchange(pool, address, "POST", "/mcp?x=1", [("mcp-protocol-version", "2025-06-18")], b"{}")
        body = b"".join([c async for c in answer.body()])
        answer.close()
        pool.close()
        server.close()
        [(head, sent)] = seen
        assert answer.status == 202
        assert answer.header(b"mcp-session-id") == b"s-1"
        return head, sent, body

    head, sent, body = run(scenario())
    assert head.startswith(b"POST /mcp?x=1 HTTP/1.1\r\n")
    assert b"mcp-protocol-version: 2025-06-18\r\n" in head
    assert b"Content-Length: 2\r\n" in head
    assert (sent, body) == (b"{}", b"ok")


def test_calls_reuse_one_kept_alive_connection() -> None:
    async def scenario() -> int:
        async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                try:
                    await read_request(reader)
                except asyncio.IncompleteReadError:
                    return
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()

        server, address, connections = await serve(replica)
        pool = UpstreamPool()
        for _ in range(3):
            answer = await exchange(pool, address, "POST", "/mcp", [], b"{}")
            assert b"".join([c async for c in answer.body()]) == b"ok"
            answer.close()
        pool.close()
        server.close()
        return len(connections)

    assert run(scenario()) == 1


def test_a_kept_alive_connection_the_replica_closed_is_replaced_not_failed() -> None:
    async def scenario() -> tuple[int, list[bytes]]:
        async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)  # answers once, then closes without saying so
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

        server, address, connections = await serve(replica)
        pool = UpstreamPool()
        bodies = []
        for _ in range(2):
            answer = await exchange(pool, address, "POST", "/mcp", [], b"{}")
            bodies.append(b"".join([c async for c in answer.body()]))
            answer.close()
        pool.close()
        server.close()
        return len(connections), bodies

    assert run(scenario()) == (2, [b"ok", b"ok"])


def test_an_answer_without_length_ends_when_the_replica_closes_and_is_not_reused() -> None:
    async def scenario() -> tuple[bytes, bool]:
        async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, part two")
            await writer.drain()

        server, address, _ = await serve(replica)
        pool = UpstreamPool()
        answer = await exchange(pool, address, "GET", "/sse", [], None)
        body = b"".join([c async for c in answer.body()])
        reusable = answer.reusable
        answer.close()
        pool.close()
        server.close()
        return body, reusable

    assert run(scenario()) == (b"part one, part two", False)


def test_a_client_that_goes_away_ends_the_exchange_with_the_replica() -> None:
    async def scenario() -> list[int]:
        replica_saw_close = asyncio.Event()
        client_gone = asyncio.Event()

        async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            writer.write(b"5\r\nhello\r\n")
            await writer.drain()
            await reader.read()  # an endless stream: only the gateway closing the connection ends it
            replica_saw_close.set()

        server, address, _ = await serve(replica)
        pool = UpstreamPool()
        answer = await exchange(pool, address, "GET", "/mcp", [], None)
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message.get("body"):
                client_gone.set()

        async def receive() -> dict[str, Any]:
            await client_gone.wait()
            return {"type": "http.disconnect"}

        await stream_answer(answer, answer.body(), [], receive, send)  # type: ignore[arg-type]
        await replica_saw_close.wait()
        pool.close()
        server.close()
        return [m.get("status", 0) for m in sent[:1]]

    assert run(scenario()) == [200]


def test_a_connection_that_brought_an_unexpected_second_answer_is_closed_not_reused() -> None:
    async def scenario() -> tuple[list[bytes], int]:
        async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                try:
                    await read_request(reader)
                except asyncio.IncompleteReadError:
                    return
                # one request, two answers: the second must never be taken for the answer to the next request
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst")
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstray")
                await writer.drain()

        server, address, connections = await serve(replica)
        pool = UpstreamPool()
        bodies = []
        for _ in range(2):
            answer = await exchange(pool, address, "POST", "/mcp", [], b"{}")
            bodies.append(b"".join([c async for c in answer.body()]))
            await asyncio.sleep(0.05)  # let the stray answer arrive before the connection goes back to the pool
            answer.close()
        pool.close()
        server.close()
        return bodies, len(connections)

    assert run(scenario()) == ([b"first", b"first"], 2)


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/mcp\r\nX-Hosted-Mcp-User: admin", []),
        ("/mcp x", []),
        ("/mcp", [("x-note", "a\r\nX-Hosted-Mcp-User: admin")]),
        ("/mcp", [("x-note", "a\x00")]),
        ("/mcp", [("x-bad name", "a")]),
    ],
)
def test_an_unsafe_target_or_header_is_refused_before_anything_is_written(
    target: str, headers: list[tuple[str, str]]
) -> None:
    async def scenario() -> int:
        async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()

        server, address, connections = await serve(replica)
        pool = UpstreamPool()
        with pytest.raises(UpstreamError):
            await exchange(pool, address, "POST", target, headers, b"{}")
        pool.close()
        server.close()
        return len(connections)

    assert run(scenario()) == 0


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nx-a: b\nx-hosted-mcp-user: admin\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
    ],
)
def test_an_answer_head_that_could_split_the_clients_response_is_not_relayed(head: bytes) -> None:
    async def scenario() -> None:
        async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(head)
            await writer.drain()

        server, address, _ = await serve(replica)
        pool = UpstreamPool()
        with pytest.raises(UpstreamError):
            await exchange(pool, address, "POST", "/mcp", [], b"{}")
        pool.close()
        server.close()

    run(scenario())
