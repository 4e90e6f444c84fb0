"""Where a hosted server is reached: the one home of every URL and path of a server on the platform.

- The public endpoints: `{base}/mcp/{normalizedName}/mcp` (streamable HTTP, both protocol eras, for every server
  type: the gateway serves it for SSE servers too) and `{base}/mcp/{normalizedName}/sse` (the deprecated
  HTTP+SSE transport), shown by the API, listed as connections, published to the connections table.
- The data-plane route prefix `/mcp/{normalizedName}` the load balancer and the gateway match.
- Where a replica itself answers MCP: `/sse` for SSE servers, `/mcp` otherwise (the stdio bridge serves both).
"""

from __future__ import annotations

from dataclasses import dataclass

from hosted_mcp.models.domain import ServerRecord, ServerSpec
from hosted_mcp.models.fields import ServerType


@dataclass(frozen=True)
class ServerUrls:
    """A server's public endpoints; `primary` is the one a client should use (and a connection points at)."""

    streamable: str
    sse: str

    @property
    def primary(self) -> str:
        return self.streamable


def route_prefix(normalized_name: str) -> str:
    return f"/mcp/{normalized_name}"


def upstream_path(spec: ServerSpec) -> str:
    """The path on a replica where the server answers MCP."""
    return "/sse" if spec.serverType is ServerType.SSE else "/mcp"


def server_urls(base_url: str, record: ServerRecord) -> ServerUrls:
    prefix = f"{base_url.rstrip('/')}{route_prefix(record.normalizedName)}"
    return ServerUrls(streamable=f"{prefix}/mcp", sse=f"{prefix}/sse")
