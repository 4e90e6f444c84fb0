"""One replica of a server: a process (and whatever it starts) on its own port, what it writes, what watches it.

A `Replica` is what a `Keeper` keeps: it launches and relaunches its process (a tagged process group, stdout and
stderr captured by an `OutputReader`, the processes it runs watched by the supervisor's `ExitWatcher`), answers the
real MCP call, and says what the server last wrote.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hosted_mcp.adapters.mcp_probe import McpProbeError, check_server
from hosted_mcp.models.domain import ServerSpec
from hosted_mcp_local.keeper import Keeper, Wake
from hosted_mcp_local.launch import Launch
from hosted_mcp_local.processes import LOOPBACK, ExitWatcher, end, spawn, tagged_processes
from hosted_mcp_local.replica_output import OutputReader, ProbeTraffic, ReplicaLog

OUTPUT_SETTLE_SECONDS = 2.0  # how long a reason waits for the last lines of a process that just ended


@dataclass
class Replica:
    index: int
    port: int
    tag: str
    log: ReplicaLog
    spec: ServerSpec
    url: str
    watcher: ExitWatcher
    noise: ProbeTraffic
    launch_spec: Callable[[], Launch]
    process: subprocess.Popen[bytes] | None = None
    reader: OutputReader | None = None
    keeper: Keeper | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    _woken: threading.Condition = field(default_factory=threading.Condition, init=False)
    _wakes: list[Wake] = field(default_factory=list, init=False)
    _watches: list[int] = field(default_factory=list, init=False)
    _exited: list[str] = field(default_factory=list, init=False)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # -- process ----------------------------------------------------------------------------------------------

    def launch(self) -> None:
        """Start the replica's process (OSError when it cannot be started) and watch it."""
        how = self.launch_spec()
        if how.fifo is not None:
            how.fifo.unlink(missing_ok=True)
            os.mkfifo(how.fifo, 0o600)
        process, pipe = spawn(how.command, cwd=how.cwd, env=how.env)
        self.log.forget_tail()
        self.reader = OutputReader(self.log, pipe, own_pipe=how.fifo is None, fifo=how.fifo, noise=self.noise)
        self.process = process
        self.log.note(f"replica {self.index} started, pid {process.pid}")
        self._watch([process.pid], Wake.EXITED)

    def relaunch(self) -> None:
        self._unwatch()
        if self.process is not None:
            end(self.process, self.tag)
        self._clear_wakes()
        self.launch()

    def rewatch(self) -> None:
        """Watch every process the replica runs now besides its own (the stdio server behind a wrapper)."""
        own = self.process.pid if self.process is not None else None
        self._unwatch(keep_own=True)
        with self._woken:
            self._exited = []
        self._watch([pid for pid in tagged_processes(self.tag) if pid != own], Wake.CHILD_EXITED)

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- what a keeper asks -------------------------------------------------------------------------------------

    def wait(self, timeout: float) -> Wake | None:
        with self._woken:
            if not self._wakes and not self.stop.is_set():
                self._woken.wait(timeout)
            if self.stop.is_set():
                return Wake.STOP
            wakes, self._wakes = self._wakes, []
        return Wake.EXITED if Wake.EXITED in wakes else (wakes[0] if wakes else None)

    def check(self) -> str | None:
        timeout = float(self.spec.containerHealthCheckConfig.timeout)
        try:
            check_server(self.url, self.spec.serverType, timeout=timeout, observer=self.noise)
        except McpProbeError as error:
            return str(error)
        return None

    def last_output(self) -> str:
        """What the server itself last wrote, once the lines it wrote just before are in (bounded, redacted)."""
        if self.reader is not None:
            if self.running():
                self.reader.caught_up(OUTPUT_SETTLE_SECONDS)
            else:
                self.reader.wait(OUTPUT_SETTLE_SECONDS)
        return self.log.last_lines()

    def wake(self, why: Wake) -> None:
        with self._woken:
            self._wakes.append(why)
            self._woken.notify_all()

    def halt(self) -> None:
        """Tell the keeper to stop (the processes are ended by the caller, several replicas at once)."""
        self.stop.set()
        self._unwatch()
        self.wake(Wake.STOP)

    def finish(self, timeout: float) -> None:
        """After the processes ended: the keeper has returned and the output is in the log."""
        if self.keeper is not None:
            self.keeper.join(timeout)
        if self.reader is not None:
            self.reader.wait(timeout)

    # -- watches ------------------------------------------------------------------------------------------------

    def exits(self) -> str:
        """The watched processes that exited since the last call, e.g. `pid 7106 (python server.py)`."""
        with self._woken:
            exited, self._exited = self._exited, []
        return ", ".join(exited) or "a process"

    def _watch(self, pids: list[int], why: Wake) -> None:
        process = self.process
        names = {pid: command_line(pid) for pid in pids}

        def exited(pid: int) -> None:
            if self.process is process and not self.stop.is_set():
                with self._woken:
                    self._exited.append(f"pid {pid} ({names[pid]})" if names.get(pid) else f"pid {pid}")
                self.wake(why)

        self._watches += [self.watcher.watch(pid, exited) for pid in pids]

    def _unwatch(self, *, keep_own: bool = False) -> None:
        watches, self._watches = self._watches, []
        for handle in watches[1:] if keep_own else watches:
            self.watcher.unwatch(handle)
        if keep_own:
            self._watches = watches[:1]

    def _clear_wakes(self) -> None:
        with self._woken:
            self._wakes = []
            self._exited = []


def command_line(pid: int, limit: int = 80) -> str:
    """What a process runs, as `ps` shows it (shortened), or '' when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    text = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def wait_ready(replica: Replica, deadline: float, closing: threading.Event, poll: float) -> str | None:
    """Poll the real MCP call until the replica answers (None), exits, is stopped, or `deadline` passes."""
    problem = "did not answer MCP"
    while time.monotonic() < deadline and not closing.is_set():
        code = replica.exit_code()
        if code is not None:
            output = replica.last_output()
            reason = f"exited with code {code} before answering MCP"
            return f"{reason}; its last output:\n{output}" if output else reason
        problem = replica.check() or ""
        if not problem:
            replica.rewatch()
            return None
        if replica.stop.wait(poll):
            return "stopped before it was ready"
    return f"not ready in time: {problem}"
