"""End-to-end fixtures: a real `hosted-mcp serve` per module, the real bridge, real server processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hosted_mcp_local.processes import data_dir_tag, tagged_processes
from tests.e2e.platform import TOOLS, LocalPlatform
from tests.support.lambdas import REPO_ROOT

TIME_SERVER_REQUIREMENTS = REPO_ROOT / "tools" / "mcp-server-time.txt"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    running = LocalPlatform(tmp_path_factory.mktemp("platform") / "data")
    running.data_dir.mkdir(parents=True)
    running.publish_examples()
    running.start()
    try:
        yield running
    finally:
        running.stop()
    # No orphan: every process the platform started (tagged with its data directory) ended with it
    assert tagged_processes(f"{data_dir_tag(running.data_dir)}:") == []


@pytest.fixture(scope="session")
def time_server() -> Path:
    """mcp-server-time from PyPI in its own environment (what `make install` builds; built here when missing)."""
    venv = TOOLS / "mcp-server-time"
    binary = venv / "bin" / "mcp-server-time"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "-r", str(TIME_SERVER_REQUIREMENTS)], check=True, timeout=300
        )
    return binary
