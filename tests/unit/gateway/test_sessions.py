"""Sessions stay on the replica that made them, with nothing remembered by the gateway: sealed session ids."""

from __future__ import annotations

from hosted_mcp_gateway.sealing import Sealer
from hosted_mcp_gateway.sessions import SessionIds

KEY = Sealer.generate_key()
REPLICAS = ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]


def test_a_session_stays_on_the_replica_that_created_it_whichever_gateway_reads_it() -> None:
    # Given a session the second replica created, handed out by one gateway process
    first = SessionIds(KEY)
    outward = first.outward("srv", REPLICAS[1], "upstream-abc")

    # When another gateway process with the same key (a restarted one, another router task) sees it
    pinned = SessionIds(KEY).inward("srv", outward, REPLICAS)

    # Then it goes to that replica, with the replica's own id, which the client never saw
    assert pinned is not None
    assert (pinned.replica, pinned.upstream_id) == (REPLICAS[1], "upstream-abc")
    assert "upstream-abc" not in outward


def test_new_sessions_take_turns() -> None:
    ids = SessionIds(KEY)
    assert [ids.next_replica("srv", REPLICAS) for _ in range(4)] == [*REPLICAS, *REPLICAS]


def test_a_session_whose_replica_is_gone_or_that_is_not_ours_starts_over() -> None:
    ids = SessionIds(KEY)
    outward = ids.outward("srv", REPLICAS[1], "u")

    assert ids.inward("srv", outward, REPLICAS[:1]) is None  # the replica set shrank
    assert ids.inward("other", outward, REPLICAS) is None  # another server's session
    assert ids.inward("srv", "plain-session-id", REPLICAS) is None  # a replica's raw id: not ours
    assert ids.inward("srv", outward[:-2] + "xx", REPLICAS) is None  # altered
    assert SessionIds(Sealer.generate_key()).inward("srv", outward, REPLICAS) is None  # another platform's key
