"""The audit writer: calls handed over in memory, written in batches by a thread, never lost without a count."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from hosted_mcp.adapters.memory import InMemoryCallAudit
from hosted_mcp.models.calls import CallOutcome, CallRecord
from hosted_mcp_gateway.call_recorder import CallRecorder

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def call(n: int) -> CallRecord:
    return CallRecord(f"c{n}", "s1", T0, "ada", "jwt", "tools/call", "echo", CallOutcome.OK, 1.0, 10, 20)


class FlakyAudit(InMemoryCallAudit):
    """Fails its first `failures` writes (a store that is briefly unavailable)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.batches: list[int] = []

    def record(self, calls: Sequence[CallRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("store unavailable")
        self.batches.append(len(calls))
        super().record(calls)


def test_a_flush_writes_everything_handed_over_in_batches() -> None:
    audit = FlakyAudit(failures=0)
    recorder = CallRecorder(audit, batch=4, interval=3600)
    for n in range(10):
        recorder.add(call(n))
    recorder.flush()
    assert sorted(c.id for c in audit.calls("s1", 100).records) == sorted(f"c{n}" for n in range(10))
    assert max(audit.batches) <= 4
    recorder.close()


def test_a_failed_write_is_kept_for_the_next_round() -> None:
    audit = FlakyAudit(failures=1)
    recorder = CallRecorder(audit, batch=100, interval=3600)
    recorder.add(call(1))
    recorder.flush()  # fails: kept
    recorder.flush()  # succeeds
    assert [c.id for c in audit.calls("s1", 10).records] == ["c1"]
    assert recorder.dropped == 0
    recorder.close()


def test_past_the_bound_calls_are_counted_as_dropped() -> None:
    audit = FlakyAudit(failures=100)
    recorder = CallRecorder(audit, batch=100, interval=3600, max_pending=3)
    for n in range(5):
        recorder.add(call(n))
    assert recorder.dropped == 2
    recorder.close()


def test_the_writer_prunes_on_its_own_schedule() -> None:
    pruned = threading.Event()

    def prune(now: datetime) -> int:
        pruned.set()
        return 0

    recorder = CallRecorder(InMemoryCallAudit(), interval=0.01, prune=prune, prune_every=0)
    assert pruned.wait(5)
    recorder.close()
