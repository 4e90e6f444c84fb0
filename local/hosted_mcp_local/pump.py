"""The change-feed pump: delivers every committed change to the reactions, at least once, in order.

It reads the feed after its checkpoint, hands each change to `deliver`, and saves the checkpoint after the
change was handled, so a crash re-delivers (reactions tolerate duplicates). It waits on the store's condition,
which every committed write notifies: no polling. A change whose delivery keeps failing is retried with backoff
a bounded number of times, then recorded as a failed change (the local failure destination) and skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from aws_lambda_powertools import Logger

from hosted_mcp.models.domain import StatusChange
from hosted_mcp_local.store import FeedEntry, SqliteServerStore

logger = Logger(service="hosted-mcp-pump")
CONSUMER = "reactions"
MAX_ATTEMPTS = 5
BATCH = 100


class ChangeFeedPump:
    def __init__(
        self,
        store: SqliteServerStore,
        deliver: Callable[[StatusChange], None],
        *,
        consumer: str = CONSUMER,
        max_attempts: int = MAX_ATTEMPTS,
        retry_delay: float = 0.5,
    ) -> None:
        self._store = store
        self._deliver = deliver
        self._consumer = consumer
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._position = store.checkpoint(consumer)

    @property
    def position(self) -> int:
        return self._position

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="change-feed-pump", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._store.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def drain(self) -> int:
        """Deliver everything already in the feed on the calling thread; the number of changes delivered."""
        delivered = 0
        while not self._stopping.is_set():
            entries = self._store.read_feed(self._position, BATCH)
            if not entries:
                return delivered
            for entry in entries:
                if self._stopping.is_set():
                    return delivered
                self._handle(entry)
                delivered += 1
        return delivered

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.drain()
            if not self._stopping.is_set():
                self._store.wait_for_feed(self._position)

    def _handle(self, entry: FeedEntry) -> None:
        change = StatusChange(old=entry.old, new=entry.new)
        for attempt in range(1, self._max_attempts + 1):
            try:
                self._deliver(change)
                break
            except Exception as error:  # retried, then sent to the failure destination: never lost silently
                logger.exception("delivery failed", seq=entry.seq, server_id=entry.server_id, attempt=attempt)
                if attempt == self._max_attempts:
                    self._store.record_failure(self._consumer, entry.seq, f"{type(error).__name__}: {error}")
                elif self._stopping.wait(self._retry_delay * 2 ** (attempt - 1)):
                    return
        self._store.save_checkpoint(self._consumer, entry.seq)
        self._position = entry.seq
