"""Authentication settings: validated once, from typed config or `AUTH_*` variables, never echoing values."""

from __future__ import annotations

import pytest

from hosted_mcp.auth import AuthSettings
from hosted_mcp.wiring.settings import SettingsError, auth_settings_from

BASE = {"AUTH_ISSUER": "https://idp.example.test/pool-1", "AUTH_AUDIENCE": "client-a"}


def test_variables_become_settings_with_lists_split_on_commas() -> None:
    settings = auth_settings_from(
        {
            **BASE,
            "AUTH_AUDIENCE": "client-a, client-b",
            "AUTH_ALGORITHMS": "RS256",
            "AUTH_ADMIN_GROUP": "platform-admins",
            "AUTH_IDP_LOCKDOWN": "true",
            "AUTH_USER_GROUP": "platform-users",
            "AUTH_REQUIRE_NBF": "false",
            "AUTH_JWKS_URL": "",
        }
    )
    assert settings.audience == ("client-a", "client-b")
    assert settings.algorithms == ("RS256",)
    assert settings.idp_lockdown
    assert not settings.require_nbf
    assert settings.effective_jwks_url == "https://idp.example.test/pool-1/.well-known/jwks.json"


def test_a_bad_variable_is_named_and_its_value_is_not_repeated() -> None:
    with pytest.raises(SettingsError) as caught:
        auth_settings_from({**BASE, "AUTH_ALGORITHMS": "HS256-super-secret-value"})
    assert "AUTH_ALGORITHMS" in str(caught.value)
    assert "super-secret" not in str(caught.value)


def test_a_missing_issuer_is_refused() -> None:
    with pytest.raises(SettingsError, match="AUTH_ISSUER"):
        auth_settings_from({"AUTH_AUDIENCE": "client-a"})


def test_defaults_follow_the_security_stance() -> None:
    settings = AuthSettings(issuer="https://idp.example.test", audience="a")
    assert settings.algorithms == ("RS256", "ES256")
    assert settings.require_nbf
    assert settings.require_groups_claim
    assert not settings.api_key_required
