"""The authorizer's AUTH_* variables in template.yaml are exactly settings the authenticator reads, and the token
lifetime cap is among them."""

from __future__ import annotations

from hosted_mcp.auth.settings import AuthSettings
from hosted_mcp.wiring.settings import AUTH_PREFIX as ENV_PREFIX
from hosted_mcp.wiring.settings import auth_settings_from
from tests.support.ddb import load_template


def test_every_auth_variable_is_a_setting_and_the_lifetime_cap_is_set() -> None:
    variables = load_template()["Resources"]["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    names = {name.removeprefix(ENV_PREFIX).lower() for name in variables if name.startswith(ENV_PREFIX)}
    assert names <= set(AuthSettings.model_fields)
    assert variables["AUTH_MAX_TOKEN_LIFETIME_SECONDS"] == {"Ref": "AuthMaxTokenLifetimeSeconds"}
    assert load_template()["Parameters"]["AuthMaxTokenLifetimeSeconds"]["Default"] == 86400


def test_the_cap_is_read_from_the_environment() -> None:
    settings = auth_settings_from(
        {"AUTH_ISSUER": "https://idp.example.test", "AUTH_AUDIENCE": "a", "AUTH_MAX_TOKEN_LIFETIME_SECONDS": "3600"}
    )
    assert settings.max_token_lifetime_seconds == 3600
