"""AWS wiring for authentication: `AuthSettings` from `AUTH_*` environment variables, and cached factories.

Each `AuthSettings` field is read from `AUTH_<FIELD NAME IN UPPER CASE>` (lists comma-separated, booleans
`true`/`false`), e.g. `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_ADMIN_GROUP`, `AUTH_IDP_LOCKDOWN`. Validation errors
name the variable, never its value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import ValidationError

from hosted_mcp.adapters.aws import SettingsError, dynamodb_client, factory
from hosted_mcp.auth.settings import AuthSettings

if TYPE_CHECKING:
    from hosted_mcp.auth.api_keys import ApiKeyStore
    from hosted_mcp.auth.authenticator import Authenticator

ENV_PREFIX = "AUTH_"
LIST_FIELDS = frozenset({"audience", "algorithms", "username_claim"})
API_KEYS_TABLE_VARIABLE = "API_KEYS_TABLE_NAME"


def auth_settings_from(environ: Mapping[str, str]) -> AuthSettings:
    values: dict[str, object] = {}
    for name in AuthSettings.model_fields:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None or raw == "":
            continue
        values[name] = [part.strip() for part in raw.split(",") if part.strip()] if name in LIST_FIELDS else raw
    try:
        return AuthSettings.model_validate(values)
    except ValidationError as exc:
        names = ", ".join(sorted({ENV_PREFIX + str(e["loc"][0]).upper() for e in exc.errors() if e.get("loc")}))
        raise SettingsError(f"invalid or missing authentication settings: {names or 'AUTH_*'}") from exc


@factory
def auth_settings() -> AuthSettings:
    return auth_settings_from(os.environ)


@factory
def api_key_store() -> ApiKeyStore | None:
    from hosted_mcp.adapters.dynamodb_api_keys import DynamoDbApiKeyStore

    table = os.environ.get(API_KEYS_TABLE_VARIABLE)
    return DynamoDbApiKeyStore(dynamodb_client(), table) if table else None


@factory
def authenticator() -> Authenticator:
    from hosted_mcp.auth.authenticator import Authenticator
    from hosted_mcp.auth.jwks import HttpJwksSource, RefreshingJwks

    settings = auth_settings()
    jwks = RefreshingJwks(
        HttpJwksSource(settings.effective_jwks_url),
        min_refresh_seconds=settings.jwks_min_refresh_seconds,
        max_age_seconds=settings.jwks_max_age_seconds,
    )
    return Authenticator(settings, jwks, api_key_store())
