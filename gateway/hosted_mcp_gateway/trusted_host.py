"""Rule: only our own host names, in `Host` and in `Origin` (the DNS-rebinding defence the MCP transport asks for).

A web page on another site can make a browser send requests to a loopback port under a host name the attacker
controls (DNS rebinding). MCP's streamable HTTP transport says servers MUST validate `Origin` and answer 403 to an
invalid one; the gateway does it for every hosted server, and checks `Host` too: loopback names plus the names an
operator configures (`--allowed-host`; the API's domain on AWS).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class TrustedHosts:
    """`configured`: the names allowed besides loopback. `check_host=False` where a load balancer in front has
    already chosen this service by its own name (the AWS router): then only `Origin` is checked."""

    def __init__(self, configured: Iterable[str] = (), *, check_host: bool = True) -> None:
        self.names = frozenset(name.lower() for name in configured) | LOOPBACK_NAMES
        self.check_host = check_host

    def problem(self, headers: Mapping[str, str]) -> tuple[int, str, str] | None:
        """(status, code, message) when Host or Origin is not ours, None when both are."""
        if self.check_host and hostname(headers.get("host") or "") not in self.names:
            return 421, "InvalidHost", "Host header not allowed"
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin):
            return 403, "InvalidOrigin", "Origin not allowed"
        return None

    def origin_allowed(self, origin: str) -> bool:
        return (urlsplit(origin).hostname or "").lower() in self.names


def hostname(host_header: str) -> str:
    """The name part of a Host header (`[::1]:8765` -> `[::1]`, `localhost:8765` -> `localhost`), lower-case."""
    host = host_header.lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
