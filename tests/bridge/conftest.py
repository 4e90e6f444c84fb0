"""Bridge tests run real `hosted-mcp-bridge` processes around real stdio MCP servers (tests/servers/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bridge.support import RunningBridge, alive


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath).replace("\\", "/")
        if "tests/bridge/" in path and not path.endswith("test_jsonrpc.py"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def start_bridge(tmp_path: Path) -> Iterator[Callable[..., RunningBridge]]:
    """Start a bridge (`mode`, `command`, `options`, `env`); every one is stopped after the test, and none may
    leave a server process behind."""
    started: list[RunningBridge] = []

    def start(mode: str = "per-session", *, healthy: bool = True, **fields: Any) -> RunningBridge:
        bridge = RunningBridge(tmp_path / f"bridge-{len(started)}.log", mode=mode, **fields)
        started.append(bridge)
        return bridge.start(healthy=healthy)

    yield start
    for bridge in started:
        servers = bridge.servers() if bridge.process and bridge.process.poll() is None else []
        bridge.stop()
        leftovers = [pid for pid in servers if alive(pid)]
        assert leftovers == [], f"server processes outlived their bridge: {leftovers}\n{bridge.logs()}"
