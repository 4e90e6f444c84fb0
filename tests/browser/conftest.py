"""Browser tests: the web UI in real headless Chromium (the system's, driven by Playwright) against `hosted-mcp serve`.

The platform runs once per session in a temporary data directory whose artifact directory holds the project's
examples (`examples/greeter-stdio` is the stdio server the tests host). Each test gets a fresh browser context
(its own storage) and names its servers uniquely. Screenshots go to HOSTED_MCP_SCREENSHOT_DIR when set
(`docs/ui` refreshes the pictures of docs/ui.md), else to a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
GREETER = "examples/greeter-stdio"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 30.0


def chromium_path() -> str | None:
    for candidate in (os.environ.get("HOSTED_MCP_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def cli() -> list[str]:
    """`hosted-mcp` from the environment running the tests (the console script, else the module)."""
    script = Path(sys.executable).parent / "hosted-mcp"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "hosted_mcp_local.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalPlatform:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    tokens: dict[tuple[str, str, bool], str] = field(default_factory=dict)

    def token(self, user: str, groups: str = "", *, admin: bool = False) -> str:
        """A token minted exactly as the page tells people to: `hosted-mcp token --user ... --groups ...`."""
        key = (user, groups, admin)
        if key not in self.tokens:
            command = [*cli(), "token", "--data-dir", str(self.data_dir), "--user", user, "--groups", groups]
            if admin:
                command.append("--admin")
            self.tokens[key] = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
        return self.tokens[key]

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token('admin', admin=True)}"}, timeout=30
        )

    def create(self, name: str, **fields: Any) -> dict[str, Any]:
        """The example stdio server created straight through the API (for tests about what happens next)."""
        body = {"name": name, "serverType": "stdio", "startCommand": "python server.py", "s3Path": GREETER, **fields}
        with self.api() as client:
            response = client.post("/mcp", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def servers(self) -> list[dict[str, Any]]:
        with self.api() as client:
            response = client.get("/mcp", params={"limit": 100})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["Items"]
        return items


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Block on the platform's own announcement line, then confirm /healthz answers."""
    assert process.stdout is not None
    with log.open("ab") as sink:
        for line in process.stdout:
            sink.write(line)
            if b"is running at" in line:
                break
        else:
            pytest.fail(f"hosted-mcp serve exited early; see {log}")
    # Uvicorn binds right after the announcement: give it a bounded number of tries.
    for _ in range(int(STARTUP_SECONDS * 10)):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        try:
            process.wait(timeout=0.1)
            pytest.fail(f"hosted-mcp serve exited with {process.returncode}; see {log}")
        except subprocess.TimeoutExpired:
            continue
    pytest.fail(f"hosted-mcp serve did not answer /healthz; see {log}")


def _copy_output(process: subprocess.Popen[bytes], log: Path) -> None:
    assert process.stdout is not None
    with log.open("ab") as sink:
        for line in process.stdout:
            sink.write(line)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run does it in CI)")
    return path


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory, chromium_executable: str) -> Iterator[LocalPlatform]:
    data_dir = tmp_path_factory.mktemp("platform")
    shutil.copytree(EXAMPLES, data_dir / "artifacts" / "examples")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [*cli(), "serve", "--port", str(port), "--data-dir", str(data_dir), "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    log = data_dir / "serve.log"
    try:
        _wait_until_serving(process, url, log)
        # Keep draining the platform's output so it never blocks on a full pipe.
        drain = threading.Thread(target=_copy_output, args=(process, log), daemon=True)
        drain.start()
        yield LocalPlatform(url=url, data_dir=data_dir, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# Package scope: Playwright's sync API keeps an event loop running in this thread while it is open, which would
# break asyncio-based tests that run after the browser tests.
@pytest.fixture(scope="package")
def browser(chromium_executable: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("HOSTED_MCP_SCREENSHOT_DIR")
    target = (REPO / configured) if configured and not Path(configured).is_absolute() else Path(configured or "")
    if not configured:
        target = tmp_path_factory.mktemp("screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:6]
