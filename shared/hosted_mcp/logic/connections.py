"""The connections a caller may use: every InService server they are allowed, with their credential in place."""

from __future__ import annotations

from collections.abc import Iterator

from hosted_mcp.auth.roles import may_use
from hosted_mcp.endpoints import server_urls
from hosted_mcp.errors import InvalidRequest
from hosted_mcp.models.connections import BEARER_PLACEHOLDER, ConnectionView
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.ports import ServerStore

LIST_PAGE = 100


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
        urls = server_urls(base_url, record) if base_url else None
        result.append(
            ConnectionView(
                id=record.id,
                name=record.spec.name,
                normalizedName=record.normalizedName,
                description=record.spec.description,
                serverType=record.spec.serverType,
                url=urls.primary if urls else None,
                sseUrl=urls.sse if urls else None,
                groups=list(record.spec.groups),
                status="active",
                customHeaders=dict(headers),
            )
        )
    return result
