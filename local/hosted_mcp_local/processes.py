"""Process plumbing for the supervisor: ports, spawning, process groups, tags, ending and reaping.

Nothing here knows about servers, records or health: it starts a command in a process group of its own with a
tag in its environment, and ends process groups and every process carrying a tag (TERM, a grace period, KILL).
A tag is inherited by every process a replica starts, so a grandchild that left the group (mcp-proxy starts the
stdio server in a session of its own) is still found, also by a platform that starts after a killed one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

LOOPBACK = "127.0.0.1"
STOP_GRACE_SECONDS = 5.0
PROCESS_TAG = "HOSTED_MCP_PROCESS"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def spawn(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], output: IO[bytes] | int
) -> subprocess.Popen[bytes]:
    """Start `command` (never through a shell) in a session and process group of its own, stdout and stderr to
    `output`, no stdin. OSError when it cannot be started."""
    return subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def tagged_processes(prefix: str) -> list[int]:
    """Pids of live processes whose environment carries a process tag starting with `prefix` (Linux /proc)."""
    wanted = f"{PROCESS_TAG}={prefix}".encode()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if any(item.startswith(wanted) for item in (entry / "environ").read_bytes().split(b"\0")):
                found.append(int(entry.name))
    return found


def end(process: subprocess.Popen[bytes], tag: str) -> None:
    end_many([(process, tag)])


def end_many(replicas: list[tuple[subprocess.Popen[bytes], str]]) -> None:
    """End replicas together: each process group and every process carrying its tag. TERM, one shared grace
    period, then KILL."""
    for process, tag in replicas:
        _signal_group(process.pid, signal.SIGTERM)
        for pid in tagged_processes(tag):
            _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process, _tag in replicas:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for process, tag in replicas:
        _signal_group(process.pid, signal.SIGKILL)
        end_all(tagged_processes(tag), grace=0.0)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE_SECONDS)


def end_all(pids: list[int], grace: float = STOP_GRACE_SECONDS) -> None:
    """TERM each pid, wait up to `grace` for them to go, then KILL whatever is left."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        _signal(pid, signal.SIGKILL)


def reap_tagged(prefix: str) -> int:
    """End every process whose tag starts with `prefix` (what a killed platform left running); how many."""
    orphans = tagged_processes(prefix)
    end_all(orphans)
    return len(orphans)


def wait_for_exit(process: subprocess.Popen[bytes]) -> None:
    """Block until `process` exits, without reaping it and without Popen's lock (`poll()` elsewhere keeps
    working)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]
