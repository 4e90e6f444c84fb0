"""Call limits: a token bucket per caller and server, and a cap on calls in flight per replica."""

from __future__ import annotations

from hosted_mcp.models.call_rules import CallLimits
from hosted_mcp_gateway.limits import ConcurrencyLimiter, RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_refills_it() -> None:
    # Given a caller allowed 2 requests per second with a burst of 3
    clock, limits = Clock(), CallLimits(ratePerSecond=2, burst=3)
    rates = RateLimiter(clock)

    # When it sends 4 at once
    first = [rates.take("s", "ada", limits) for _ in range(4)]

    # Then the burst passes and the fourth waits half a second for its token
    assert first[:3] == [None, None, None]
    assert first[3] == 0.5
    assert retry_after(first[3]) == 1

    # And half a second later one more passes, but not two
    clock.now += 0.5
    assert rates.take("s", "ada", limits) is None
    assert rates.take("s", "ada", limits) is not None


def test_each_caller_and_server_has_its_own_bucket() -> None:
    rates, limits = RateLimiter(Clock()), CallLimits(ratePerSecond=1)
    assert rates.take("s", "ada", limits) is None
    assert rates.take("s", "ada", limits) is not None
    assert rates.take("s", "bob", limits) is None
    assert rates.take("t", "ada", limits) is None


def test_without_a_rate_nothing_is_limited() -> None:
    rates = RateLimiter(Clock())
    assert all(rates.take("s", "ada", CallLimits()) is None for _ in range(1000))


def test_a_forgotten_bucket_comes_back_full() -> None:
    rates, limits = RateLimiter(Clock(), max_buckets=2), CallLimits(ratePerSecond=1)
    assert rates.take("s", "ada", limits) is None
    rates.take("s", "bob", limits)
    rates.take("s", "eve", limits)  # ada's bucket is the oldest: forgotten
    assert rates.take("s", "ada", limits) is None


def test_a_replica_runs_at_most_its_cap_of_calls() -> None:
    slots, limits = ConcurrencyLimiter(), CallLimits(maxConcurrentPerReplica=2)
    assert slots.acquire("r1", limits)
    assert slots.acquire("r1", limits)
    assert not slots.acquire("r1", limits)
    assert slots.acquire("r2", limits)
    slots.release("r1")
    assert slots.acquire("r1", limits)
    assert slots.in_flight("r1") == 2


def test_without_a_cap_calls_are_only_counted() -> None:
    slots = ConcurrencyLimiter()
    assert all(slots.acquire("r", CallLimits()) for _ in range(100))
    for _ in range(100):
        slots.release("r")
    assert slots.in_flight("r") == 0
