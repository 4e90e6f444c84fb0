"""The SSE endpoint event: announced relative to the SSE URL, sealed, resolving to exactly what the server said."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from hosted_mcp_gateway.sealing import Sealer
from hosted_mcp_gateway.sse_endpoint import SseEndpoints

KEY = Sealer.generate_key()
REPLICA = "http://127.0.0.1:9001"


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def rewritten(*parts: bytes) -> bytes:
    async def collect() -> bytes:
        stream = SseEndpoints(KEY).rewrite(chunks(*parts), "srv", REPLICA, "/sse")
        return b"".join([c async for c in stream])

    return asyncio.run(collect())


@pytest.mark.parametrize(
    ("announced", "target"),
    [
        ("/messages/?session_id=abc", "/messages/?session_id=abc"),  # the Python SDK
        ("/message?sessionId=abc", "/message?sessionId=abc"),  # the TypeScript SDK
        ("http://127.0.0.1:9001/rpc/x?sid=1", "/rpc/x?sid=1"),  # a full URL on the replica
        ("messages?session=2", "/messages?session=2"),  # relative to the replica's /sse
    ],
)
def test_whatever_the_server_announces_the_client_posts_next_to_its_sse_url(announced: str, target: str) -> None:
    # Given the endpoint event a server sends, split across chunks, followed by a message
    stream = rewritten(
        b"event: endpoint\r\ndata: " + announced.encode() + b"\r", b"\n\r\nevent: message\r\ndata: {}\r\n\r\n"
    )

    # When a client behind any prefix resolves the rewritten endpoint against its SSE URL
    head, _, rest = stream.partition(b"\r\n\r\n")
    data = head.split(b"data: ", 1)[1].decode()
    for sse_url in ("https://api.example.com/prod/mcp/srv/sse", "http://127.0.0.1:8765/mcp/srv/sse"):
        posted = urlsplit(urljoin(sse_url, data))
        assert posted.path == urlsplit(sse_url).path.removesuffix("sse") + "messages/"

    # Then the value it posts with resolves to exactly the replica, path and query the server announced
    token = parse_qs(urlsplit(data).query)["endpoint"][0]
    endpoint = SseEndpoints(KEY).resolve("srv", token, [REPLICA])
    assert endpoint is not None
    assert (endpoint.replica, endpoint.target) == (REPLICA, target)
    assert rest == b"event: message\r\ndata: {}\r\n\r\n"  # everything after the endpoint event is untouched


def test_an_endpoint_of_another_server_or_a_replica_that_is_gone_resolves_to_nothing() -> None:
    endpoints = SseEndpoints(KEY)
    data = endpoints.announce("srv", REPLICA, "/messages/?session_id=abc", "/sse")
    token = parse_qs(urlsplit(data).query)["endpoint"][0]

    assert endpoints.resolve("other", token, [REPLICA]) is None
    assert endpoints.resolve("srv", token, ["http://127.0.0.1:9002"]) is None
    assert endpoints.resolve("srv", "forged", [REPLICA]) is None
