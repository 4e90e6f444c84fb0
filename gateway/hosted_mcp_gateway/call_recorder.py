"""The data plane's writer of the call audit trail: calls are handed over in memory and written in batches.

A call costs the event loop an append; a thread of its own writes what accumulated (every `interval` seconds, or
at once when a batch is full) through the `CallAudit` port: SQLite on one machine, DynamoDB on AWS. A write that
fails is retried on the next round; what waits is bounded (`max_pending`), and what could not be kept is counted
in `dropped` and logged, never silently lost. `flush()` writes everything handed over so far (the local API calls
it before reading, so a call is in the trail as soon as its answer is complete); `close()` flushes and stops.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from hosted_mcp.models.calls import CallRecord
from hosted_mcp.ports import CallAudit

logger = Logger(service="hosted-mcp-gateway", child=True)


class CallRecorder:
    def __init__(
        self,
        audit: CallAudit,
        *,
        batch: int = 500,
        interval: float = 0.5,
        max_pending: int = 100_000,
        prune: Callable[[datetime], int] | None = None,
        prune_every: float = 3600.0,
    ) -> None:
        self.audit = audit
        self.batch = batch
        self.interval = interval
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: deque[CallRecord] = deque()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._prune = prune
        self._prune_every = prune_every
        self._pruned = 0.0
        self._thread = threading.Thread(target=self._run, name="call-recorder", daemon=True)
        self._thread.start()

    def add(self, call: CallRecord) -> None:
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append(call)
        if len(self._pending) >= self.batch:
            self._wake.set()

    def flush(self) -> None:
        """Write everything handed over so far (in the calling thread, if the writer is not already at it)."""
        self._write()

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._write()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self._write()
            if self._prune is not None and time.monotonic() - self._pruned >= self._prune_every:
                self._pruned = time.monotonic()
                try:
                    self._prune(datetime.now(UTC))
                except Exception:  # retention is retried on the next round; the writer keeps writing
                    logger.exception("call audit retention failed")

    def _write(self) -> None:
        with self._write_lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(self.batch, len(self._pending)))]
                try:
                    self.audit.record(batch)
                except Exception:  # kept for the next round, as long as there is room
                    room = max(0, self.max_pending - len(self._pending))
                    self._pending.extendleft(reversed(batch[:room]))
                    lost = len(batch) - room
                    if lost > 0:
                        self.dropped += lost
                    logger.exception("call audit write failed", waiting=len(self._pending), dropped=self.dropped)
                    return
