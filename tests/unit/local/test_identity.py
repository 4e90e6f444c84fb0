"""The local issuer: its key lives in the data directory, and its tokens pass the shared Authenticator."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hosted_mcp.auth import Authenticator
from hosted_mcp.errors import Unauthorized
from hosted_mcp.models.domain import Caller
from hosted_mcp_local.identity import LocalIssuer, local_auth_settings


def test_the_key_is_created_once_private_to_its_owner(tmp_path: Path) -> None:
    first = LocalIssuer(tmp_path)

    mode = stat.S_IMODE(first.key_path.stat().st_mode)

    assert mode == 0o600
    assert LocalIssuer(tmp_path).kid == first.kid  # the same key next time


def test_a_minted_token_authenticates_with_its_groups(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    token = issuer.mint("ada", ["finance", "research"], admin=False, ttl=timedelta(minutes=5), now=_now())

    caller = _verify(issuer, token)

    assert caller.username == "ada"
    assert caller.groups == ("finance", "research")
    assert not caller.isAdmin


def test_admin_tokens_carry_the_admin_group(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    token = issuer.mint("root", [], admin=True, ttl=timedelta(minutes=5), now=_now())

    assert _verify(issuer, token).isAdmin


def test_a_token_from_another_data_directory_is_refused(tmp_path: Path) -> None:
    ours, theirs = LocalIssuer(tmp_path / "a"), LocalIssuer(tmp_path / "b")
    token = theirs.mint("mallory", [], admin=True, ttl=timedelta(minutes=5), now=_now())

    with pytest.raises(Unauthorized):
        _verify(ours, token)


def test_an_expired_token_is_refused(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    token = issuer.mint("ada", [], admin=False, ttl=timedelta(seconds=1), now=_now() - timedelta(hours=1))

    with pytest.raises(Unauthorized, match="expired"):
        _verify(issuer, token)


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(days=8)])
def test_lifetimes_are_bounded(tmp_path: Path, ttl: timedelta) -> None:
    with pytest.raises(ValueError, match="ttl"):
        LocalIssuer(tmp_path).mint("ada", [], admin=False, ttl=ttl, now=_now())


def _now() -> datetime:
    return datetime.now(UTC)


def _verify(issuer: LocalIssuer, token: str) -> Caller:
    return Authenticator(local_auth_settings(), issuer.jwks()).authenticate({"Authorization": f"Bearer {token}"})
