"""How a stdio server is offered over HTTP: behind our bridge, with the same options on one machine and on AWS.

`hosted-mcp-bridge` (package `hosted_mcp_bridge`) runs the start command as its child and serves it on the
server's port over the MCP streamable-HTTP and SSE transports of the 2025 revisions (the gateway speaks the
current one to clients). The child gets the bridge's environment, which is the record's (what mcp-proxy's
`--pass-environment` did). With `stdioChild: perSession` every session gets a process of its own, so the number
of sessions a replica holds at once is bounded by its memory.
"""

from __future__ import annotations

import shlex

from hosted_mcp.models.domain import ServerSpec
from hosted_mcp.models.fields import StdioChild

BRIDGE_CHILD_MODE = {StdioChild.SHARED: "shared", StdioChild.PER_SESSION: "per-session"}
SESSION_MEMORY_MIB = 96  # a session's own process: ~75 MiB RSS for an MCP SDK server (bench/results/bridge.md)
SHARED_MAX_SESSIONS = 1000


def max_sessions(spec: ServerSpec) -> int:
    if spec.stdioChild is StdioChild.PER_SESSION:
        return max(2, spec.memoryLimitMiB // SESSION_MEMORY_MIB)
    return SHARED_MAX_SESSIONS


def bridge_arguments(spec: ServerSpec, *, host: str, port: int) -> list[str]:
    """The bridge's command line after its program name; no shell interprets the start command."""
    return [
        *("--host", host, "--port", str(port)),
        *("--child", BRIDGE_CHILD_MODE[spec.stdioChild], "--max-sessions", str(max_sessions(spec))),
        "--",
        *shlex.split(spec.startCommand),
    ]
