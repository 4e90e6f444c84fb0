"""How a replica's process is started: its command line and its environment, and whether an image can run here.

- stdio servers run behind the wrapper (`mcp-proxy --port P --host 127.0.0.1 --pass-environment -- <command>`),
  the server started through `replica_output.stderr_shim` so its own stderr reaches the platform apart from the
  wrapper's; HTTP/SSE servers run their start command with `PORT=<port>`. Commands are split with `shlex`, never
  handed to a shell.
- The environment is a small base (PATH with the platform's interpreter first, HOME, locale) plus the record's
  `environment`, the server's name and replica index, and the process tag (never the platform's environment).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hosted_mcp.models.domain import ServerSpec
from hosted_mcp.models.fields import REQUEST_STATE_KEY_VARIABLE, ServerType
from hosted_mcp_local.processes import LOOPBACK, PROCESS_TAG
from hosted_mcp_local.replica_output import stderr_shim

BASE_ENV_NAMES = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "SYSTEMROOT")
# A wrapper's own INFO logging is a few lines per health-check request: keep only its warnings. Each wrapper spells
# the level its own way.
WRAPPER_QUIET = {"mcp-proxy": ("--log-level", "WARNING"), "hosted-mcp-bridge": ("--log-level", "warning")}


@dataclass(frozen=True)
class Launch:
    """How a replica's process is started: the command, its working directory and environment, and (for a server
    behind a wrapper) the FIFO its own stderr goes to."""

    command: Sequence[str]
    cwd: Path
    env: Mapping[str, str]
    fifo: Path | None = None


def command(spec: ServerSpec, port: int, *, wrapper: str, stderr_fifo: Path | None = None) -> list[str]:
    args = shlex.split(spec.startCommand)
    if spec.serverType is not ServerType.STDIO:
        return args
    quiet = WRAPPER_QUIET.get(Path(wrapper).name, ())
    server = stderr_shim(stderr_fifo, args) if stderr_fifo is not None else args
    return [wrapper, "--port", str(port), "--host", LOOPBACK, "--pass-environment", *quiet, "--", *server]


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
