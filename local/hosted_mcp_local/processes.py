"""Process plumbing for the supervisor: ports, spawning, process groups, tags, exit watching, ending and reaping.

Nothing here knows about servers, records or health: it starts a command in a process group of its own with a
tag in its environment, tells when a process exits, and ends process groups and every process carrying a tag
(TERM, a grace period, KILL). A tag is inherited by every process a replica starts, so a grandchild that left the
group (a stdio wrapper may start its server in a session of its own) is still found, watched and ended, also by a
platform that starts after a killed one.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import selectors
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"
STOP_GRACE_SECONDS = 5.0
PROCESS_TAG = "HOSTED_MCP_PROCESS"


def data_dir_tag(data_dir: Path) -> str:
    """The tag prefix of every process a platform on `data_dir` starts: two platforms never end each other's."""
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def spawn(command: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start `command` (never through a shell) in a session and process group of its own, no stdin, stdout and
    stderr into one pipe. The process and the pipe's read end (the caller reads and closes it). OSError when the
    command cannot be started."""
    read, write = os.pipe()
    try:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=write,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    return process, read


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


class ExitWatcher:
    """Tells when watched processes exit, whoever their parent is: one thread waits on a pidfd per process (Linux
    5.3+), so the stdio server a bridge started is watched as closely as our own child. Where pidfds are not
    available it looks at /proc once a second instead."""

    POLL_SECONDS = 1.0

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._handles = itertools.count(1)
        self._watches: dict[int, tuple[int, int | None, Callable[[int], None]]] = {}  # handle -> pid, pidfd, call
        self._closed = False
        self._thread: threading.Thread | None = None  # started by the first watch

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._wake_read, self._wake_write = os.pipe()
            os.set_blocking(self._wake_write, False)
            self._selector.register(self._wake_read, selectors.EVENT_READ, None)
            self._thread = threading.Thread(target=self._run, name="exit-watcher", daemon=True)
            self._thread.start()

    def watch(self, pid: int, on_exit: Callable[[int], None]) -> int:
        """Call `on_exit(pid)` once, from the watcher's thread, when `pid` exits (at once if it is already gone).
        A handle for `unwatch`."""
        self._start()
        handle = next(self._handles)
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            on_exit(pid)
            return handle
        except (OSError, AttributeError):
            pidfd = None  # no pidfd support: the /proc fallback
        with self._lock:
            self._watches[handle] = (pid, pidfd, on_exit)
            if pidfd is not None:
                self._selector.register(pidfd, selectors.EVENT_READ, handle)
        self._nudge()
        return handle

    def unwatch(self, handle: int) -> None:
        with self._lock:
            watched = self._watches.pop(handle, None)
            if watched is not None and watched[1] is not None:
                self._selector.unregister(watched[1])
                os.close(watched[1])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for handle in list(self._watches):
                _pid, pidfd, _call = self._watches.pop(handle)
                if pidfd is not None:
                    self._selector.unregister(pidfd)
                    os.close(pidfd)
            thread = self._thread
        if thread is None:
            self._selector.close()
            return
        self._nudge()
        thread.join(timeout=STOP_GRACE_SECONDS)

    def _nudge(self) -> None:
        if self._thread is None:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_write, b"x")

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    break
                polled = any(pidfd is None for _pid, pidfd, _call in self._watches.values())
            ready = self._selector.select(self.POLL_SECONDS if polled else None)
            exited: list[int] = []
            for key, _events in ready:
                if key.data is None:
                    with contextlib.suppress(BlockingIOError, OSError):
                        os.read(self._wake_read, 4096)
                else:
                    exited.append(key.data)
            with self._lock:
                exited += [h for h, (pid, pidfd, _c) in self._watches.items() if pidfd is None and not alive(pid)]
            for handle in exited:
                with self._lock:
                    watched = self._watches.get(handle)
                if watched is None:
                    continue
                self.unwatch(handle)
                watched[2](watched[0])
        self._selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)


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
