"""One stdio MCP server process: its stdout read as lines, its stdin written, its end reported once.

The child inherits the bridge's environment (mcp-proxy's `--pass-environment`) and its stderr (the platform keeps
the bridge's output as the server's log). It runs in a session of its own, so stopping it reaches whatever it
started (`npx` and the node process under it, say). Lines are split as they arrive, without an extra task or
queue per line; a line longer than the limit is skipped up to its end, and its first bytes are handed to
`on_oversize` so the request it answers can be told why it got nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from typing import cast

OVERSIZE_HEAD = 4096
EXIT_WAIT_AFTER_EOF = 2.0  # after closing stdin, how long a polite server gets to exit on its own
FLUSH_AFTER_EXIT = 1.0  # after the process exited, how long its last output may still take to arrive


class ChildProcess(asyncio.SubprocessProtocol):
    def __init__(
        self,
        *,
        max_line: int,
        on_line: Callable[[bytes], None],
        on_oversize: Callable[[bytes], None],
        on_exit: Callable[[int | None], None],
    ) -> None:
        self.max_line = max_line
        self.on_line = on_line
        self.on_oversize = on_oversize
        self.on_exit = on_exit
        self.transport: asyncio.SubprocessTransport | None = None
        self.stdin: asyncio.WriteTransport | None = None
        self.pid: int | None = None
        self.returncode: int | None = None
        self.ended = False
        self.exited: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._partial: list[bytes] = []
        self._held = 0
        self._skipping = False
        self._stdout_open = True
        self._flush_timer: asyncio.TimerHandle | None = None

    @classmethod
    async def start(
        cls,
        command: Sequence[str],
        *,
        max_line: int,
        on_line: Callable[[bytes], None],
        on_oversize: Callable[[bytes], None],
        on_exit: Callable[[int | None], None],
    ) -> ChildProcess:
        """Start `command`; OSError when it cannot be executed at all."""
        loop = asyncio.get_running_loop()
        _, child = await loop.subprocess_exec(
            lambda: cls(max_line=max_line, on_line=on_line, on_oversize=on_oversize, on_exit=on_exit),
            *command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            start_new_session=True,
        )
        return child

    # -- asyncio.SubprocessProtocol ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement these interfaces without subclassing asyncio's.
        self.transport = cast(asyncio.SubprocessTransport, transport)
        self.pid = self.transport.get_pid()
        self.stdin = cast(asyncio.WriteTransport, self.transport.get_pipe_transport(0))

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1:
            return
        if self._skipping:
            newline = data.find(b"\n")
            if newline < 0:
                return
            self._skipping = False
            data = data[newline + 1 :]
        start = 0
        if self._partial:
            newline = data.find(b"\n")
            if newline < 0:
                self._hold(data)
                return
            self._partial.append(data[:newline])
            line = b"".join(self._partial)
            self._partial, self._held = [], 0
            if len(line) > self.max_line:
                self.on_oversize(line[:OVERSIZE_HEAD])
            else:
                self._emit(line)
            start = newline + 1
        find, limit = data.find, self.max_line
        while (newline := find(b"\n", start)) >= 0:
            if newline - start > limit:
                self.on_oversize(data[start : start + OVERSIZE_HEAD])
            elif newline > start:
                self._emit(data[start:newline])
            start = newline + 1
        if start < len(data):
            self._hold(data[start:] if start else data)

    def _hold(self, piece: bytes) -> None:
        self._held += len(piece)
        if self._held <= self.max_line:
            self._partial.append(piece)
            return
        head = (self._partial[0] if self._partial else piece)[:OVERSIZE_HEAD]
        self._partial, self._held, self._skipping = [], 0, True
        self.on_oversize(head)

    def _emit(self, line: bytes) -> None:
        if line[-1:] == b"\r":
            line = line[:-1]
        if line.strip():
            self.on_line(line)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd != 1:
            return
        self._stdout_open = False
        if self._partial and not self._skipping:  # a last line without its newline
            line = b"".join(self._partial)
            self._partial, self._held = [], 0
            self._emit(line)
        if self.transport is not None and self.transport.get_returncode() is not None:
            self._finish()

    def process_exited(self) -> None:
        assert self.transport is not None
        self.returncode = self.transport.get_returncode()
        if not self._stdout_open:
            self._finish()
        else:  # the rest of its output may still be in the pipe (or held open by a process it started)
            self._flush_timer = asyncio.get_running_loop().call_later(FLUSH_AFTER_EXIT, self._finish)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _finish(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        if self.ended:
            return
        self.ended = True
        if self.returncode is None and self.transport is not None:
            self.returncode = self.transport.get_returncode()
        if not self.exited.done():
            self.exited.set_result(self.returncode)
        self.on_exit(self.returncode)

    # -- what the bridge does with it ------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return not self.ended and self.returncode is None

    def write(self, line: bytes) -> bool:
        """One message to the server's stdin (the newline is added here)."""
        stdin = self.stdin
        if stdin is None or stdin.is_closing() or not self.alive:
            return False
        stdin.write(line + b"\n")
        return True

    def unsent(self) -> int:
        """Bytes written to stdin that the server has not read yet."""
        stdin = self.stdin
        return 0 if stdin is None or stdin.is_closing() else stdin.get_write_buffer_size()

    async def stop(self, grace: float) -> None:
        """End the server: close its stdin (a stdio server exits on EOF), then SIGTERM its process group after a
        short wait, then SIGKILL once `grace` seconds have passed."""
        if self.ended or self.transport is None:
            return
        if self.stdin is not None:
            self.stdin.close()
        for sig, wait in ((None, min(EXIT_WAIT_AFTER_EOF, grace)), (signal.SIGTERM, grace), (signal.SIGKILL, grace)):
            if sig is not None:
                self.signal(sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.exited), wait)
                return

    def signal(self, sig: int) -> None:
        """Send `sig` to the server's process group (it leads one: it was started in a new session)."""
        if self.pid is None or self.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
