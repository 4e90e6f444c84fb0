"""Authentication and authorization: one set of rules for the Lambda authorizer and the local gateway.

Nothing here imports PyJWT or cryptography at module load; they are imported when a JWT is first verified.
"""

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
