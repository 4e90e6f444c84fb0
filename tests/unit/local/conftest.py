"""Builders for the one-machine runtime's unit tests: records created through the real logic, a fresh store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hosted_mcp.logic.servers import create_server
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp_local.store import SqliteServerStore

ADMIN = Caller(username="admin", groups=("admin",), isAdmin=True)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteServerStore]:
    opened = SqliteServerStore(tmp_path / "platform.db")
    yield opened
    opened.close()


def created(store: SqliteServerStore, name: str = "echo", **fields: object) -> ServerRecord:
    request = CreateServerRequest.model_validate(
        {"name": name, "serverType": "stdio", "startCommand": "python server.py", **fields}
    )
    return create_server(store, request, ADMIN, now=T0)
