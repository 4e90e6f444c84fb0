"""The bridge: sessions, the children that serve them, and the two ways of pairing them.

- Per-session mode (`--child per-session`): a session's child starts when the session initializes (taken from
  `spare_children` started ahead, so a new session does not wait for the server to boot) and ends with the
  session: DELETE, idle timeout, the client leaving its HTTP+SSE stream, or the bridge stopping. When a
  session's child exits, that session ends (its next request gets 404, and the client starts a new one).
- Shared mode (`--child shared`): one child, initialized by the bridge itself; every session is answered from
  that one initialize. When the child exits, the bridge exits with EXIT_CHILD: the platform's supervisor (or
  ECS) restarts processes that exit, counts the restarts and backs off; a bridge restarting its child in place
  would hide the crash from it and could not keep the sessions anyway (the child's state is gone).

Liveness (`health`) does not lie: shared mode is healthy only while its child runs and has answered
initialize; per-session mode only while its last attempt to start a child did not fail (a spare that exits on
its own, or a child that exits before answering initialize, is a failed start).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from hosted_mcp_bridge.routing import Child, Session
from hosted_mcp_bridge.settings import LATEST_PROTOCOL_VERSION, ChildMode, Settings

logger = logging.getLogger("hosted_mcp_bridge")

EXIT_CHILD = 3
MAX_RESPAWN_DELAY = 30.0
REFILL_DELAY = 0.25


class Unavailable(Exception):
    """A session cannot be opened or served now (HTTP 503)."""


class Bridge:
    def __init__(self, settings: Settings, *, on_fatal: Callable[[int, str], None]) -> None:
        self.settings = settings
        self.shared = settings.child is ChildMode.SHARED
        self.on_fatal = on_fatal
        self.sessions: dict[str, Session] = {}
        self.shared_child: Child | None = None
        self.ready: asyncio.Future[None] | None = None
        self.spares: list[Child] = []
        self.children: set[Child] = set()
        self.start_failure: str | None = None
        self.stopping = False
        self.exit_code: int | None = None
        self._respawn_delay = 1.0
        self._respawn: asyncio.TimerHandle | None = None
        self._sweep: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- start and stop -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the child (shared) or the spares (per-session). OSError when the command cannot run at all."""
        self.loop = loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        if self.shared:
            child = await self._spawn()
            self.shared_child = child
            self._background(self._initialize_shared(child))
        else:
            await self._refill(raise_errors=True)
            self.ready.set_result(None)
        self._schedule_sweep()

    async def _initialize_shared(self, child: Child) -> None:
        assert self.ready is not None
        try:
            answer = await asyncio.wait_for(child.initialize(LATEST_PROTOCOL_VERSION), self.settings.init_timeout)
        except (TimeoutError, RuntimeError) as failure:
            reason = f"the server did not answer initialize: {failure or 'timed out'}"
            self.start_failure = reason
            if not self.ready.done():
                self.ready.set_exception(Unavailable(reason))
                self.ready.exception()  # retrieved: waiting sessions see it through bind()
            self.fatal(EXIT_CHILD, reason)
            return
        logger.info("server initialized version=%s pid=%s", answer.get("protocolVersion"), child.pid)
        self.ready.set_result(None)

    def begin_stop(self) -> None:
        """End every session and stream now (the HTTP server then drains at once)."""
        self.stopping = True
        for session in list(self.sessions.values()):
            self.end_session(session)

    async def stop(self) -> None:
        self.begin_stop()
        for timer in (self._respawn, self._sweep):
            if timer is not None:
                timer.cancel()
        children = [c for c in self.children if c.process is not None]
        await asyncio.gather(*(c.process.stop(self.settings.stop_grace) for c in children if c.process is not None))
        for task in list(self._tasks):
            task.cancel()

    def fatal(self, code: int, reason: str) -> None:
        if self.exit_code is None:
            logger.error("exiting code=%d reason=%s", code, reason)
            self.exit_code = code
        self.begin_stop()
        self.on_fatal(code, reason)

    # -- sessions -------------------------------------------------------------------------------------------

    def open_session(self, *, legacy: bool) -> Session:
        if self.stopping:
            raise Unavailable("the bridge is stopping")
        if len(self.sessions) >= self.settings.max_sessions:
            raise Unavailable(f"too many sessions (the limit is {self.settings.max_sessions})")
        session = Session(
            secrets.token_hex(16),
            legacy=legacy,
            backlog=self.settings.backlog,
            max_in_flight=self.settings.max_in_flight,
        )
        self.sessions[session.id] = session
        return session

    async def bind(self, session: Session) -> Child:
        """The child that serves `session`, started (per-session) or ready (shared) by the time it returns."""
        if session.child is not None:
            return session.child
        if self.shared:
            assert self.ready is not None
            try:
                await asyncio.wait_for(asyncio.shield(self.ready), self.settings.init_timeout)
            except TimeoutError as failure:
                raise Unavailable("the server is still starting") from failure
            assert self.shared_child is not None
            child = self.shared_child
        else:
            child = await self._take_spare()
            # The next spare is started a moment later: starting a process blocks the event loop for a few
            # milliseconds, which the new session's initialize would otherwise wait for.
            self._refill_later(REFILL_DELAY)
        if session.ended:
            raise Unavailable("the session ended")
        child.join(session)
        return child

    def end_session(self, session: Session) -> None:
        if session.ended:
            return
        session.ended = True
        self.sessions.pop(session.id, None)
        child = session.child
        if child is not None:
            child.leave(session)
            if not child.shared and child.process is not None:
                self._background(child.process.stop(self.settings.stop_grace))
        if session.standalone is not None:
            session.standalone.finish()

    def _schedule_sweep(self) -> None:
        every = min(60.0, max(0.5, self.settings.session_idle_timeout / 4))
        self._sweep = asyncio.get_running_loop().call_later(every, self._sweep_idle)

    def _sweep_idle(self) -> None:
        now = time.monotonic()
        for session in list(self.sessions.values()):
            streaming = session.standalone is not None and session.standalone.open
            if session.busy() or streaming:
                continue
            if now - session.last_seen >= self.settings.session_idle_timeout:
                logger.info("session idle, ended session=%s", session.id)
                self.end_session(session)
        if not self.stopping:
            self._schedule_sweep()

    # -- children -------------------------------------------------------------------------------------------

    async def _spawn(self) -> Child:
        child = Child(
            shared=self.shared,
            on_exit=self._child_exited,
            on_initialized=self._child_initialized,
            max_unsent=self.settings.max_queued_bytes,
        )
        await child.spawn(list(self.settings.command), self.settings.max_message_bytes)
        self.children.add(child)
        return child

    async def _take_spare(self) -> Child:
        """A spare child if one is still running, else a child started now."""
        spare = next((c for c in self.spares if c.alive), None)
        if spare is not None:
            self.spares.remove(spare)
            return spare
        try:
            return await self._spawn()
        except OSError as failure:
            raise Unavailable(f"the server could not be started: {failure}") from failure

    async def _refill(self, *, raise_errors: bool = False) -> None:
        """Per-session mode: start spares until there are `spare_children` of them."""
        while not self.stopping and len(self.spares) < self.settings.spare_children:
            try:
                child = await self._spawn()
            except OSError as failure:
                self.start_failure = f"the server could not be started: {failure}"
                if raise_errors:
                    raise
                self._retry_refill()
                return
            self.spares.append(child)

    def _retry_refill(self) -> None:
        """After a failed start: try again later, waiting longer after each failure in a row."""
        if self._respawn is None:
            self._refill_later(self._respawn_delay)
            self._respawn_delay = min(MAX_RESPAWN_DELAY, self._respawn_delay * 2)

    def _refill_later(self, delay: float) -> None:
        if self._respawn is not None or self.stopping or self.settings.spare_children == 0:
            return

        def refill() -> None:
            self._respawn = None
            self._background(self._refill())

        self._respawn = asyncio.get_running_loop().call_later(delay, refill)

    def _child_initialized(self, child: Child) -> None:
        self.start_failure = None
        self._respawn_delay = 1.0

    def _child_exited(self, child: Child) -> None:
        self.children.discard(child)
        code = child.process.returncode if child.process is not None else None
        if self.shared:
            if not self.stopping:
                self.fatal(EXIT_CHILD, f"the server process exited (code {code})")
            return
        for session in list(child.sessions.values()):
            self.end_session(session)
        if self.stopping:
            return
        if child in self.spares:
            self.spares.remove(child)
            self.start_failure = f"a started server exited (code {code}) before any session used it"
            logger.warning("spare server exited code=%s", code)
            self._retry_refill()
        elif not child.answered_initialize:
            self.start_failure = f"the server exited (code {code}) before answering initialize"
            logger.warning("server exited before answering initialize code=%s", code)

    def _background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- liveness -------------------------------------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        detail: dict[str, Any] = {"mode": self.settings.child.value, "sessions": len(self.sessions)}
        if self.stopping:
            return False, {**detail, "status": "stopping"}
        if self.shared:
            child = self.shared_child
            ready = self.ready is not None and self.ready.done() and not self.ready.exception()
            alive = child is not None and child.alive
            detail["child"] = {"pid": child.pid if child else None, "running": alive, "initialized": ready}
            if not alive:
                return False, {**detail, "status": "the server process is not running"}
            if not ready:
                return False, {**detail, "status": self.start_failure or "starting"}
            return True, {**detail, "status": "ok"}
        detail["children"] = sum(1 for c in self.children if c.alive)
        detail["spares"] = sum(1 for c in self.spares if c.alive)
        if self.start_failure is not None:
            return False, {**detail, "status": self.start_failure}
        return True, {**detail, "status": "ok"}
