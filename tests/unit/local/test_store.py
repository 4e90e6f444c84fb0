"""The embedded store: conditional writes, audit, and a change feed written in the same transaction."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from hosted_mcp.errors import ConcurrentModification, NameConflict
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_local.store import SqliteServerStore
from tests.unit.local.conftest import T0, created


def test_create_appends_the_record_its_audit_and_an_insert_to_the_feed(store: SqliteServerStore) -> None:
    record = created(store)

    assert store.get(record.id) == record
    assert store.get_by_name("echo") == record
    assert [e.toStatus for e in store.audit_trail(record.id)] == [ServerStatus.CREATING]
    [entry] = store.read_feed(0)
    assert (entry.old, entry.new) == (None, record)


def test_a_taken_name_is_a_conflict_and_leaves_no_trace(store: SqliteServerStore) -> None:
    created(store, "Echo Server")

    with pytest.raises(NameConflict):
        created(store, "echo-server")

    assert len(store.read_feed(0)) == 1
    assert len(store.all_records()) == 1


def test_replace_is_conditional_on_version_and_status(store: SqliteServerStore) -> None:
    record = created(store)
    moved = move(store, record, ServerStatus.IN_SERVICE, actor="t", reason="deployed", now=T0)

    # A writer holding the old version loses, and its write appends nothing to the feed
    with pytest.raises(ConcurrentModification):
        move(store, record, ServerStatus.FAILED, actor="t", reason="late", now=T0)

    feed = store.read_feed(0)
    assert [(e.old and e.old.status, e.new and e.new.status) for e in feed] == [
        (None, ServerStatus.CREATING),
        (ServerStatus.CREATING, ServerStatus.IN_SERVICE),
    ]
    assert store.get(record.id) == moved


def test_remove_keeps_the_audit_and_feeds_the_old_image(store: SqliteServerStore) -> None:
    record = created(store)
    failed = move(store, record, ServerStatus.FAILED, actor="t", reason="broken", now=T0)

    move(store, failed, None, actor="t", reason="deleted", now=T0)

    assert store.get(record.id) is None
    assert store.get_by_name("echo") is None
    last = store.read_feed(0)[-1]
    assert (last.old, last.new) == (failed, None)
    assert [e.reason for e in store.audit_trail(record.id)] == ["created", "broken", "deleted"]


def test_records_audit_feed_and_checkpoints_survive_reopening(tmp_path: Path) -> None:
    first = SqliteServerStore(tmp_path / "db")
    record = created(first)
    first.save_checkpoint("reactions", 1)
    first.close()

    again = SqliteServerStore(tmp_path / "db")
    try:
        assert again.get(record.id) == record
        assert len(again.audit_trail(record.id)) == 1
        assert again.checkpoint("reactions") == 1
        assert again.read_feed(0)[0].new == record
    finally:
        again.close()


def test_a_waiting_consumer_is_woken_by_a_committed_write(store: SqliteServerStore) -> None:
    woke = threading.Event()

    def consumer() -> None:
        if store.wait_for_feed(0, timeout=30):
            woke.set()

    waiter = threading.Thread(target=consumer)
    waiter.start()
    created(store)
    waiter.join(timeout=30)

    assert woke.is_set()


def test_failed_changes_are_kept_for_inspection(store: SqliteServerStore) -> None:
    store.record_failure("reactions", 7, "RuntimeError: boom")

    assert store.failures("reactions") == [(7, "RuntimeError: boom")]
