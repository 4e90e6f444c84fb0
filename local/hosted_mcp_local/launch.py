"""How a replica's process is started: its command line and its environment, and whether an image can run here.

- stdio servers run behind the platform's bridge (`python -m hosted_mcp_bridge --host 127.0.0.1 --port P ... --
  <command>`, the options `hosted_mcp.stdio` gives AWS too), the server started through
  `replica_output.stderr_shim` so its own stderr reaches the platform apart from the bridge's; HTTP/SSE servers run
  their start command with `PORT=<port>`. Commands are split with `shlex`, never handed to a shell.
- The environment is a small base (PATH with the platform's interpreter first, HOME, locale) plus the record's
  `environment`, the server's name and replica index, and the process tag (never the platform's environment).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hosted_mcp.models.domain import ServerSpec
from hosted_mcp.models.fields import REQUEST_STATE_KEY_VARIABLE, ServerType
from hosted_mcp.stdio import bridge_arguments
from hosted_mcp_local.processes import LOOPBACK, PROCESS_TAG
from hosted_mcp_local.replica_output import stderr_shim

BASE_ENV_NAMES = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "SYSTEMROOT")
# The bridge runs on the platform's own interpreter, isolated from the caller's PYTHONPATH and working directory;
# its INFO lines are a few per health check: keep only its warnings.
BRIDGE = (sys.executable, "-I", "-m", "hosted_mcp_bridge")
BRIDGE_QUIET = ("--log-level", "warning")


@dataclass(frozen=True)
class Launch:
    """How a replica's process is started: the command, its working directory and environment, and (for a stdio
    server, behind the bridge) the FIFO its own stderr goes to."""

    command: Sequence[str]
    cwd: Path
    env: Mapping[str, str]
    fifo: Path | None = None


def command(spec: ServerSpec, port: int, *, stderr_fifo: Path | None = None) -> list[str]:
    if spec.serverType is not ServerType.STDIO:
        return shlex.split(spec.startCommand)
    arguments = bridge_arguments(spec, host=LOOPBACK, port=port)
    split = arguments.index("--")
    options, server = arguments[:split], arguments[split + 1 :]
    if stderr_fifo is not None:
        server = stderr_shim(stderr_fifo, server)
    return [*BRIDGE, *options, *BRIDGE_QUIET, "--", *server]


def environment(
    spec: ServerSpec, *, server: str, replica: int, port: int, tag: str, interpreter_dir: str, secret: str | None = None
) -> dict[str, str]:
    env = {name: os.environ[name] for name in BASE_ENV_NAMES if name in os.environ}
    env["PATH"] = os.pathsep.join(p for p in (interpreter_dir, os.environ.get("PATH", os.defpath)) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(spec.environment)
    env["HOSTED_MCP_SERVER"] = server
    env["HOSTED_MCP_REPLICA"] = str(replica)
    if secret is not None:  # the same for every replica of a server: what MRTR requestState is sealed with
        env[REQUEST_STATE_KEY_VARIABLE] = secret
    env[PROCESS_TAG] = tag
    if spec.serverType is not ServerType.STDIO:
        env["PORT"] = str(port)
    return env


def container_runtime_problem() -> str:
    """Why `image` cannot run here; a docker client whose daemon does not answer counts as no runtime."""
    for client in ("docker", "podman"):
        path = shutil.which(client)
        if path is None:
            continue
        try:
            done = subprocess.run([path, "info"], capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return f"running container images is not supported by the local platform (found {client})"
    return "image requires a container runtime, and none is usable on this machine (no docker or podman daemon)"
