"""API keys: stored hashed, verified in constant time, bounded by expiry and revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hosted_mcp.auth import (
    Authenticator,
    AuthSettings,
    InMemoryApiKeyStore,
    StaticJwksSource,
    hash_key,
    new_key,
    verify_key,
)
from hosted_mcp.auth.api_keys import split_key
from hosted_mcp.errors import Forbidden, NotFound, Unauthorized
from tests.support.tokens import ADMIN_GROUP, AUDIENCE, ISSUER

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def issue(store: InMemoryApiKeyStore, *, groups: tuple[str, ...] = ("finance",), days: int = 30) -> Any:
    issued = new_key(
        name="ci", owner="apikey/ci", groups=groups, created_by="alice", now=NOW, expires_at=NOW + timedelta(days=days)
    )
    store.put(issued.record)
    return issued


def test_the_store_keeps_a_hash_never_the_key() -> None:
    store = InMemoryApiKeyStore()
    issued = issue(store)
    stored = store.get(issued.record.keyId)
    assert stored is not None
    assert issued.secret not in stored.model_dump_json()
    assert stored.secretHash == hash_key(issued.secret)
    assert issued.secret not in repr(issued)
    assert issued.secret not in repr(stored)


def test_a_valid_key_verifies_until_it_expires() -> None:
    store = InMemoryApiKeyStore()
    issued = issue(store, days=1)
    assert verify_key(store, issued.secret, NOW) == issued.record
    assert verify_key(store, issued.secret, NOW + timedelta(days=1)) is None


def test_a_revoked_key_stops_verifying_and_keeps_its_first_revocation_time() -> None:
    store = InMemoryApiKeyStore()
    issued = issue(store)
    first = store.revoke(issued.record.keyId, NOW)
    second = store.revoke(issued.record.keyId, NOW + timedelta(hours=1))
    assert first.revokedAt == second.revokedAt == NOW
    assert verify_key(store, issued.secret, NOW) is None


def test_revoking_an_unknown_key_is_not_found() -> None:
    with pytest.raises(NotFound):
        InMemoryApiKeyStore().revoke("0123456789abcdef", NOW)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # same id, wrong secret
        lambda k: k[:-1],  # truncated
        lambda k: k.replace("hmk_", "hmk-"),  # wrong shape
        lambda k: "hmk_0123456789abcdef_" + k.split("_", 2)[2],  # unknown id, real-looking secret
        lambda k: k.upper(),
        lambda k: "",
    ],
)
def test_anything_but_the_exact_key_is_refused(mutate: Any) -> None:
    store = InMemoryApiKeyStore()
    issued = issue(store)
    assert verify_key(store, mutate(issued.secret), NOW) is None


def test_keys_are_unique_and_well_formed() -> None:
    store = InMemoryApiKeyStore()
    keys = {issue(store).secret for _ in range(50)}
    assert len(keys) == 50
    assert all(split_key(k) for k in keys)


def authenticator(store: InMemoryApiKeyStore, **settings: Any) -> Authenticator:
    auth_settings = AuthSettings(issuer=ISSUER, audience=AUDIENCE, admin_group=ADMIN_GROUP, **settings)
    return Authenticator(auth_settings, StaticJwksSource(), store, clock=lambda: NOW)


@pytest.mark.parametrize("how", ["x-api-key", "bearer"])
def test_a_key_authenticates_as_its_owner_with_its_groups(how: str) -> None:
    store = InMemoryApiKeyStore()
    issued = issue(store, groups=("finance", "admins"))
    headers = {"X-Api-Key": issued.secret} if how == "x-api-key" else {"Authorization": f"Bearer {issued.secret}"}
    caller = authenticator(store).authenticate(headers)
    assert (caller.username, caller.groups, caller.isAdmin, caller.credentialType) == (
        "apikey/ci",
        ("finance", "admins"),
        True,
        "apiKey",
    )


def test_an_invalid_key_is_401_even_next_to_a_bearer_token() -> None:
    store = InMemoryApiKeyStore()
    with pytest.raises(Unauthorized):
        authenticator(store).authenticate({"X-Api-Key": "hmk_0123456789abcdef_" + "a" * 43})


def test_api_keys_can_be_switched_off() -> None:
    store = InMemoryApiKeyStore()
    issued = issue(store)
    with pytest.raises(Unauthorized):
        authenticator(store, api_keys_enabled=False).authenticate({"X-Api-Key": issued.secret})


def test_api_key_required_refuses_a_request_without_one() -> None:
    store = InMemoryApiKeyStore()
    issued = issue(store)
    strict = authenticator(store, api_key_required=True)
    with pytest.raises(Unauthorized, match="API key is required"):
        strict.authenticate({})
    assert strict.authenticate({"X-Api-Key": issued.secret}).username == "apikey/ci"


def test_idp_lockdown_forbids_callers_outside_the_user_group() -> None:
    store = InMemoryApiKeyStore()
    outsider = issue(store, groups=("finance",))
    insider = issue(store, groups=("platform-users",))
    admin = issue(store, groups=("admins",))
    locked = authenticator(store, idp_lockdown=True, user_group="platform-users")
    with pytest.raises(Forbidden):
        locked.authenticate({"X-Api-Key": outsider.secret})
    assert locked.authenticate({"X-Api-Key": insider.secret}).groups == ("platform-users",)
    assert locked.authenticate({"X-Api-Key": admin.secret}).isAdmin


def test_idp_lockdown_needs_its_group() -> None:
    with pytest.raises(ValueError, match="user_group"):
        authenticator(InMemoryApiKeyStore(), idp_lockdown=True)
