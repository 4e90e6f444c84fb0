"""Authentication and authorization: one set of rules for the Lambda authorizer and the local gateway.

Nothing here imports PyJWT or cryptography at module load; they are imported when a JWT is first verified. The
names below are loaded on first use, so a module that needs only `hosted_mcp.auth.roles` (the management API)
does not pay for the authenticator, the JWKS client and the HTTP stack they import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hosted_mcp.auth.api_keys import (
        ApiKeyRecord,
        ApiKeyStore,
        InMemoryApiKeyStore,
        IssuedKey,
        hash_key,
        new_key,
        verify_key,
    )
    from hosted_mcp.auth.authenticator import API_KEY_HEADER, Authenticator, CredentialType, bearer_token, header
    from hosted_mcp.auth.jwks import HttpJwksSource, JwksSource, RefreshingJwks, StaticJwksSource
    from hosted_mcp.auth.settings import AuthSettings

_EXPORTS = {
    "hosted_mcp.auth.api_keys": (
        "ApiKeyRecord",
        "ApiKeyStore",
        "InMemoryApiKeyStore",
        "IssuedKey",
        "hash_key",
        "new_key",
        "verify_key",
    ),
    "hosted_mcp.auth.authenticator": ("API_KEY_HEADER", "Authenticator", "CredentialType", "bearer_token", "header"),
    "hosted_mcp.auth.jwks": ("HttpJwksSource", "JwksSource", "RefreshingJwks", "StaticJwksSource"),
    "hosted_mcp.auth.settings": ("AuthSettings",),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "API_KEY_HEADER",
    "ApiKeyRecord",
    "ApiKeyStore",
    "AuthSettings",
    "Authenticator",
    "CredentialType",
    "HttpJwksSource",
    "InMemoryApiKeyStore",
    "IssuedKey",
    "JwksSource",
    "RefreshingJwks",
    "StaticJwksSource",
    "bearer_token",
    "hash_key",
    "header",
    "new_key",
    "verify_key",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
