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
        """The event stream with its `endpoint` event rewritten; every other byte passes as it came."""
        buffer = b""
        async for chunk in body:
            buffer += chunk
            text = buffer.replace(b"\r\n", b"\n")
            if b"\n\n" not in text and len(buffer) < HEAD_LIMIT:
                continue
            head, _, tail = text.partition(b"\n\n")
            lines = head.decode("utf-8", errors="replace").split("\n")
            if "event: endpoint" in lines or "event:endpoint" in lines:
                for i, line in enumerate(lines):
                    if line.startswith("data:"):
                        announced = line.removeprefix("data:").strip()
                        lines[i] = "data: " + self.announce(server_id, replica, announced, sse_path)
                yield ("\n".join(lines) + "\n\n").encode() + tail
            else:
                yield buffer
            break
        async for chunk in body:
            yield chunk
