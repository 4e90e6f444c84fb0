"""Rule: a caller sends a server at most its configured rate of requests, and a replica runs at most its configured
number of calls at once; what goes over is answered 429 with `Retry-After` and never reaches the server.

- **Rate, per (server, caller)**: a token bucket holding `callLimits.burst` tokens (default: one second's worth),
  refilled at `callLimits.ratePerSecond`. Each JSON-RPC request a caller POSTs costs one token; notifications and
  the client's answers to the server's own requests (sampling, elicitation) are free, so limiting never strands a
  call half-way. `Retry-After` is the time until the next token, rounded up to whole seconds.
- **Concurrency, per replica**: at most `callLimits.maxConcurrentPerReplica` calls (`tools/call`, `prompts/get`,
  `resources/read`) in flight on one replica (a stdio child is one process); a call holds its slot until its answer
  is complete or the client leaves. `Retry-After: 1`.

Both are the state of one gateway process. With N processes (AWS router tasks behind a load balancer spreading a
caller's requests), a caller may get up to N x the rate and N x the burst, and a replica up to N x the concurrency;
on one machine there is one gateway process, so the limits are exact. Divide by the task count to bound the total.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from hosted_mcp.models.call_rules import CallLimits

MAX_BUCKETS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by (server id, caller key), bounded (a bucket left alone refills, so forgetting the oldest
    only forgives what refilling would have forgiven anyway)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_buckets: int = MAX_BUCKETS) -> None:
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._max = max_buckets

    def take(self, server_id: str, caller: str, limits: CallLimits) -> float | None:
        """None when a request may go; else the seconds until it could."""
        rate = limits.ratePerSecond
        if rate is None:
            return None
        size, now, key = float(limits.bucket_size), self._clock(), (server_id, caller)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(size, now)
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            bucket.tokens = min(size, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            self._buckets.move_to_end(key)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / rate


class ConcurrencyLimiter:
    """Calls in flight per replica."""

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}

    def acquire(self, replica: str, limits: CallLimits) -> bool:
        cap = limits.maxConcurrentPerReplica
        current = self._in_flight.get(replica, 0)
        if cap is not None and current >= cap:
            return False
        self._in_flight[replica] = current + 1
        return True

    def release(self, replica: str) -> None:
        left = self._in_flight.get(replica, 0) - 1
        if left > 0:
            self._in_flight[replica] = left
        else:
            self._in_flight.pop(replica, None)

    def in_flight(self, replica: str) -> int:
        return self._in_flight.get(replica, 0)


def retry_after(seconds: float) -> int:
    """What `Retry-After` says: whole seconds, at least one."""
    return max(1, math.ceil(seconds))
