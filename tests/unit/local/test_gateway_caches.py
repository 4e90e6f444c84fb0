"""The gateway's per-request caches stay exact: a committed write or a revoked key shows on the next request."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from hosted_mcp.auth import Authenticator, InMemoryApiKeyStore, new_key
from hosted_mcp.errors import Unauthorized
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_local.caches import JWT_CACHE_SECONDS, CachingAuthenticator, RecordCache
from hosted_mcp_local.store import SqliteServerStore
from tests.support.tokens import TestIdp
from tests.unit.local.conftest import T0, created


class CountingStore(SqliteServerStore):
    reads = 0

    def get_by_name(self, normalized_name: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().get_by_name(normalized_name)


@pytest.fixture
def counting(tmp_path):  # type: ignore[no-untyped-def]
    opened = CountingStore(tmp_path / "platform.db")
    yield opened
    opened.close()


def test_a_record_is_read_once_until_a_write_commits(counting: CountingStore) -> None:
    record = created(counting)
    cache = RecordCache(counting)

    first = [cache.get_by_name("echo") for _ in range(5)]

    assert first == [record] * 5
    assert counting.reads == 1


def test_a_status_change_is_seen_by_the_very_next_read(counting: CountingStore) -> None:
    record = created(counting)
    cache = RecordCache(counting)
    running = move(counting, record, ServerStatus.IN_SERVICE, actor="t", reason="deployed", now=T0)
    assert cache.get_by_name("echo") == running

    stopping = move(counting, running, ServerStatus.STOPPING, actor="t", reason="stop", now=T0)

    assert cache.get_by_name("echo") == stopping


def test_an_unknown_name_is_cached_as_absent_until_a_server_takes_it(counting: CountingStore) -> None:
    cache = RecordCache(counting)
    assert cache.get_by_name("echo") is None
    assert cache.get_by_name("echo") is None

    record = created(counting)

    assert cache.get_by_name("echo") == record
    assert counting.reads == 2


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def caching(idp: TestIdp, clock: Clock, keys: InMemoryApiKeyStore | None = None) -> CachingAuthenticator:
    inner = Authenticator(idp.settings(clock_skew_seconds=0), idp.source(), keys or InMemoryApiKeyStore())
    return CachingAuthenticator(inner, wall_clock=clock)


def counted(auth: CachingAuthenticator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    checks: list[str] = []
    real = auth._verified_claims
    monkeypatch.setattr(auth, "_verified_claims", lambda t: checks.append(t) or real(t))
    return checks


def test_a_verified_token_is_not_verified_again_within_the_cache_horizon(monkeypatch: pytest.MonkeyPatch) -> None:
    idp, clock = TestIdp(), Clock(time.time())
    auth = caching(idp, clock)
    token = idp.mint("bob", ["dev"])
    checks = counted(auth, monkeypatch)

    callers = [auth.authenticate({"authorization": f"Bearer {token}"}) for _ in range(3)]
    clock.now += JWT_CACHE_SECONDS + 1
    again = auth.authenticate({"authorization": f"Bearer {token}"})

    assert {c.username for c in callers} == {"bob"}
    assert again.username == "bob"
    assert len(checks) == 2  # once, then once more after the horizon


def test_a_cached_token_is_checked_in_full_again_once_its_exp_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    idp, clock = TestIdp(), Clock(time.time())
    auth = caching(idp, clock)
    exp = int(clock.now) + 5
    token = idp.mint("bob", exp=exp)
    checks = counted(auth, monkeypatch)
    auth.authenticate({"authorization": f"Bearer {token}"})

    clock.now = exp + 0.5  # within the cache horizon, past the token's exp: the full check decides again
    auth.authenticate({"authorization": f"Bearer {token}"})

    assert len(checks) == 2


def test_a_different_token_is_verified_on_its_own() -> None:
    idp, clock = TestIdp(), Clock(0.0)
    auth = caching(idp, clock)
    good = idp.mint("bob")
    auth.authenticate({"authorization": f"Bearer {good}"})
    head, claims, signature = good.split(".")
    tampered = f"{head}.{claims}.{signature[:-4]}AAAA"

    with pytest.raises(Unauthorized):
        auth.authenticate({"authorization": f"Bearer {tampered}"})


def test_a_revoked_api_key_is_refused_on_the_next_request() -> None:
    keys = InMemoryApiKeyStore()
    now = datetime.now(UTC)
    issued = new_key(
        name="ci", owner="bot", groups=("dev",), created_by="admin", now=now, expires_at=now + timedelta(days=1)
    )
    keys.put(issued.record)
    auth = caching(TestIdp(), Clock(0.0), keys)
    assert auth.authenticate({"x-api-key": issued.secret}).username == "bot"

    keys.revoke(issued.record.keyId, now)

    with pytest.raises(Unauthorized):
        auth.authenticate({"x-api-key": issued.secret})
