"""A client of the current MCP revision (2026-07-28) served by a server of the 2025 ones, on the same URL.

One module: the probe, the per-caller sessions and the bridge are one translation between revisions.

Most hosted servers speak only the 2025 revisions (every stdio server behind its bridge, most HTTP servers): a
session opened with `initialize`, server-to-client requests sent on the response stream. A 2026-07-28 client
sends stateless requests with its version and capabilities in `_meta`, expects `server/discover`, gets server
requests as `input_required` results (MRTR) and cancels by closing the stream. The gateway speaks each side's
revision:

- **Which servers.** A replica is asked `server/discover` once (`EraProbe`); a `DiscoverResult` naming 2026-07-28
  means the server is modern (its requests are relayed untouched), anything else means legacy (bridged here).
- **Sessions.** For each caller and replica the gateway holds one upstream 2025 session, opened on first use with
  every client capability (so the server offers what it would to a full client) and opened again if the replica
  loses it (HTTP 404). Callers never share a session. Request ids are the gateway's own upstream.
- **Answers.** Results get `resultType` and the server's identity in `_meta`; list and read results get
  `ttlMs`/`cacheScope`; the 2025 "resource not found" code becomes -32602. Progress for the request is relayed
  before the result; log messages only when the request asked for them (`io.modelcontextprotocol/logLevel`, which
  becomes `logging/setLevel` on the session).
- **Server requests (MRTR, `mrtr`).** When the server asks the client something (sampling, elicitation, roots)
  while answering, the exchange is parked and the client gets an `input_required` result; its retry picks the
  parked stream up where it stopped. A retry whose parked exchange is gone (expired, or another gateway process)
  is served as a new request, as the protocol allows.
- **`subscriptions/listen`** (`subscriptions`) opens a session of its own and relays the change notifications
  the client asked for.
- **Cancellation.** A client that closes its response stream ends the upstream exchange with
  `notifications/cancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from starlette.types import Receive, Send

from hosted_mcp_gateway import jsonrpc
from hosted_mcp_gateway.asgi import JSON_HEADERS, SSE_HEADERS, answer, background, disconnected
from hosted_mcp_gateway.forwarder import UpstreamError, UpstreamPool, exchange, split_url
from hosted_mcp_gateway.mcp_headers import MODERN_VERSIONS, PROTOCOL_VERSION_META, SUPPORTED_VERSIONS, body_name
from hosted_mcp_gateway.mrtr import Parked, ParkedExchanges
from hosted_mcp_gateway.subscriptions import listen
from hosted_mcp_gateway.upstream import (
    ACCEPT,
    BridgeError,
    Exchange,
    SessionLost,
    Transport,
    UpstreamSession,
    jsonrpc_messages,
    open_session,
)

logger = Logger(service="hosted-mcp-gateway", child=True)

MODERN_VERSION = MODERN_VERSIONS[0]
META_PREFIX = "io.modelcontextprotocol/"
CLIENT_INFO_META = META_PREFIX + "clientInfo"
CAPABILITIES_META = META_PREFIX + "clientCapabilities"
LOG_LEVEL_META = META_PREFIX + "logLevel"
SERVER_INFO_META = META_PREFIX + "serverInfo"
CAPABILITY_OF = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation", "roots/list": "roots"}
CACHEABLE = frozenset({"tools/list", "prompts/list", "resources/list", "resources/read", "resources/templates/list"})
MAX_SESSIONS = 10_000
SESSION_IDLE_SECONDS = 1800.0
PROBE_SECONDS = 5.0


# -- which servers speak which revision -------------------------------------------------------------------------


class EraProbe:
    """Whether a replica speaks 2026-07-28 itself, asked once per replica with `server/discover`."""

    def __init__(self, pool: UpstreamPool, path: str = "/mcp", limit: int = 4096) -> None:
        self._pool = pool
        self._path = path
        self._known: OrderedDict[str, bool] = OrderedDict()
        self._limit = limit

    async def is_modern(self, replica: str) -> bool:
        known = self._known.get(replica)
        if known is not None:
            return known
        modern = await self._ask(replica)
        self._known[replica] = modern
        while len(self._known) > self._limit:
            self._known.popitem(last=False)
        return modern

    async def _ask(self, replica: str) -> bool:
        message = {
            "jsonrpc": "2.0",
            "id": "era-probe",
            "method": "server/discover",
            "params": {"_meta": {PROTOCOL_VERSION_META: MODERN_VERSION, CAPABILITIES_META: {}}},
        }
        headers = [
            ("Content-Type", "application/json"),
            ("Accept", ACCEPT),
            ("MCP-Protocol-Version", MODERN_VERSION),
            ("Mcp-Method", "server/discover"),
        ]
        address, prefix = split_url(replica)
        try:
            answer = await asyncio.wait_for(
                exchange(self._pool, address, "POST", f"{prefix}{self._path}", headers, jsonrpc.dumps(message)),
                PROBE_SECONDS,
            )
            try:
                async for reply in jsonrpc_messages(answer):
                    if reply.get("id") == "era-probe":
                        versions = (reply.get("result") or {}).get("supportedVersions") or []
                        return MODERN_VERSION in versions
            finally:
                answer.close()  # back to the pool when it was read to the end, closed otherwise
        except (UpstreamError, OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            return False
        return False


# -- the bridge's sessions -------------------------------------------------------------------------------------------


class LegacySessions:
    """One upstream session per (replica, caller), opened on first use and forgotten when idle or lost."""

    def __init__(self, pool: UpstreamPool) -> None:
        self._pool = pool
        self._sessions: OrderedDict[tuple[str, str], UpstreamSession] = OrderedDict()
        self._opening: dict[tuple[str, str], asyncio.Lock] = {}

    def _usable(self, session: UpstreamSession | None) -> bool:
        return session is not None and session.alive and time.monotonic() - session.used < SESSION_IDLE_SECONDS

    async def get(self, call: Call) -> UpstreamSession:
        key = (call.replica, call.caller_key)
        session = self._sessions.get(key)
        if session is not None and self._usable(session):
            self._sessions.move_to_end(key)
            return session
        lock = self._opening.setdefault(key, asyncio.Lock())
        async with lock:
            session = self._sessions.get(key)
            if session is None or not self._usable(session):
                session, _ = await open_session(
                    self._pool,
                    call.replica,
                    call.path,
                    call.identity,
                    transport=call.transport,
                    client_info=call.meta.get(CLIENT_INFO_META),
                )
                self._sessions[key] = session
                while len(self._sessions) > MAX_SESSIONS:
                    _, evicted = self._sessions.popitem(last=False)
                    background(evicted.close(self._pool))
        self._opening.pop(key, None)
        return session

    def forget(self, session: UpstreamSession) -> None:
        for key, known in list(self._sessions.items()):
            if known is session:
                del self._sessions[key]
        background(session.close(self._pool))

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), OrderedDict()
        for session in sessions:
            with contextlib.suppress(Exception):
                await session.close(self._pool)


# -- the bridge ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One modern request for one replica, on behalf of one caller."""

    message: jsonrpc.Message
    replica: str
    path: str
    caller_key: str
    identity: list[tuple[str, str]]
    passed_on: list[tuple[str, str]] = field(default_factory=list)  # the client's mirrored and trace headers
    transport: Transport = "streamable"  # how the replica speaks: streamable HTTP, or the SSE transport

    @property
    def meta(self) -> dict[str, Any]:
        params = self.message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        return meta if isinstance(meta, dict) else {}

    @property
    def client_capabilities(self) -> dict[str, Any]:
        capabilities = self.meta.get(CAPABILITIES_META)
        return capabilities if isinstance(capabilities, dict) else {}

    @property
    def digest(self) -> str:
        return f"{self.message.get('method')}|{body_name(self.message) or ''}"


class ModernBridge:
    def __init__(self, pool: UpstreamPool, state_key: bytes) -> None:
        self.pool = pool
        self.sessions = LegacySessions(pool)
        self.parked = ParkedExchanges(pool, state_key)

    async def close(self) -> None:
        self.parked.close()
        await self.sessions.close()

    async def handle(self, call: Call, receive: Receive, send: Send) -> None:
        """Answer one modern request from a legacy replica, over ASGI."""
        method = call.message.get("method")
        if "id" not in call.message:  # the 2026 revision defines no client notifications over HTTP
            await answer(send, 202, [], b"")
            return
        try:
            if method == "server/discover":
                await self._discover(call, send)
            elif method == "subscriptions/listen":
                await listen(self.pool, call, receive, send)
            else:
                await self._request(call, receive, send)
        except (BridgeError, UpstreamError, OSError, asyncio.IncompleteReadError) as error:
            logger.warning("legacy server unreachable", replica=call.replica, error=str(error))
            body = jsonrpc.error(call.message.get("id"), jsonrpc.INTERNAL_ERROR, "The server did not answer")
            await answer(send, 502, [*JSON_HEADERS, (b"retry-after", b"5")], jsonrpc.dumps(body))

    # -- server/discover ------------------------------------------------------------------------------------------

    async def _discover(self, call: Call, send: Send) -> None:
        session = await self._session(call)
        result: dict[str, Any] = {
            "resultType": "complete",
            "supportedVersions": list(SUPPORTED_VERSIONS),
            "capabilities": session.capabilities,
            "_meta": {SERVER_INFO_META: session.server_info},
            "ttlMs": 0,
            "cacheScope": "private",
        }
        if session.instructions:
            result["instructions"] = session.instructions
        body = {"jsonrpc": "2.0", "id": call.message["id"], "result": result}
        await answer(send, 200, JSON_HEADERS, jsonrpc.dumps(body))

    # -- ordinary requests ----------------------------------------------------------------------------------------

    async def _session(self, call: Call) -> UpstreamSession:
        return await self.sessions.get(call)

    async def _request(self, call: Call, receive: Receive, send: Send) -> None:
        params = call.message.get("params")
        params = params if isinstance(params, dict) else {}
        parked = self.parked.resume(call.caller_key, call.digest, params.get("requestState"))
        if parked is not None:
            await self.parked.deliver_answers(parked, params.get("inputResponses") or {})
            await self._relay(call, parked.session, parked.upstream_id, parked.exchange, receive, send)
            return
        for attempt in range(2):
            session = await self._session(call)
            await self._apply_log_level(session, call)
            upstream_id = session.next_id()
            try:
                answer = await session.request(self.pool, _upstream_request(call.message, upstream_id), call.passed_on)
            except SessionLost:
                self.sessions.forget(session)  # the replica restarted: the next attempt opens a new session
                if attempt == 0:
                    continue
                raise BridgeError("the server lost the session twice") from None
            await self._relay(call, session, upstream_id, answer, receive, send)
            return

    async def _apply_log_level(self, session: UpstreamSession, call: Call) -> None:
        level = call.meta.get(LOG_LEVEL_META)
        if isinstance(level, str) and level != session.log_level and session.capabilities.get("logging") is not None:
            request = {
                "jsonrpc": "2.0",
                "id": session.next_id(),
                "method": "logging/setLevel",
                "params": {"level": level},
            }
            await session.send(self.pool, request)
            session.log_level = level

    async def _relay(
        self,
        call: Call,
        session: UpstreamSession,
        upstream_id: str,
        answer: Exchange,
        receive: Receive,
        send: Send,
    ) -> None:
        """Relay the upstream answer to `call` until its response (or a park); the client leaving cancels it."""
        out = _ClientAnswer(send, answer.streaming)
        relay = asyncio.ensure_future(self._translate(call, session, upstream_id, answer, out))
        watcher = asyncio.ensure_future(disconnected(receive))
        try:
            done, _ = await asyncio.wait({relay, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if relay in done:
                relay.result()
                return
            relay.cancel()  # the client closed its stream: that is cancellation (2026-07-28)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await relay
            answer.abort()
            cancelled = {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": upstream_id, "reason": "The client closed the response stream"},
            }
            with contextlib.suppress(UpstreamError, OSError, asyncio.IncompleteReadError):
                await session.send(self.pool, cancelled)
        finally:
            watcher.cancel()

    async def _translate(
        self,
        call: Call,
        session: UpstreamSession,
        upstream_id: str,
        answer: Exchange,
        out: _ClientAnswer,
    ) -> None:
        client_id = call.message["id"]
        logs_wanted = isinstance(call.meta.get(LOG_LEVEL_META), str)
        async for message in answer.messages():
            if jsonrpc.is_response(message) and (
                message.get("id") == upstream_id or (message.get("id") is None and "error" in message)
            ):
                await out.final(modern_response(message, client_id, call.message.get("method"), session.server_info))
                answer.finish()
                return
            if jsonrpc.is_notification(message):
                method = message["method"]
                if method == "notifications/progress" or (method == "notifications/message" and logs_wanted):
                    await out.event(message)
                continue
            if jsonrpc.is_request(message):
                if message["method"] == "ping":
                    await session.send(self.pool, {"jsonrpc": "2.0", "id": message["id"], "result": {}})
                    continue
                capability = CAPABILITY_OF.get(message["method"])
                if capability is None or capability not in call.client_capabilities:
                    refusal = jsonrpc.error(
                        message["id"], jsonrpc.METHOD_NOT_FOUND, f"The client does not support {message['method']}"
                    )
                    await session.send(self.pool, refusal)
                    continue
                parked = Parked(session, upstream_id, answer, call.caller_key, call.digest, question=message)
                await out.final(self.parked.park(parked, call.message["id"]))
                return
        answer.finish()
        error = jsonrpc.error(client_id, jsonrpc.INTERNAL_ERROR, "The server closed the stream without answering")
        await out.final(error)


# -- translation ------------------------------------------------------------------------------------------------


def _upstream_request(message: jsonrpc.Message, upstream_id: str) -> jsonrpc.Message:
    """The client's request as a 2025 server expects it: the gateway's id, no 2026 protocol fields or MRTR echo."""
    request = {"jsonrpc": "2.0", "id": upstream_id, "method": message["method"]}
    params = message.get("params")
    if isinstance(params, dict):
        params = {k: v for k, v in params.items() if k not in ("inputResponses", "requestState")}
        meta = params.get("_meta")
        if isinstance(meta, dict):
            kept = {k: v for k, v in meta.items() if not k.startswith(META_PREFIX)}
            if kept:
                params["_meta"] = kept
            else:
                params.pop("_meta")
        request["params"] = params
    return request


def modern_response(
    message: jsonrpc.Message, client_id: Any, method: Any, server_info: Mapping[str, Any]
) -> jsonrpc.Message:
    """A 2025 response as a 2026-07-28 client expects it (the client's id, `resultType`, the server's identity)."""
    if "error" in message:
        error = dict(message["error"] or {})
        if error.get("code") == jsonrpc.LEGACY_RESOURCE_NOT_FOUND:
            error["code"] = jsonrpc.INVALID_PARAMS
        return {"jsonrpc": "2.0", "id": client_id, "error": error}
    result = dict(message.get("result") or {})
    result.setdefault("resultType", "complete")
    result["_meta"] = {SERVER_INFO_META: dict(server_info), **(result.get("_meta") or {})}
    if method in CACHEABLE:
        result.setdefault("ttlMs", 0)
        result.setdefault("cacheScope", "private")
    return {"jsonrpc": "2.0", "id": client_id, "result": result}


class _ClientAnswer:
    """The client's answer: an event stream when the server streamed, one JSON body otherwise."""

    def __init__(self, send: Send, streaming: bool) -> None:
        self._send = send
        self._streaming = streaming
        self._started = False

    async def event(self, message: jsonrpc.Message) -> None:
        if not self._streaming:
            return  # a JSON answer has no room for notifications
        await self._start()
        await self._send({"type": "http.response.body", "body": jsonrpc.sse_event(message), "more_body": True})

    async def final(self, message: jsonrpc.Message) -> None:
        if self._streaming:
            await self._start()
            await self._send({"type": "http.response.body", "body": jsonrpc.sse_event(message), "more_body": False})
            return
        await answer(self._send, 200, JSON_HEADERS, jsonrpc.dumps(message))

    async def _start(self) -> None:
        if not self._started:
            self._started = True
            await self._send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})


# -- plumbing -------------------------------------------------------------------------------------------------------


def caller_key(username: str, groups: tuple[str, ...], credential_type: str) -> str:
    """Whose upstream session a request uses: the same identity always gets the same one, never another's."""
    return json.dumps([username, sorted(groups), credential_type], separators=(",", ":"))
