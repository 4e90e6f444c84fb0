"""Keeping one replica alive: liveness checks, restarts with backoff, the start period, and giving up on a crash loop.

The rules, with `containerHealthCheckConfig` (interval, timeout, retries, startPeriod) as ECS reads it:

- **Checks.** Every `interval` seconds a real MCP call (`initialize` + `tools/list`): through the bridge,
  `tools/list` reaches the stdio server behind it, so a bridge answering for a dead server fails it.
- **Exits are noticed at once.** The replica's process and every process it started (the stdio server behind its
  wrapper included) are watched; when one exits the keeper wakes. Its own process exiting is a crash: restarted.
  Another process exiting is checked at once with the MCP call, and restarted if the check fails (a bridge that
  starts a server per session ends them as sessions end: those exits pass the check).
- **Hung, not dead.** A replica that fails `retries` checks in a row is restarted.
- **Start period.** After every (re)start, the replica is checked every READY_POLL_SECONDS until it answers;
  failures in its first `startPeriod` seconds do not count. Only a crash ends the start period early.
- **Backoff.** Restarts follow each other after 0, 1, 3, 7, 15, 30, 30 ... seconds while the replica keeps failing;
  one good check resets it.
- **Crash loop.** A replica that would be restarted more than `CrashLoopPolicy.restarts` times within
  `CrashLoopPolicy.window` seconds is not restarted: `on_give_up` gets the reason (the server's record goes
  `Failed`).

Detection time, from the moment a process dies to its restart being started: the exit watcher's wake-up plus one
MCP call (measured under 0.3 s for a killed stdio server behind a bridge that answers `tools/list` with an
error at once, tests/e2e/test_supervision.py). A replica that hangs (alive, not answering) is restarted after at most
`interval * retries + timeout * retries` seconds (defaults: 30 * 3 + 5 * 3 = 105 s).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from aws_lambda_powertools import Logger

from hosted_mcp.models.domain import ContainerHealthCheckConfig

logger = Logger(service="hosted-mcp-supervisor", child=True)

READY_POLL_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 30.0


class Wake(Enum):
    """Why a keeper woke before its interval ended."""

    STOP = "stop"
    EXITED = "exited"  # the replica's own process exited
    CHILD_EXITED = "child exited"  # another process of the replica exited (the stdio server behind its wrapper)


@dataclass(frozen=True)
class CrashLoopPolicy:
    """When a replica that keeps failing is given up on: more than `restarts` restarts within `window` seconds."""

    restarts: int = 5
    window: float = 600.0
    max_backoff: float = MAX_BACKOFF_SECONDS

    def backoff(self, consecutive: int) -> float:
        """Seconds before the next restart, after `consecutive` restarts without a good check in between."""
        return float(min(self.max_backoff, 2.0**consecutive - 1))


class Kept(Protocol):
    """What a keeper needs from the replica it keeps (the supervisor's Replica; a fake in unit tests)."""

    index: int
    stop: threading.Event

    def wait(self, timeout: float) -> Wake | None:
        """Block until woken or `timeout` passes (None)."""

    def exit_code(self) -> int | None:
        """The replica's own process's exit code, or None while it runs."""

    def check(self) -> str | None:
        """The real MCP call: None when the replica answers, else why not."""

    def relaunch(self) -> None:
        """End the replica's processes and start them again (OSError when the command cannot be started)."""

    def rewatch(self) -> None:
        """Watch the processes the replica runs now (some came and went)."""

    def exits(self) -> str:
        """Which watched processes exited since the last call (for a reason)."""

    def last_output(self) -> str:
        """The server's own last lines (bounded, environment values redacted), or ''."""


def with_output(reason: str, output: str) -> str:
    return f"{reason}; its last output:\n{output}" if output else reason


class Keeper:
    """The loop that keeps one replica alive (see the module's rules). Runs on a thread of its own."""

    def __init__(
        self,
        replica: Kept,
        health: ContainerHealthCheckConfig,
        *,
        policy: CrashLoopPolicy,
        on_restart: Callable[[str], None],
        on_give_up: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replica = replica
        self.health = health
        self.policy = policy
        self.on_restart = on_restart
        self.on_give_up = on_give_up
        self.clock = clock
        self.restarted_at: collections.deque[float] = collections.deque()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name=f"keeper-{self.replica.index}", daemon=True)
        self.thread.start()

    def join(self, timeout: float) -> None:
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)

    def run(self) -> None:
        replica, health = self.replica, self.health
        failures = 0
        consecutive = 0
        starting_until: float | None = None  # the start period after a restart, while the replica is not ready yet
        while True:
            wake = replica.wait(READY_POLL_SECONDS if starting_until is not None else float(health.interval))
            if wake is Wake.STOP or replica.stop.is_set():
                return
            code = replica.exit_code()
            if code is not None:
                reason = f"replica {replica.index} exited with code {code}"
            else:
                problem = replica.check()
                if problem is None:
                    if wake is Wake.CHILD_EXITED or starting_until is not None:
                        replica.rewatch()  # what runs now: the processes a (re)start or a new session brought
                    failures, consecutive, starting_until = 0, 0, None
                    continue
                if starting_until is not None and self.clock() < starting_until:
                    continue  # still in its start period: a failure does not count
                starting_until = None
                failures += 1
                if wake is Wake.CHILD_EXITED:
                    reason = f"{replica.exits()} of replica {replica.index} exited; the replica no longer answers MCP"
                    reason += f" ({problem})"
                elif failures >= health.retries:
                    reason = f"replica {replica.index} failed {failures} liveness check(s) in a row: {problem}"
                else:
                    logger.warning("replica unhealthy", replica=replica.index, failures=failures, problem=problem)
                    continue
            if not self.restart(with_output(reason, replica.last_output()), consecutive):
                return
            consecutive += 1
            failures = 0
            starting_until = self.clock() + float(health.startPeriod)

    def restart(self, reason: str, consecutive: int) -> bool:
        """Restart after the backoff, unless this would make a crash loop (then give up). False: the keeper ends."""
        now = self.clock()
        while self.restarted_at and self.restarted_at[0] <= now - self.policy.window:
            self.restarted_at.popleft()
        if len(self.restarted_at) >= self.policy.restarts:
            window = f"{self.policy.window:g}s"
            self.on_give_up(f"crash loop: restarted {len(self.restarted_at)} times within {window}; last: {reason}")
            return False
        delay = self.policy.backoff(consecutive)
        if delay and self.replica.stop.wait(delay):
            return False
        if self.replica.stop.is_set():
            return False
        try:
            self.replica.relaunch()
        except OSError as error:
            self.on_give_up(f"replica {self.replica.index} cannot be restarted: {error}; before that: {reason}")
            return False
        self.restarted_at.append(self.clock())
        self.on_restart(reason)
        return True
