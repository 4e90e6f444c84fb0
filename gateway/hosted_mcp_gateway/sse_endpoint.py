"""The SSE transport's `endpoint` event, made to work behind any prefix: relative, sealed, accepted exactly.

A server on the 2024-11-05 HTTP+SSE transport opens `GET /sse` with an `endpoint` event naming where the client
must POST its messages: `/messages/?session_id=...` (Python SDK), `/message?sessionId=...` (TypeScript SDK), or a
full URL on the replica. Behind the gateway that path means nothing to the client: the server is at
`/mcp/{name}/`, or `/{stage}/mcp/{name}/` on AWS, and the session lives in one replica.

So the gateway announces its own endpoint instead, relative to the SSE URL (`messages/?endpoint=<sealed>`, which a
client resolves next to `.../sse` whatever the prefix), where the sealed value holds the replica and the exact
path and query the server announced. A POST there goes to exactly that replica, path and query; a value that does
not open, or belongs to another server, is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from hosted_mcp_gateway.sealing import Sealer

ENDPOINT_TTL_SECONDS = 24 * 3600
ENDPOINT_PURPOSE = "sse-endpoint"
ENDPOINT_PARAM = "endpoint"
HEAD_LIMIT = 1 << 16


@dataclass(frozen=True)
class MessageEndpoint:
    replica: str
    target: str  # path and query on the replica, as the server announced them


class SseEndpoints:
    def __init__(self, key: bytes) -> None:
        self._sealer = Sealer(key, ENDPOINT_PURPOSE)

    def announce(self, server_id: str, replica: str, announced: str, sse_path: str) -> str:
        """What the client is told: a path relative to its SSE URL, standing for the server's own endpoint."""
        parts = urlsplit(urljoin(f"{replica}{sse_path}", announced.strip()))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        token = self._sealer.seal({"s": server_id, "r": replica, "t": target}, ENDPOINT_TTL_SECONDS)
        return f"messages/?{ENDPOINT_PARAM}={quote(token, safe='')}"

    def resolve(self, server_id: str, token: str, replicas: list[str]) -> MessageEndpoint | None:
        payload = self._sealer.open(token)
        if payload is None or payload.get("s") != server_id or payload.get("r") not in replicas:
            return None
        return MessageEndpoint(replica=str(payload["r"]), target=str(payload["t"]))

    async def rewrite(
        self, body: AsyncIterator[bytes], server_id: str, replica: str, sse_path: str
    ) -> AsyncIterator[bytes]:
        """The event stream with its `endpoint` event rewritten; every other byte passes exactly as it came."""
        buffer = b""
        async for chunk in body:
            buffer += chunk
            while (end := _event_end(buffer)) is not None:
                event, buffer = buffer[:end], buffer[end:]
                lines = event.splitlines()
                if b"event: endpoint" not in lines and b"event:endpoint" not in lines:
                    yield event  # a comment or another event before the endpoint: untouched
                    continue
                announced = next((ln.split(b":", 1)[1].strip() for ln in lines if ln.startswith(b"data:")), b"")
                endpoint = self.announce(server_id, replica, announced.decode("utf-8", "replace"), sse_path)
                yield b"event: endpoint\r\ndata: " + endpoint.encode() + b"\r\n\r\n" + buffer
                async for rest in body:
                    yield rest
                return
            if len(buffer) > HEAD_LIMIT:  # no endpoint event where one belongs: pass the stream on as it is
                break
        if buffer:
            yield buffer
        async for rest in body:
            yield rest


def _event_end(buffer: bytes) -> int | None:
    """Where the first complete event of `buffer` ends (just past its blank line), or None if none is complete.

    Lines end in CRLF, LF or CR (the SSE standard allows all three); a CR at the very end of the buffer may be the
    first half of a CRLF, so it does not end a line yet."""
    position = 0
    for line in buffer.splitlines(keepends=True):
        position += len(line)
        if line in (b"\r\n", b"\n", b"\r") and position > len(line):
            if line == b"\r" and position == len(buffer):
                return None
            return position
    return None
