"""Routing between MCP sessions and one child: what goes in, and which session each line that comes out is for.

One module: a `Child` owns the maps that route its lines (ids, tokens, asks), read and written per line.

A `Child` serves one session (per-session mode) or all of them (shared mode). Client messages are forwarded as
lines; each line the child writes is routed synchronously as it is read.

What the wire says exactly, the bridge routes exactly:
- an answer goes to the request it answers, by id. In shared mode the bridge gives every request an id of its
  own on the way in (so two sessions that both use id 1 never collide) and puts the client's id back on the way
  out, without parsing the answer (see `jsonrpc.response_id`);
- progress goes to the request whose progress token it carries (shared mode rewrites tokens like ids);
- a cancellation from the child goes to the session its cancelled request was sent to; a client's answer to a
  server→client request reaches the child only from the session that was asked;
- `notifications/*/list_changed` goes to every session; `notifications/resources/updated` to the sessions that
  subscribed to that URI (shared mode keeps the subscriptions per session; the child sees one per URI).

What the wire does not say, stdio does not carry: a logging notification or a server→client request
(`sampling/createMessage`, `elicitation/create`, `roots/list`) names no request it belongs to. The rule:
- It belongs to the one session that has requests in flight, and travels on the stream of that session's most
  recent request still open (else on its standalone stream). In shared mode a server→client request is refused
  when that session's client did not declare the capability it needs (the bridge declared them all to the
  child). `ping` is answered by the bridge itself, the child's peer on stdio.
- With no request in flight anywhere, a logging notification goes to every session (it is about the server), and
  a server→client request to the only session, if there is just one.
- Otherwise (shared mode only: requests of several sessions in flight, or none in flight among several
  sessions) the bridge cannot tell, and does not guess, since a wrong guess shows one user's data to another. A
  server→client request is refused to the child with an error (the tool sees "cannot tell which session this is
  for"), and a logging notification goes to no session but to the bridge's stderr, where the server's log keeps
  it. Per-session mode never has this ambiguity: its child serves one session.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hosted_mcp_bridge import jsonrpc
from hosted_mcp_bridge.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, LOG_LEVELS, LOG_RANK, dump, error, result
from hosted_mcp_bridge.outlet import Outlet
from hosted_mcp_bridge.process import ChildProcess

logger = logging.getLogger("hosted_mcp_bridge")

CAPABILITY = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation", "roots/list": "roots"}
LIST_CHANGED = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    }
)
# Capabilities a shared child's sessions cannot share safely: tasks are listed and fetched by id across the whole
# server, so one session could see another's. Shared mode does not advertise them.
UNSHARED_CAPABILITIES = ("tasks",)
MAX_ASKED = 1024  # the child's requests to clients that may await an answer at once
BRIDGE_INFO = {"name": "hosted-mcp-bridge", "version": "1"}
# What the bridge declares to a shared child: everything a client may support. Each session's own declaration is
# checked before a server→client request is handed to it.
SHARED_CLIENT_CAPABILITIES = {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {"form": {}, "url": {}}}


@dataclass(eq=False, slots=True)
class Pending:
    """A client request the child has not answered yet."""

    session: Session
    client_id: Any  # as the client sent it
    outlet: Outlet  # where its answer goes
    token: Any = None  # its progress token as the client sent it
    child_id: Any = None  # its id as the child sees it
    child_token: Any = None  # its progress token as the child sees it
    initialize: bool = False


class Session:
    """One MCP session (streamable HTTP `Mcp-Session-Id`, or an HTTP+SSE `session_id`)."""

    def __init__(self, session_id: str, *, legacy: bool, backlog: int, max_in_flight: int) -> None:
        self.id = session_id
        self.legacy = legacy  # the HTTP+SSE transport: one stream carries everything
        self.child: Child | None = None
        self.version: str | None = None  # negotiated protocol version, once initialize was answered
        self.capabilities: dict[str, Any] = {}  # what the client declared (shared mode checks it)
        self.log_rank: int | None = None  # the level the client set (shared mode filters by it)
        self.subscriptions: set[str] = set()  # resource URIs (shared mode)
        self.inflight: dict[Any, Pending] = {}  # by the client's id, in the order they were sent
        self.max_in_flight = max_in_flight
        self.standalone: Outlet | None = None
        self.backlog: deque[bytes] = deque(maxlen=backlog)  # for the standalone stream, while none is open
        self.dropped = 0  # backlog messages lost because it was full
        self.last_seen = time.monotonic()
        self.ended = False

    def busy(self) -> bool:
        return bool(self.inflight)

    def related_outlet(self) -> Outlet | None:
        """The stream of this session's most recent request still open, for messages related to its work."""
        for pending in reversed(self.inflight.values()):
            if pending.outlet.streams:
                return pending.outlet
        return None

    def send_related(self, line: bytes) -> None:
        outlet = self.related_outlet()
        if outlet is None or not outlet.put(line):
            self.send_unsolicited(line)

    def send_unsolicited(self, line: bytes) -> None:
        """On the standalone stream; kept (bounded, oldest dropped first) until one opens."""
        standalone = self.standalone
        if standalone is not None and standalone.put(line):
            return
        if len(self.backlog) == self.backlog.maxlen:
            self.dropped += 1
        self.backlog.append(line)

    def attach(self, outlet: Outlet) -> None:
        """A new standalone stream replaces the previous one (a client reconnecting), and gets the backlog."""
        previous = self.standalone
        if previous is not None and previous is not outlet:
            previous.finish()
        self.standalone = outlet
        while self.backlog and outlet.put(self.backlog.popleft()):
            pass

    def detach(self, outlet: Outlet) -> None:
        if self.standalone is outlet:
            self.standalone = None
        self.last_seen = time.monotonic()


class Child:
    """A child process and the sessions it serves, with the maps that route its lines."""

    def __init__(
        self,
        *,
        shared: bool,
        on_exit: Callable[[Child], None],
        on_initialized: Callable[[Child], None] = lambda child: None,
        max_unsent: int = 32 << 20,
    ) -> None:
        self.shared = shared
        self.max_unsent = max_unsent  # bytes written to the child's stdin it has not read yet
        self.on_exit = on_exit
        self.on_initialized = on_initialized
        self.process: ChildProcess | None = None
        self.sessions: dict[str, Session] = {}
        self.pending: dict[Any, Pending] = {}  # by the id the child sees
        self.tokens: dict[Any, Pending] = {}  # by the progress token the child sees
        self.asked: dict[Any, Session] = {}  # the child's requests to clients, by their id: who was asked
        self.own: dict[Any, asyncio.Future[dict[str, Any]]] = {}  # the bridge's own requests (shared mode)
        self.next_id = 0
        self.initialized: dict[str, Any] | None = None  # the child's answer to the bridge's initialize (shared)
        self.session_answer: dict[str, Any] | None = None  # what sessions are told instead (shared)
        self.answered_initialize = False

    async def spawn(self, command: list[str], max_line: int) -> None:
        self.process = await ChildProcess.start(
            command, max_line=max_line, on_line=self.route, on_oversize=self.oversize, on_exit=self._exited
        )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def write(self, line: bytes) -> bool:
        return self.process is not None and self.process.write(line)

    # -- the bridge's own requests (shared mode) ---------------------------------------------------------------

    def ask(self, method: str, params: dict[str, Any]) -> asyncio.Future[dict[str, Any]]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.own[self.next_id] = future
        self.write(dump({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}))
        return future

    async def initialize(self, version: str) -> dict[str, Any]:
        """The bridge's one initialize of a shared child; what later sessions are answered from."""
        params = {"protocolVersion": version, "capabilities": SHARED_CLIENT_CAPABILITIES, "clientInfo": BRIDGE_INFO}
        answer = await self.ask("initialize", params)
        if "result" not in answer or not isinstance(answer["result"], dict):
            raise RuntimeError(f"the server refused initialize: {answer.get('error')}")
        self.initialized = answer["result"]
        self.answered_initialize = True
        self.on_initialized(self)
        shown = dict(self.initialized)
        capabilities = shown.get("capabilities")
        if isinstance(capabilities, dict):
            shown["capabilities"] = {k: v for k, v in capabilities.items() if k not in UNSHARED_CAPABILITIES}
        self.session_answer = shown
        self.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        return self.initialized

    # -- client → child ----------------------------------------------------------------------------------------

    def request(self, session: Session, message: dict[str, Any], raw: bytes | None, outlet: Outlet) -> bytes | None:
        """Forward a client's request. Returns the answer to give the client at once instead, if any."""
        client_id = message["id"]
        if client_id in session.inflight:
            return error(client_id, INVALID_REQUEST, "a request with this id is already in flight in this session")
        if len(session.inflight) >= session.max_in_flight:
            return error(client_id, INTERNAL_ERROR, "too many requests in flight in this session")
        if not self.alive:
            return error(client_id, INTERNAL_ERROR, "the MCP server process has exited")
        if self.process is not None and self.process.unsent() > self.max_unsent:
            return error(client_id, INTERNAL_ERROR, "the MCP server is not reading its input")
        method = message["method"]
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if token is not None and (not isinstance(token, int | float | str) or isinstance(token, bool)):
            return error(client_id, jsonrpc.INVALID_PARAMS, "a progress token is a string or a number")
        pending = Pending(session, client_id, outlet, token)
        if self.shared:
            local = self._shared_request(session, method, message)
            if local is not None:
                return local
            self.next_id += 1
            pending.child_id = message["id"] = self.next_id
            if token is not None:
                assert isinstance(meta, dict)
                pending.child_token = meta["progressToken"] = self.next_id
            line = dump(message)
        else:
            pending.child_id = client_id
            pending.child_token = token
            pending.initialize = method == "initialize"
            line = jsonrpc.one_line(raw) if raw is not None else dump(message)
            if token is not None and token in self.tokens:
                return error(client_id, INVALID_REQUEST, "this progress token is already in use")
        if pending.child_token is not None:
            self.tokens[pending.child_token] = pending
        self.pending[pending.child_id] = pending
        session.inflight[client_id] = pending
        self.write(line)
        return None

    def _shared_request(self, session: Session, method: str, message: dict[str, Any]) -> bytes | None:
        """What shared mode answers itself or adjusts before forwarding (one child, many clients)."""
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "initialize":
            assert self.session_answer is not None
            capabilities = params.get("capabilities")
            session.capabilities = capabilities if isinstance(capabilities, dict) else {}
            session.version = self.session_answer.get("protocolVersion")
            return result(message["id"], self.session_answer)
        if method == "logging/setLevel":
            rank = LOG_RANK.get(params.get("level"))  # type: ignore[arg-type]
            if rank is None:
                return error(message["id"], jsonrpc.INVALID_PARAMS, "unknown logging level")
            session.log_rank = rank
            floor = min(s.log_rank for s in self.sessions.values() if s.log_rank is not None)
            params["level"] = LOG_LEVELS[floor]  # the child logs what the most verbose session wants
        elif method == "resources/subscribe" and isinstance(params.get("uri"), str):
            session.subscriptions.add(params["uri"])
        elif method == "resources/unsubscribe" and isinstance(params.get("uri"), str):
            session.subscriptions.discard(params["uri"])
            if any(params["uri"] in s.subscriptions for s in self.sessions.values()):
                return result(message["id"], {})  # another session still wants updates of it
        return None

    def notify(self, session: Session, message: dict[str, Any], raw: bytes | None) -> None:
        method = message.get("method")
        line = jsonrpc.one_line(raw) if raw is not None else None
        if method == "notifications/initialized" and self.shared:
            return  # the bridge initialized the shared child once, itself
        if method == "notifications/cancelled":
            params = message.get("params")
            request_id = params.get("requestId") if isinstance(params, dict) else None
            pending = session.inflight.get(request_id) if isinstance(request_id, int | str) else None
            if pending is None:
                if self.shared:
                    return  # not one of this session's requests in flight: nothing to cancel
            else:
                self._forget(pending)
                pending.outlet.withdraw()
                if self.shared:
                    assert isinstance(params, dict)
                    params["requestId"] = pending.child_id
                    line = None
        self.write(line if line is not None else dump(message))

    def reply(self, session: Session, message: dict[str, Any], raw: bytes | None) -> None:
        """A client's answer to one of the child's requests: forwarded only from the session that was asked."""
        answer_id = message.get("id")
        if not isinstance(answer_id, int | str) or self.asked.get(answer_id) is not session:
            logger.warning("dropped an answer to a request this session was not asked session=%s", session.id)
            return
        del self.asked[answer_id]
        self.write(jsonrpc.one_line(raw) if raw is not None else dump(message))

    def _forget(self, pending: Pending) -> None:
        pending.session.inflight.pop(pending.client_id, None)
        self.pending.pop(pending.child_id, None)
        if pending.child_token is not None:
            self.tokens.pop(pending.child_token, None)

    # -- child → clients -----------------------------------------------------------------------------------------

    def route(self, line: bytes) -> None:
        """Route one line the child wrote."""
        span = jsonrpc.response_id(line)
        if span is not None:
            try:
                child_id = jsonrpc.id_value(line[span[0] : span[1]])
            except ValueError:
                span = None
            else:
                self._answered(child_id, line, span, None)
                return
        try:
            message = json.loads(line)
        except ValueError:
            logger.warning("dropped a line from the server that is not JSON bytes=%d", len(line))
            return
        if isinstance(message, list):  # a batch (2025-03-26): each message on its own
            for item in message:
                if isinstance(item, dict):
                    self._route_message(item, dump(item))
        elif isinstance(message, dict):
            self._route_message(message, line)

    def _route_message(self, message: dict[str, Any], line: bytes) -> None:
        method = message.get("method")
        if not isinstance(method, str):
            if "id" in message and ("result" in message or "error" in message):
                self._answered(message["id"], line, None, message)
            return
        if "id" in message:
            self._child_request(message, line, method)
        else:
            self._notification(message, line, method)

    def _answered(
        self, child_id: Any, line: bytes, span: tuple[int, int] | None, message: dict[str, Any] | None
    ) -> None:
        if not isinstance(child_id, int | str):
            logger.warning("dropped an answer without a usable id")
            return
        own = self.own.pop(child_id, None) if self.shared else None
        if own is not None:
            if not own.done():
                own.set_result(message if message is not None else json.loads(line))
            return
        pending = self.pending.pop(child_id, None)
        if pending is None:
            return  # the request was cancelled, or its session ended: nobody waits for this answer
        self._forget(pending)
        if self.shared:
            if span is not None:  # joined from a view: a large answer is copied once, not sliced and copied again
                line = b"".join((line[: span[0]], dump(pending.client_id), memoryview(line)[span[1] :]))
            else:
                assert message is not None
                message["id"] = pending.client_id
                line = dump(message)
        elif pending.initialize:
            self._adopt_initialize(pending.session, message if message is not None else json.loads(line))
        pending.outlet.answer(line)

    def _adopt_initialize(self, session: Session, message: dict[str, Any]) -> None:
        answer = message.get("result")
        if isinstance(answer, dict):
            version = answer.get("protocolVersion")
            session.version = version if isinstance(version, str) else None
            if not self.answered_initialize:
                self.answered_initialize = True
                self.on_initialized(self)

    def _child_request(self, message: dict[str, Any], line: bytes, method: str) -> None:
        request_id = message["id"]
        if method == "ping":
            self.write(result(request_id, {}))
            return
        session, reason = self._attribute(CAPABILITY.get(method))
        if session is None:
            logger.warning("refused a request of the server method=%s reason=%s", method, reason)
            self.write(error(request_id, INTERNAL_ERROR, f"hosted-mcp-bridge: {reason}"))
            return
        if len(self.asked) >= MAX_ASKED:
            self.write(error(request_id, INTERNAL_ERROR, "hosted-mcp-bridge: too many requests await clients"))
            return
        if isinstance(request_id, int | str):
            self.asked[request_id] = session
        session.send_related(line)

    def _attribute(self, capability: str | None) -> tuple[Session | None, str]:
        """The session a server→client request belongs to (see the module's rules), or why there is none."""
        sessions = [s for s in self.sessions.values() if not s.ended]
        busy = [s for s in sessions if s.busy()]
        if len(busy) > 1:
            return None, f"cannot tell which session this is for: requests of {len(busy)} sessions are in flight"
        if busy:
            chosen = busy[0]
        elif len(sessions) == 1:
            chosen = sessions[0]
        else:
            return None, f"cannot tell which session this is for: no request is in flight in {len(sessions)} sessions"
        if self.shared and capability is not None and capability not in chosen.capabilities:
            return None, f"the client of this session did not declare the {capability} capability"
        return chosen, ""

    def _notification(self, message: dict[str, Any], line: bytes, method: str) -> None:
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "notifications/progress":
            pending = self.tokens.get(params.get("progressToken"))
            if pending is None:
                return  # its request was answered or cancelled: progress must stop there
            if self.shared:
                params["progressToken"] = pending.token
                line = dump(message)
            outlet = pending.outlet  # its request's stream; a JSON-only answer cannot carry it
            if not (outlet.streams and outlet.put(line)):
                pending.session.send_unsolicited(line)
        elif method in LIST_CHANGED:
            for session in self.sessions.values():
                session.send_unsolicited(line)
        elif method == "notifications/resources/updated":
            uri = params.get("uri")
            for session in self.sessions.values():
                if not self.shared or uri in session.subscriptions:
                    session.send_unsolicited(line)
        elif method == "notifications/cancelled":  # the child withdraws one of its own requests
            request_id = params.get("requestId")
            asked = self.asked.pop(request_id, None) if isinstance(request_id, int | str) else None
            if asked is not None:
                asked.send_related(line)
        else:  # logging and anything else that names no request
            self._unattributed(method, params, line)

    def _unattributed(self, method: str, params: dict[str, Any], line: bytes) -> None:
        rank = LOG_RANK.get(params.get("level"), 0) if method == "notifications/message" else None  # type: ignore[arg-type]
        sessions = [s for s in self.sessions.values() if not s.ended]
        busy = [s for s in sessions if s.busy()]
        if len(busy) > 1:
            logger.warning(
                "unattributed %s (requests of %d sessions in flight): %s",
                method,
                len(busy),
                line[:2000].decode(errors="replace"),
            )
            return
        for session in busy or sessions:
            if rank is not None and self.shared and session.log_rank is not None and rank < session.log_rank:
                continue
            if busy:
                session.send_related(line)
            else:
                session.send_unsolicited(line)

    def oversize(self, head: bytes) -> None:
        """A line longer than the limit was skipped: if it was an answer, its request is told why."""
        span = jsonrpc.response_id(head)
        logger.warning("skipped a line from the server longer than the limit head_bytes=%d", len(head))
        if span is None:
            return
        try:
            child_id = jsonrpc.id_value(head[span[0] : span[1]])
        except ValueError:
            return
        pending = self.pending.get(child_id) if isinstance(child_id, int | str) else None
        if pending is not None:
            self._forget(pending)
            pending.outlet.answer(
                error(pending.client_id, INTERNAL_ERROR, "the server's answer is larger than the bridge's line limit")
            )

    # -- sessions and the end -------------------------------------------------------------------------------

    def join(self, session: Session) -> None:
        session.child = self
        self.sessions[session.id] = session

    def leave(self, session: Session) -> None:
        """A session ended: its requests in flight are cancelled, the child's questions to it refused."""
        for pending in list(session.inflight.values()):
            self._forget(pending)
            pending.outlet.withdraw()
            if self.shared and self.alive:
                cancel = {"requestId": pending.child_id, "reason": "the client session ended"}
                self.write(dump({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": cancel}))
        for request_id, asked in list(self.asked.items()):
            if asked is session:
                del self.asked[request_id]
                self.write(error(request_id, INTERNAL_ERROR, "hosted-mcp-bridge: the client session ended"))
        self.sessions.pop(session.id, None)

    def _exited(self, returncode: int | None) -> None:
        for pending in list(self.pending.values()):
            self._forget(pending)
            pending.outlet.answer(
                error(pending.client_id, INTERNAL_ERROR, f"the MCP server process exited (code {returncode})")
            )
        for future in self.own.values():
            if not future.done():
                future.set_exception(RuntimeError(f"the MCP server process exited (code {returncode})"))
        self.own.clear()
        self.asked.clear()
        self.on_exit(self)
