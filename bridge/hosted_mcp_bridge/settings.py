"""What a bridge is told at start: the command it hosts, where it listens, its mode and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MiB = 1 << 20

# The revisions of the session-based ("legacy") protocol. The gateway translates 2026-07-28 clients to these.
PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_PROTOCOL_VERSION = PROTOCOL_VERSIONS[-1]
# JSON-RPC batches were part of MCP up to 2025-03-26 and removed in 2025-06-18.
BATCH_VERSIONS = frozenset({"2024-11-05", "2025-03-26"})


class ChildMode(StrEnum):
    PER_SESSION = "per-session"  # every session gets a child of its own
    SHARED = "shared"  # one child serves every session


@dataclass(frozen=True)
class Settings:
    command: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8080
    child: ChildMode = ChildMode.PER_SESSION
    max_sessions: int = 100
    session_idle_timeout: float = 1800.0  # seconds without a request or an open stream before a session ends
    max_message_bytes: int = 8 * MiB  # a request body, and a line the child writes
    max_queued_bytes: int = 32 * MiB  # what may wait for one slow client stream before it is cut
    max_in_flight: int = 128  # requests per session the child has not answered yet
    backlog: int = 256  # messages kept for a session's standalone stream while none is open
    spare_children: int = 1  # per-session mode: children started ahead of the sessions that will use them
    init_timeout: float = 60.0  # shared mode: how long the child may take to answer the bridge's initialize
    stop_grace: float = 5.0  # how long a child gets to exit before it is killed
    keepalive: float = 15.0  # an SSE comment on a stream idle this long, so intermediaries keep it open
