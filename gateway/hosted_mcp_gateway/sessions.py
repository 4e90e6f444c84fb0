"""Sessions stay on the replica that made them, without the gateway remembering anything.

A 2025-revision MCP session (`Mcp-Session-Id`) and an SSE session live in one replica's memory. The gateway hands
the client a sealed id instead of the replica's own: it names the server, the replica's address and the replica's
session id, and only a gateway holding the key can open it (`sealing`). Any gateway process (each AWS router task,
the local gateway after a restart) routes a later request of the session to the same replica; an id that does not
open, belongs to another server or names a replica that is gone starts over on a replica picked in turn.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hosted_mcp_gateway.sealing import Sealer

SESSION_TTL_SECONDS = 30 * 24 * 3600
SESSION_PURPOSE = "mcp-session"


@dataclass(frozen=True)
class PinnedSession:
    replica: str  # the replica's base URL, e.g. http://127.0.0.1:8123
    upstream_id: str


class SessionIds:
    def __init__(self, key: bytes) -> None:
        self._sealer = Sealer(key, SESSION_PURPOSE)
        self._turns: dict[str, itertools.count[int]] = {}

    def outward(self, server_id: str, replica: str, upstream_id: str) -> str:
        """The id the client gets for a session the replica created."""
        return self._sealer.seal({"s": server_id, "r": replica, "u": upstream_id}, SESSION_TTL_SECONDS)

    def inward(self, server_id: str, token: str | None, replicas: list[str]) -> PinnedSession | None:
        """The replica and its own session id for a client's id, when it is ours, this server's and still there."""
        if not token:
            return None
        payload = self._sealer.open(token)
        if payload is None or payload.get("s") != server_id or payload.get("r") not in replicas:
            return None
        return PinnedSession(replica=str(payload["r"]), upstream_id=str(payload["u"]))

    def next_replica(self, server_id: str, replicas: list[str]) -> str:
        """A replica for work that is not pinned: each in turn."""
        turn = self._turns.setdefault(server_id, itertools.count())
        if len(self._turns) > 100_000:  # servers come and go: stay bounded
            self._turns.clear()
        return replicas[next(turn) % len(replicas)]
