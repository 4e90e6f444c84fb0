"""Signing keys: cached per container, refreshed once on an unknown kid, and never more than the rate allows."""

from __future__ import annotations

from typing import Any

import pytest

from hosted_mcp.auth import Authenticator, HttpJwksSource, InMemoryApiKeyStore, RefreshingJwks, StaticJwksSource
from hosted_mcp.auth.jwks import JwksSource
from hosted_mcp.errors import Unauthorized
from tests.support.tokens import JwksServer, TestIdp, public_jwk


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FailingSource(JwksSource):
    def __init__(self) -> None:
        self.calls = 0

    def get_key(self, kid: str) -> dict[str, Any] | None:
        return None

    def refresh(self) -> None:
        self.calls += 1
        raise OSError("issuer unreachable")


def test_a_rotated_key_is_picked_up_by_one_refresh(idp: TestIdp) -> None:
    # Given an authenticator that has already loaded the issuer's keys
    source = StaticJwksSource([])
    clock = FakeMonotonic()
    jwks = RefreshingJwks(source, min_refresh_seconds=60, monotonic=clock)
    authenticator = Authenticator(idp.settings(), jwks, InMemoryApiKeyStore())
    source.set_keys(idp.jwks)
    assert jwks.get_key(idp.rsa_kid) is not None
    refreshes = source.refreshes
    # When the issuer rotates to a new key and a token signed with it arrives
    rotated = TestIdp(rsa_kid="rsa-2")
    source.set_keys(idp.jwks + rotated.jwks)
    clock.now += 61
    caller = authenticator.authenticate({"Authorization": f"Bearer {rotated.mint('erin', [])}"})
    # Then exactly one refresh found it
    assert caller.username == "erin"
    assert source.refreshes == refreshes + 1


def test_unknown_kids_refresh_at_most_once_per_interval(idp: TestIdp) -> None:
    source = StaticJwksSource(idp.jwks)
    clock = FakeMonotonic()
    jwks = RefreshingJwks(source, min_refresh_seconds=60, max_age_seconds=3600, monotonic=clock)
    jwks.get_key(idp.rsa_kid)
    baseline = source.refreshes
    # When a flood of made-up kids arrives within one interval
    for i in range(500):
        assert jwks.get_key(f"made-up-{i}") is None
    # Then the issuer was asked at most once
    assert source.refreshes - baseline <= 1
    # And once the interval has passed, one more refresh is allowed
    clock.now += 60
    jwks.get_key("made-up-again")
    assert source.refreshes - baseline <= 2


def test_keys_are_fetched_again_when_they_grow_old(idp: TestIdp) -> None:
    source = StaticJwksSource(idp.jwks)
    clock = FakeMonotonic()
    jwks = RefreshingJwks(source, min_refresh_seconds=60, max_age_seconds=3600, monotonic=clock)
    jwks.get_key(idp.rsa_kid)
    first = source.refreshes
    jwks.get_key(idp.rsa_kid)
    assert source.refreshes == first
    clock.now += 3600
    jwks.get_key(idp.rsa_kid)
    assert source.refreshes == first + 1


def test_an_unreachable_issuer_fails_closed(idp: TestIdp) -> None:
    failing = FailingSource()
    authenticator = Authenticator(idp.settings(), RefreshingJwks(failing, monotonic=FakeMonotonic()))
    with pytest.raises(Unauthorized):
        authenticator.authenticate({"Authorization": f"Bearer {idp.mint()}"})
    assert failing.calls == 1


def test_symmetric_and_encryption_keys_in_the_key_set_are_ignored(idp: TestIdp) -> None:
    oct_key = {"kty": "oct", "kid": "hmac-1", "k": "c2VjcmV0"}
    enc_key = {**public_jwk(idp.rsa_key, "enc-1", "RS256"), "use": "enc"}
    source = StaticJwksSource([oct_key, enc_key, *idp.jwks])
    assert source.get_key("hmac-1") is None
    assert source.get_key("enc-1") is None
    assert source.get_key(idp.rsa_kid) is not None


def test_the_http_source_fetches_the_issuer_key_set_once_and_caches_it(idp: TestIdp) -> None:
    with JwksServer(idp) as server:
        jwks = RefreshingJwks(HttpJwksSource(server.url), min_refresh_seconds=60)
        authenticator = Authenticator(idp.settings(), jwks)
        for _ in range(5):
            assert authenticator.authenticate({"Authorization": f"Bearer {idp.mint()}"}).username == "bob"
        assert server.fetches == 1


@pytest.mark.parametrize("url", ["http://idp.example.test/jwks.json", "file:///etc/passwd", "ftp://x/y"])
def test_the_http_source_refuses_anything_but_https_off_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        HttpJwksSource(url)
