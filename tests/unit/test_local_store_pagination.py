"""The embedded store pages by key: every record exactly once, in creation order, and a foreign token is a 400."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hosted_mcp.errors import InvalidRequest
from hosted_mcp.logic.servers import create_server
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.domain import Caller
from hosted_mcp_local.store import SqliteServerStore


@pytest.fixture
def store(tmp_path: Path) -> SqliteServerStore:
    store = SqliteServerStore(tmp_path / "platform.db")
    yield store
    store.close()


def test_walking_the_pages_returns_every_record_once_in_creation_order(store: SqliteServerStore) -> None:
    # Given 7 servers, two of them created at the same instant (the id breaks the tie)
    admin, at = Caller(username="admin", isAdmin=True), datetime(2026, 1, 1, tzinfo=UTC)
    created = []
    for i in range(7):
        when = at + timedelta(seconds=min(i, 5))
        request = CreateServerRequest(name=f"server-{i}", serverType="stdio", startCommand="run")
        created.append(create_server(store, request, admin, now=when))
    # When a client walks pages of 3
    seen, token, pages = [], None, 0
    while True:
        page = store.list_page(3, token)
        seen.extend(r.id for r in page.records)
        pages += 1
        if page.next_token is None:
            break
        token = page.next_token
    # Then it sees every record once, in (createdAt, id) order, in 3 pages
    assert seen == [r.id for r in sorted(created, key=lambda r: (r.createdAt, r.id))]
    assert pages == 3


@pytest.mark.parametrize("token", ["!!!", "eyJhIjoxfQ==", "WzEsIDJd"])
def test_a_token_the_store_did_not_issue_is_a_bad_request_naming_next_token(
    store: SqliteServerStore, token: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        store.list_page(3, token)
    assert raised.value.problems[0].field == "nextToken"
