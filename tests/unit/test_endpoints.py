"""One home for a server's URLs: the API's view, the caller's connections and the connections table agree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hosted_mcp.adapters.connections import connection_item
from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.endpoints import route_prefix, server_urls, upstream_path
from hosted_mcp.logic.connections import connections_for
from hosted_mcp.logic.servers import create_server
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest, ServerView
from hosted_mcp.models.domain import Caller
from hosted_mcp.models.fields import ServerStatus

ADMIN = Caller(username="admin", groups=("admin",), isAdmin=True)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BASE = "https://api.example.com/prod"


@pytest.mark.parametrize(
    ("server_type", "primary", "upstream"),
    [("stdio", "/mcp/echo/mcp", "/mcp"), ("http", "/mcp/echo/mcp", "/mcp"), ("sse", "/mcp/echo/mcp", "/sse")],
)
def test_every_place_that_shows_a_server_url_shows_the_same_one(server_type: str, primary: str, upstream: str) -> None:
    # Given an InService server of each type
    store = InMemoryServerStore()
    body = {"name": "echo", "serverType": server_type, "startCommand": "python s.py"}
    record = create_server(store, CreateServerRequest.model_validate(body), ADMIN, now=T0)
    record = move(store, record, ServerStatus.IN_SERVICE, actor="t", reason="ready", now=T0)

    # When the API, the caller's connections and the connections table each show it
    view = ServerView.of(record, BASE)
    [connection] = connections_for(store, ADMIN, base_url=BASE, credential="t", keep_placeholder=False)
    item = connection_item(record, server_urls(BASE, record).primary, active=True)

    # Then all three give the same URL, and the SSE URL is the same too
    assert view.url == connection.url == item["url"] == BASE + primary
    assert view.sseUrl == connection.sseUrl == f"{BASE}/mcp/echo/sse"
    assert route_prefix(record.normalizedName) == "/mcp/echo"
    assert upstream_path(record.spec) == upstream
