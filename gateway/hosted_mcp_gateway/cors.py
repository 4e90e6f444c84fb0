"""Rule: a browser's CORS preflight for a hosted server is answered by the gateway, without credentials.

Browsers send `OPTIONS` with `Origin` and `Access-Control-Request-Method` before a cross-origin MCP request, and
never attach credentials to it (Fetch standard, CORS-preflight fetch). So the gateway answers it itself, before
authentication, for the origins it trusts (`trusted_host`), and refuses the others; the real request that follows
is authenticated as usual. Answers to allowed origins carry the headers a browser needs to read them (the session
id, the protocol version).
"""

from __future__ import annotations

from collections.abc import Mapping

from hosted_mcp_gateway.trusted_host import TrustedHosts

ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOWED_HEADERS = frozenset(
    {
        "accept",
        "authorization",
        "content-type",
        "last-event-id",
        "mcp-method",
        "mcp-name",
        "mcp-protocol-version",
        "mcp-session-id",
        "x-api-key",
        "traceparent",
        "tracestate",
        "baggage",
    }
)
EXPOSED_HEADERS = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate, Retry-After"
MAX_AGE_SECONDS = "600"


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def preflight(headers: Mapping[str, str], hosts: TrustedHosts) -> tuple[int, list[tuple[bytes, bytes]]]:
    """(status, headers) of the answer to a preflight: 204 with the CORS grant, or 403 for a foreign origin."""
    origin = headers["origin"]
    if not hosts.origin_allowed(origin):
        return 403, [(b"vary", b"Origin")]
    wanted = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
    granted = [h for h in wanted if h in ALLOWED_HEADERS or h.startswith("mcp-param-")]
    return 204, [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
        (b"access-control-allow-headers", ", ".join(granted).encode("latin-1")),
        (b"access-control-max-age", MAX_AGE_SECONDS.encode()),
        (b"vary", b"Origin"),
    ]


def grant(origin: str | None, hosts: TrustedHosts) -> list[tuple[bytes, bytes]]:
    """Headers that let a browser on an allowed origin read an answer (none for same-origin or non-browser calls)."""
    if origin is None or not hosts.origin_allowed(origin):
        return []
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
        (b"vary", b"Origin"),
    ]
