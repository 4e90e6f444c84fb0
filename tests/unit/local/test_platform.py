"""The platform's wiring without real servers: a write reaches the reactions through the feed, the outcome is
settled, published to listeners, audited, and still there after a restart."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hosted_mcp.logic.servers import create_server, utc_now
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.events import StatusChanged
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_local.platform import DataDirInUse, Platform, PlatformConfig
from tests.unit.local.conftest import ADMIN


class Settled:
    """Collects status events; `wait_for` blocks until one with the wanted status arrives."""

    def __init__(self) -> None:
        self.events: list[StatusChanged] = []
        self._changed = threading.Condition()

    def __call__(self, event: StatusChanged) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, server_id: str, status: ServerStatus) -> StatusChanged:
        def found() -> StatusChanged | None:
            return next(
                (e for e in self.events if e.detail.serverId == server_id and e.detail.toStatus == status), None
            )

        with self._changed:
            assert self._changed.wait_for(lambda: found() is not None, timeout=30), self.events
            event = found()
        assert event is not None
        return event


def config(data_dir: Path) -> PlatformConfig:
    return PlatformConfig(data_dir=data_dir, base_url="http://x")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    running = Platform(config(tmp_path))
    running.start()
    yield running
    running.stop()


def request(**fields: object) -> CreateServerRequest:
    return CreateServerRequest.model_validate({"name": "echo", "serverType": "stdio", "startCommand": "run", **fields})


def test_an_image_fails_with_the_reason_and_every_step_is_published(platform: Platform) -> None:
    settled = Settled()
    platform.events.add_listener(settled)

    record = create_server(platform.store, request(image="example/mcp:1"), ADMIN, now=utc_now())

    failed = settled.wait_for(record.id, ServerStatus.FAILED)
    assert "container runtime" in (failed.detail.lastError or "")
    assert [e.detail.toStatus for e in settled.events] == [ServerStatus.CREATING, ServerStatus.FAILED]
    assert [a.toStatus for a in platform.store.audit_trail(record.id)] == [ServerStatus.CREATING, ServerStatus.FAILED]


def test_a_server_that_cannot_start_fails_with_the_real_reason(platform: Platform) -> None:
    settled = Settled()
    platform.events.add_listener(settled)

    record = create_server(platform.store, request(), ADMIN, now=utc_now())

    failed = settled.wait_for(record.id, ServerStatus.FAILED)
    assert "exited with code 3 before answering MCP" in (failed.detail.lastError or "")
    assert "cannot run run: No such file or directory" in (failed.detail.lastError or "")


def test_records_and_audit_survive_a_restart(tmp_path: Path) -> None:
    first = Platform(config(tmp_path))
    first.start()
    settled = Settled()
    first.events.add_listener(settled)
    record = create_server(first.store, request(image="example/mcp:1"), ADMIN, now=utc_now())
    settled.wait_for(record.id, ServerStatus.FAILED)
    first.stop()

    again = Platform(config(tmp_path))
    again.start()
    try:
        assert again.store.get(record.id) is not None
        assert len(again.store.audit_trail(record.id)) == 2
        assert again.issuer.kid == first.issuer.kid
    finally:
        again.stop()


def test_a_second_platform_on_the_same_data_directory_is_refused(platform: Platform, tmp_path: Path) -> None:
    with pytest.raises(DataDirInUse):
        Platform(config(tmp_path))
