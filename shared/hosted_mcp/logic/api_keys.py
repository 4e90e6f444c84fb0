"""API keys for agents and automation: issue, list, revoke."""

from __future__ import annotations

from datetime import datetime, timedelta

from hosted_mcp.auth.api_keys import ApiKeyRecord, ApiKeyStore, IssuedKey, new_key
from hosted_mcp.models.api_keys import IssueApiKeyRequest
from hosted_mcp.models.domain import Caller

KEY_ID_PATTERN = r"^[0-9a-f]{16}$"


def issue_api_key(store: ApiKeyStore, request: IssueApiKeyRequest, caller: Caller, *, now: datetime) -> IssuedKey:
    issued = new_key(
        name=request.name,
        owner=request.owner or f"apikey/{request.name}",
        groups=tuple(dict.fromkeys(request.groups)),
        created_by=caller.username,
        now=now,
        expires_at=now + timedelta(days=request.expiresInDays),
    )
    store.put(issued.record)
    return issued


def list_api_keys(store: ApiKeyStore) -> list[ApiKeyRecord]:
    return store.list()


def revoke_api_key(store: ApiKeyStore, key_id: str, *, now: datetime) -> ApiKeyRecord:
    """Revoke at once (NotFound for an unknown id); revoking again keeps the first revocation time."""
    return store.revoke(key_id, now)
