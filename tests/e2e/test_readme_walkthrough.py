"""The README's walk-through, run as it stands against a real `hosted-mcp serve`, as a new user would run it.

The block is the first ```bash block after the marker comment `<!-- walkthrough: ... -->` in README.md (the
README may be rewritten around it: the marker is what this test looks for). It runs with bash, stopping at the
first failing command, in a temporary directory laid out like a fresh checkout after `make run`: the examples, and
`.venv` holding what `make run` installs (this tree with its `local` extra, and nothing of the tests), so a
walk-through that needs more than `make run` gives fails here. The platform runs there as `make run` starts it
(`hosted-mcp serve`, data in `./.data`). The one change made to the block: the port, 8765 in the README, is a free
one, so that the test never meets a platform someone already runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.platform import free_port, wait_until
from tests.support.lambdas import REPO_ROOT

MARKER = "<!-- walkthrough:"
README_PORT = "8765"


def walkthrough(readme: str) -> str:
    """The shell block that follows the marker."""
    after = readme[readme.index(MARKER) :]
    match = re.search(r"```bash\n(.*?)```", after, re.DOTALL)
    assert match is not None, "no ```bash block after the walkthrough marker"
    return match.group(1)


def test_the_marker_names_a_block_that_talks_to_the_default_port() -> None:
    block = walkthrough((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    assert f"127.0.0.1:{README_PORT}" in block
    assert "hosted-mcp create" in block


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    # Given a fresh checkout's layout after `make run`, and the platform started there as `make run` does
    checkout = tmp_path / "hosted-mcp"
    shutil.copytree(REPO_ROOT / "examples", checkout / "examples")
    venv = checkout / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = [str(venv / "bin" / "pip"), "install", "-q", "-c", str(REPO_ROOT / "constraints.txt")]
    subprocess.run([*install, "-e", f"{REPO_ROOT}[local]"], check=True, timeout=600, capture_output=True)
    port = str(free_port())
    env = {
        **os.environ,
        "HOSTED_MCP_PORT": port,
    }
    for name in ("HOSTED_MCP_URL", "HOSTED_MCP_TOKEN", "HOSTED_MCP_DATA_DIR", "HOSTED_MCP_CONFIG", "PYTHONPATH"):
        env.pop(name, None)
    env["HOSTED_MCP_CONFIG"] = str(tmp_path / "no-config.json")
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [str(checkout / ".venv" / "bin" / "python"), "-m", "hosted_mcp_local.cli", "serve", "--log-level", "warning"],
        cwd=checkout,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _healthy(f"http://127.0.0.1:{port}", serve), 30, "the platform to answer /healthz")

        # When the walk-through is run in a second shell there
        block = walkthrough((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
        script = block.replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{port}")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

        # Then every command succeeds, and both servers answer their tool call
        assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Hello, Ada!" in done.stdout
        assert "Hi, Bo!" in done.stdout
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        log.close()


def _healthy(url: str, serve: subprocess.Popen[bytes]) -> bool:
    if serve.poll() is not None:
        raise AssertionError(f"hosted-mcp serve exited with {serve.returncode}")
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
