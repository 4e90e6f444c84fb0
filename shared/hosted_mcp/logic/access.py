"""Access operations: API keys for agents and automation, and the connections a caller may use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from hosted_mcp.auth.api_keys import ApiKeyRecord, ApiKeyStore, IssuedKey, new_key
from hosted_mcp.auth.roles import may_use
from hosted_mcp.errors import InvalidRequest
from hosted_mcp.models.access import BEARER_PLACEHOLDER, ConnectionView, IssueApiKeyRequest
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.ports import ServerStore

KEY_ID_PATTERN = r"^[0-9a-f]{16}$"
LIST_PAGE = 100


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


def _all_records(store: ServerStore) -> Iterator[ServerRecord]:
    token: str | None = None
    while True:
        page = store.list_page(LIST_PAGE, token)
        yield from page.records
        if not page.next_token:
            return
        token = page.next_token


def bearer_header(credential: str | None, *, keep_placeholder: bool) -> dict[str, str]:
    """`customHeaders` of a connection: the placeholder, or the caller's own credential in its place."""
    if keep_placeholder:
        return {"Authorization": f"Bearer {BEARER_PLACEHOLDER}"}
    if not credential:
        raise InvalidRequest.of("placeholder", "no bearer credential to substitute; ask for placeholder=true")
    return {"Authorization": f"Bearer {credential}"}


def connections_for(
    store: ServerStore,
    caller: Caller,
    *,
    base_url: str | None,
    credential: str | None,
    keep_placeholder: bool,
) -> list[ConnectionView]:
    """The InService servers `caller` may use, as connection records, with `{LISA_BEARER_TOKEN}` substituted."""
    headers = bearer_header(credential, keep_placeholder=keep_placeholder)
    result = []
    for record in _all_records(store):
        if record.status is not ServerStatus.IN_SERVICE or not may_use(caller, record):
            continue
        prefix = f"{base_url.rstrip('/')}/mcp/{record.normalizedName}" if base_url else None
        result.append(
            ConnectionView(
                id=record.id,
                name=record.spec.name,
                normalizedName=record.normalizedName,
                description=record.spec.description,
                serverType=record.spec.serverType,
                url=f"{prefix}/mcp" if prefix else None,
                sseUrl=f"{prefix}/sse" if prefix else None,
                groups=list(record.spec.groups),
                status="active",
                customHeaders=dict(headers),
            )
        )
    return result
