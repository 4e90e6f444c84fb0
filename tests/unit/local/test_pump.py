"""The change-feed pump: in order, at least once, checkpointed, retried, then sent to the failure destination."""

from __future__ import annotations

import threading

import pytest

from hosted_mcp.logic.transitions import move
from hosted_mcp.models.domain import StatusChange
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_local.pump import ChangeFeedPump
from hosted_mcp_local.store import SqliteServerStore
from tests.unit.local.conftest import T0, created


def test_drain_delivers_every_change_in_order_and_checkpoints(store: SqliteServerStore) -> None:
    record = created(store)
    move(store, record, ServerStatus.IN_SERVICE, actor="t", reason="ok", now=T0)
    seen: list[StatusChange] = []

    delivered = ChangeFeedPump(store, seen.append).drain()

    assert delivered == 2
    assert [c.new and c.new.status for c in seen] == [ServerStatus.CREATING, ServerStatus.IN_SERVICE]
    assert store.checkpoint("reactions") == 2
    # A new pump (a restarted platform) starts after the checkpoint: nothing is delivered twice once handled
    assert ChangeFeedPump(store, seen.append).drain() == 0


def test_a_failing_delivery_is_retried_then_recorded_and_skipped(store: SqliteServerStore) -> None:
    created(store)
    attempts: list[int] = []

    def broken(change: StatusChange) -> None:
        attempts.append(1)
        raise RuntimeError("reaction failed")

    ChangeFeedPump(store, broken, max_attempts=3, retry_delay=0).drain()

    assert len(attempts) == 3
    assert store.failures("reactions") == [(1, "RuntimeError: reaction failed")]
    assert store.checkpoint("reactions") == 1


def test_a_transient_failure_is_delivered_on_retry(store: SqliteServerStore) -> None:
    created(store)
    outcomes = iter([RuntimeError("once"), None])
    delivered: list[StatusChange] = []

    def flaky(change: StatusChange) -> None:
        outcome = next(outcomes)
        if outcome:
            raise outcome
        delivered.append(change)

    ChangeFeedPump(store, flaky, retry_delay=0).drain()

    assert len(delivered) == 1
    assert store.failures("reactions") == []


def test_the_running_pump_is_woken_by_writes(store: SqliteServerStore) -> None:
    arrived = threading.Event()
    pump = ChangeFeedPump(store, lambda change: arrived.set())
    pump.start()
    try:
        created(store)
        assert arrived.wait(timeout=30)
    finally:
        pump.stop()


def test_a_change_handled_but_not_checkpointed_is_delivered_again(store: SqliteServerStore) -> None:
    # Given a platform that dies while handling a change (before its checkpoint is saved)
    created(store)

    class PlatformDied(BaseException):
        pass

    def dies(change: StatusChange) -> None:
        raise PlatformDied

    with pytest.raises(PlatformDied):
        ChangeFeedPump(store, dies).drain()

    # When the next run's pump starts, the change is delivered again: at least once
    seen: list[StatusChange] = []
    ChangeFeedPump(store, seen.append).drain()
    assert len(seen) == 1
