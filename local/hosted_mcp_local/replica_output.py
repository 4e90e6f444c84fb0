"""What a replica writes: captured line by line, health-check noise left out, kept under a size cap, its last
lines at hand for failure reasons.

- **Capture.** A replica's stdout and stderr arrive on one pipe. A stdio server runs behind the platform's bridge,
  whose own log lines share that pipe with the server's stderr, and when the server dies
  at start the bridge ends with lines of its own. So the wrapped command is started through
  `stderr_shim`: a few lines of Python that point the server's stderr at a FIFO the platform reads, then `exec`
  the server (same pid, environment, stdin and stdout). Lines from the FIFO are the server's own; so are all lines
  of a server that runs unwrapped (HTTP, SSE).
- **Noise.** The platform's own MCP calls (readiness and liveness) are recognised by what the probe reported: the
  local ports of its connections and the session ids it was given. A line naming one of them (an access-log line,
  "Created new transport with session ID ...") is dropped. Lines are held `HOLD_SECONDS` (0.5 s) before they are
  written, so the probe has heard its session id by the time the server's line about it is judged.
- **Cap.** Each replica's log is rotated at `max_bytes` into `replica-N.log.1` ... `.log.<backups>`.
- **Last lines.** The server's own last `TAIL_LINES` lines (at most `TAIL_BYTES`) are kept for failure reasons,
  with the record's environment values redacted (`redact`).
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import selectors
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

HOLD_SECONDS = 0.5
NOISE_MEMORY_SECONDS = 120.0
TAIL_LINES = 5
TAIL_BYTES = 1024
LINE_LIMIT = 64 * 1024  # a longer line is cut (and marked) rather than held in memory whole
REDACTED = "***"
MIN_REDACTED_LENGTH = 4  # shorter values ("1", "on", "dev") would garble every line without hiding a secret

# Run with the platform's interpreter in isolated mode: stderr onto the FIFO named first, then exec the command.
STDERR_SHIM = (
    "import os,sys\n"
    "fd=os.open(sys.argv[1],os.O_WRONLY)\n"
    "os.dup2(fd,2)\n"
    "os.close(fd)\n"
    "try:\n"
    "    os.execvp(sys.argv[2],sys.argv[2:])\n"
    "except OSError as e:\n"
    "    os.write(2,('cannot run %s: %s\\n'%(sys.argv[2],e.strerror)).encode())\n"
    "    os._exit(127)\n"
)


def stderr_shim(fifo: Path, command: list[str]) -> list[str]:
    """`command`, started so that its stderr goes to `fifo`."""
    return [sys.executable, "-I", "-S", "-c", STDERR_SHIM, str(fifo), *command]


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every value in `secrets` (of at least MIN_REDACTED_LENGTH characters) replaced, longest first."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_REDACTED_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class ProbeTraffic:
    """What the platform's own MCP calls looked like from the server's side: their local ports and session ids
    (a `ProbeObserver` for `check_server`). Remembered for NOISE_MEMORY_SECONDS."""

    ADDRESS = re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]|localhost):(\d{1,5})\b")

    def __init__(self, clock: collections.abc.Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ports: dict[int, float] = {}
        self._sessions: dict[str, float] = {}

    def connected(self, local_port: int) -> None:
        with self._lock:
            self._ports[local_port] = self._clock() + NOISE_MEMORY_SECONDS

    def session(self, session_id: str) -> None:
        if session_id:
            with self._lock:
                self._sessions[session_id] = self._clock() + NOISE_MEMORY_SECONDS

    def is_noise(self, line: str) -> bool:
        now = self._clock()
        with self._lock:
            self._ports = {p: t for p, t in self._ports.items() if t > now}
            self._sessions = {s: t for s, t in self._sessions.items() if t > now}
            if not self._ports and not self._sessions:
                return False
            if any(int(port) in self._ports for port in self.ADDRESS.findall(line)):
                return True
            return any(session in line for session in self._sessions)


class ReplicaLog:
    """One replica's log file under a size cap, and the last lines the server itself wrote. Shared by the
    successive processes of the replica (restarts), so it is safe to write from several threads."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self.max_bytes = max(1024, max_bytes)
        self.backups = max(0, backups)
        self._secrets = tuple(secrets)
        self._lock = threading.Lock()
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")

    def write(self, line: bytes, *, own: bool) -> None:
        with self._lock:
            if self._file.closed:
                return
            if self._file.tell() + len(line) + 1 > self.max_bytes and self._file.tell() > 0:
                self._rotate()
            self._file.write(line + b"\n")
            self._file.flush()
            if own and line.strip():
                self._tail.append(line.decode("utf-8", errors="replace").rstrip())

    def note(self, text: str) -> None:
        """A line of the platform's own in the server's log (a start, a restart), marked as such."""
        self.write(f"[hosted-mcp] {text}".encode(), own=False)

    def last_lines(self) -> str:
        """The server's own last lines (at most TAIL_LINES, TAIL_BYTES), environment values redacted."""
        with self._lock:
            lines = [redact(line, self._secrets) for line in self._tail]
        kept: list[str] = []
        size = 0
        for line in reversed(lines):
            piece = line if len(line) <= TAIL_BYTES // 2 else line[: TAIL_BYTES // 2 - 3] + "..."
            if size + len(piece) + 1 > TAIL_BYTES:
                break
            kept.append(piece)
            size += len(piece) + 1
        return "\n".join(reversed(kept))

    def forget_tail(self) -> None:
        with self._lock:
            self._tail.clear()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def _rotate(self) -> None:
        self._file.close()
        if self.backups:
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._file = self.path.open("ab")


class OutputReader:
    """Reads one process's output pipe (and, for a wrapped server, the FIFO its stderr goes to) until the pipe
    ends, and writes each line to the replica's log unless it is probe noise. `own_pipe`: whether the pipe carries
    the server's own output (it does not when a wrapper writes there)."""

    def __init__(self, log: ReplicaLog, pipe: int, *, own_pipe: bool, fifo: Path | None, noise: ProbeTraffic) -> None:
        self._log = log
        self._noise = noise
        self._own = {pipe: own_pipe}
        self._pipe = pipe
        self._fifo_keep: int | None = None
        self._partial: dict[int, bytes] = {pipe: b""}
        self._held: collections.deque[tuple[float, bool, bytes]] = collections.deque()
        self._selector = selectors.DefaultSelector()
        os.set_blocking(pipe, False)
        self._selector.register(pipe, selectors.EVENT_READ)
        if fifo is not None:
            read = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            # Our own write end keeps the FIFO from reporting end-of-file while servers come and go (a bridge may
            # start one per session); it is closed when the pipe ends.
            self._fifo_keep = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            self._own[read] = True
            self._partial[read] = b""
            self._selector.register(read, selectors.EVENT_READ)
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replica-output", daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> bool:
        """Until everything the process wrote is in the log (its pipe ended); False on timeout."""
        return self.done.wait(timeout)

    def caught_up(self, timeout: float) -> bool:
        """Until the lines read so far are in the log (the process still runs); False on timeout."""
        deadline = time.monotonic() + timeout
        time.sleep(HOLD_SECONDS / 3)  # what the process wrote just now: read on the reader's next turn
        while (self._held or self._pending_input()) and time.monotonic() < deadline and not self.done.is_set():
            time.sleep(HOLD_SECONDS / 6)
        return not self._held

    def _pending_input(self) -> bool:
        return any(self._partial.values())

    def _run(self) -> None:
        try:
            self._read_until_the_pipe_ends()
            if self._fifo_keep is not None:
                os.close(self._fifo_keep)
                self._fifo_keep = None
                self._drain(deadline=time.monotonic() + 1.0)
            self._flush(everything=True)
        finally:
            for key in list(self._selector.get_map().values()):
                with contextlib.suppress(OSError):
                    os.close(key.fd)
            self._selector.close()
            if self._fifo_keep is not None:
                os.close(self._fifo_keep)
            self.done.set()

    def _read_until_the_pipe_ends(self) -> None:
        while True:
            # Idle, it sleeps until the process writes; with lines held, until the oldest is due.
            due = self._held[0][0] + HOLD_SECONDS - time.monotonic() if self._held else None
            for key, _events in self._selector.select(None if due is None else max(0.0, due)):
                if not self._read(key.fd) and key.fd == self._pipe:
                    return
            self._flush()

    def _drain(self, deadline: float) -> None:
        while self._selector.get_map() and time.monotonic() < deadline:
            ready = self._selector.select(0.05)
            if not ready:
                return
            for key, _events in ready:
                self._read(key.fd)

    def _read(self, fd: int) -> bool:
        """Read what is there; False (and the descriptor closed) at end of file."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            if self._partial.get(fd):
                self._hold(fd, self._partial[fd])
            self._partial[fd] = b""
            self._selector.unregister(fd)
            os.close(fd)
            return False
        pending = self._partial[fd] + data
        *lines, rest = pending.split(b"\n")
        for line in lines:
            self._hold(fd, line)
        if len(rest) > LINE_LIMIT:
            self._hold(fd, rest[:LINE_LIMIT] + b" [line cut]")
            rest = b""
        self._partial[fd] = rest
        return True

    def _hold(self, fd: int, line: bytes) -> None:
        self._held.append((time.monotonic(), self._own[fd], line.rstrip(b"\r")))

    def _flush(self, *, everything: bool = False) -> None:
        ripe = time.monotonic() - HOLD_SECONDS
        while self._held and (everything or self._held[0][0] <= ripe):
            _at, own, line = self._held.popleft()
            if not self._noise.is_noise(line.decode("utf-8", errors="replace")):
                self._log.write(line, own=own)
