"""Run conflicting operations on one record at once, every contender having read the same version first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from hosted_mcp.errors import ConcurrentModification, DomainError
from hosted_mcp.models.domain import AuditEntry, Caller, ServerRecord
from hosted_mcp.ports import Page, ServerStore


class ReadTogetherStore(ServerStore):
    """Delegates to `inner`; after reading a record, each caller waits until all contenders have read it too.

    Both contenders therefore hold the same version before either writes: the conflict is certain, not a matter
    of thread scheduling, and only the store's conditional write can decide the winner.
    """

    def __init__(self, inner: ServerStore, contenders: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(contenders, timeout=30)

    def create(self, record: ServerRecord, audit: AuditEntry) -> None:
        self.inner.create(record, audit)

    def get(self, server_id: str) -> ServerRecord | None:
        record = self.inner.get(server_id)
        self.barrier.wait()
        return record

    def get_by_name(self, normalized_name: str) -> ServerRecord | None:
        return self.inner.get_by_name(normalized_name)

    def list_page(self, limit: int, next_token: str | None = None) -> Page:
        return self.inner.list_page(limit, next_token)

    def replace(self, expected: ServerRecord, new: ServerRecord, audit: AuditEntry | None) -> None:
        self.inner.replace(expected, new, audit)

    def remove(self, expected: ServerRecord, audit: AuditEntry) -> None:
        self.inner.remove(expected, audit)

    def audit_trail(self, server_id: str) -> list[AuditEntry]:
        return self.inner.audit_trail(server_id)


@dataclass
class Outcome:
    name: str
    result: Any = None
    error: DomainError | None = None

    @property
    def won(self) -> bool:
        return self.error is None


def race(operations: dict[str, Callable[[], Any]]) -> list[Outcome]:
    """Run each operation in its own thread at once; collect what each returned or the domain error it raised."""
    outcomes = {name: Outcome(name) for name in operations}
    unexpected: list[BaseException] = []

    def run(name: str, operation: Callable[[], Any]) -> None:
        try:
            outcomes[name].result = operation()
        except DomainError as error:
            outcomes[name].error = error
        except BaseException as error:  # surfaced below: a thread must not swallow a bug
            unexpected.append(error)

    threads = [threading.Thread(target=run, args=item) for item in operations.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if unexpected:
        raise unexpected[0]
    return list(outcomes.values())


Transition = Callable[[ServerStore, str, Caller], Any]


def race_two_transitions(
    store: ServerStore, server_id: str, caller: Caller, first: Transition, second: Transition
) -> Outcome:
    """Both contenders read the record at the same version, then write at once. Exactly one must win; the
    loser must be told of the concurrent change, and the store must hold exactly the winner's write."""
    contenders = ReadTogetherStore(store, 2)
    outcomes = race(
        {
            "first": partial(first, contenders, server_id, caller),
            "second": partial(second, contenders, server_id, caller),
        }
    )
    winners = [o for o in outcomes if o.won]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o.error, ConcurrentModification) for o in outcomes if not o.won), outcomes
    assert store.get(server_id) == winners[0].result
    return winners[0]
