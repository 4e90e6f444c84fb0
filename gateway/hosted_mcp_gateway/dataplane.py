"""The data plane of one gateway: `/mcp/{name}/...` from the client to a replica of the server and back.

One module: a request's path, in order; each rule on it already lives in a module of its own.

For each request, in order: Host and Origin (`trusted_host`); a CORS preflight is answered here (`cors`); the
shared decision names the caller and the server or refuses (`hosted_mcp.auth.decision`, the AWS authorizer's
own); the server must be in service with a replica; a POST to the MCP endpoint is read and its mirrored headers
checked (`mcp_headers`). Then:

| request                                             | where it goes                                           |
|-----------------------------------------------------|---------------------------------------------------------|
| 2026-07-28, server speaks it too                    | relayed to a replica taken in turn                      |
| 2026-07-28, server speaks only 2025 revisions       | `eras.ModernBridge` on a replica taken in turn          |
| 2025 revisions with a session id                    | relayed to the replica the (sealed) session id names    |
| 2025 revisions without (initialize, GET, ...)       | relayed to a replica taken in turn; its session id sealed |
| SSE `GET .../sse`                                   | relayed; its `endpoint` event replaced (`sse_endpoint`)  |
| SSE `POST .../messages/?endpoint=...`               | the replica, path and query that endpoint stands for    |

Every upstream request carries the caller's identity headers and never the caller's credential (unless the server
opted in), by `hosted_mcp.auth.forwarding`. Answers are streamed as they arrive, never buffered whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, quote

from aws_lambda_powertools import Logger
from starlette.types import Receive, Scope, Send

from hosted_mcp.api.errors import error_response
from hosted_mcp.auth.decision import Decision
from hosted_mcp.auth.forwarding import forwarded_authorization, identity_headers, upstream_headers
from hosted_mcp.endpoints import upstream_path
from hosted_mcp.errors import DomainError, Forbidden, NotFound
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp.models.fields import ServerStatus, ServerType
from hosted_mcp_gateway import cors, jsonrpc
from hosted_mcp_gateway.asgi import answer, problem, with_headers
from hosted_mcp_gateway.calls import CallGate
from hosted_mcp_gateway.eras import Call, EraProbe, ModernBridge, caller_key
from hosted_mcp_gateway.forwarder import (
    UpstreamError,
    UpstreamPool,
    exchange,
    read_body,
    request_body,
    split_url,
    stream_answer,
)
from hosted_mcp_gateway.legacy_front import LegacyFront
from hosted_mcp_gateway.mcp_headers import HeaderProblem, McpRequest, validate
from hosted_mcp_gateway.sessions import PinnedSession, SessionIds
from hosted_mcp_gateway.sse_endpoint import ENDPOINT_PARAM, SseEndpoints
from hosted_mcp_gateway.trusted_host import TrustedHosts

logger = Logger(service="hosted-mcp-gateway", child=True)

Decide = Callable[[str, str, Mapping[str, str]], Decision]
Replicas = Callable[[ServerRecord], list[str]]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "origin",
        "referer",
        "mcp-session-id",
    }
)
RESPONSE_DROPPED = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"server", b"date", b"mcp-session-id"}
)
RETRY_AFTER_SECONDS = {ServerStatus.STOPPED: 30, ServerStatus.FAILED: 60}
SMALL_BODY_BYTES = 1 << 20
MAX_MESSAGE_BYTES = 8 << 20
PATH_SAFE = "/:@!$&'()*+,;="  # RFC 3986 `pchar` without `%`: the rest of an authorized path is percent-encoded
PASSED_ON = frozenset({"mcp-method", "mcp-name", "traceparent", "tracestate", "baggage"})  # to a bridged server


@dataclass(frozen=True)
class Target:
    """Where one request goes: a replica, the path and query there, and the replica's own session id if any."""

    replica: str
    target: str
    upstream_session: str | None = None


@dataclass(frozen=True)
class Exchange:
    """One data-plane request once the caller may use the server: the ASGI triple, its headers, who asks, the
    server and its replicas, the rest of the path and the query, and the CORS headers its answers carry."""

    scope: Scope
    receive: Receive
    send: Send
    headers: dict[str, str]
    record: ServerRecord
    caller: Caller
    replicas: list[str]
    rest: str
    query: str
    grant: list[tuple[bytes, bytes]]

    @property
    def caller_key(self) -> str:
        return caller_key(self.caller.username, self.caller.groups, self.caller.credentialType)

    def identity(self) -> list[tuple[str, str]]:
        """What a server hears about the caller on requests the gateway makes for it (and the token, if opted
        in)."""
        identity = list(identity_headers(self.caller).items())
        token = forwarded_authorization(
            self.headers.get("authorization"), forward_caller_token=self.record.spec.forwardCallerToken
        )
        return identity + ([("Authorization", token)] if token else [])


class DataPlane:
    def __init__(
        self,
        *,
        decide: Decide,
        replicas: Replicas,
        hosts: TrustedHosts,
        key: bytes,
        pool: UpstreamPool | None = None,
        unavailable: Callable[[ServerRecord], str] | None = None,
        calls: CallGate | None = None,
    ) -> None:
        self.decide = decide
        self.replicas = replicas
        self.unavailable = unavailable or (lambda record: "no replica is answering right now")
        self.hosts = hosts
        self.pool = pool or UpstreamPool()
        self.sessions = SessionIds(key)
        self.endpoints = SseEndpoints(key)
        self.bridge = ModernBridge(self.pool, key)
        self.front = LegacyFront(self.pool)
        self.eras = EraProbe(self.pool)
        self.calls = calls or CallGate()

    async def close(self) -> None:
        await self.bridge.close()
        await self.front.close()
        self.pool.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send, rest: str) -> None:
        method: str = scope["method"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if (bad := self.hosts.problem(headers)) is not None:
            await problem(send, *bad)
            return
        if cors.is_preflight(method, headers):
            status, granted = cors.preflight(headers, self.hosts)
            await answer(send, status, granted, b"")
            return
        try:
            decision = self.decide(method, scope["path"], headers)
        except DomainError as error:
            await domain_error(send, error)
            return
        if decision.missing is not None:
            await domain_error(send, NotFound(f"No hosted MCP server named {decision.missing}"))
            return
        caller, record = decision.caller, decision.server
        if caller is None or record is None:  # only a management route's decision names no server
            await domain_error(send, Forbidden("No such route"))
            return
        replicas = self.replicas(record)
        if record.status is not ServerStatus.IN_SERVICE or not replicas:
            await self._not_in_service(send, record, bool(replicas))
            return
        first = rest.split("/", 1)[0]
        if method == "GET":
            send = self.calls.watch_stream(record, caller, send, sse_transport=first == "sse")
        ex = Exchange(
            scope=scope,
            receive=receive,
            send=send,
            headers=headers,
            record=record,
            caller=caller,
            replicas=replicas,
            rest=rest,
            query=scope.get("query_string", b"").decode("latin-1"),
            grant=cors.grant(headers.get("origin"), self.hosts),
        )
        if first == "mcp" and record.spec.serverType is ServerType.SSE and method != "POST":
            await self._sse_server_session(ex)
        elif first == "mcp" and method == "POST":
            await self._mcp_post(ex)
        elif first == "messages" and ENDPOINT_PARAM in parse_qs(ex.query):
            await self._sse_message(ex)
        else:
            pinned = self.sessions.inward(record.id, headers.get("mcp-session-id"), replicas)
            replica = pinned.replica if pinned else self.sessions.next_replica(record.id, replicas)
            target = Target(replica, _target(rest, ex.query), pinned.upstream_id if pinned else None)
            body = await _request_body(scope, receive, headers)
            await self._relay(ex, target, body, sse=first == "sse")

    # -- the MCP endpoint --------------------------------------------------------------------------------------

    async def _mcp_post(self, ex: Exchange) -> None:
        body = await read_body(ex.receive, limit=MAX_MESSAGE_BYTES)
        if body is None:
            await problem(ex.send, 413, "PayloadTooLarge", f"A message is at most {MAX_MESSAGE_BYTES} bytes")
            return
        try:
            request = validate(ex.headers, body)
        except HeaderProblem as refused:
            await answer(ex.send, 400, [(b"content-type", b"application/json"), *ex.grant], jsonrpc.dumps(refused.body))
            return
        pinned = self.sessions.inward(ex.record.id, ex.headers.get("mcp-session-id"), ex.replicas)
        replica = pinned.replica if pinned else self.sessions.next_replica(ex.record.id, ex.replicas)
        verdict = self.calls.admit(ex.record, ex.caller, replica, request, ex.headers)
        if verdict.refused:
            await verdict.refuse(ex.send, ex.grant)
            return
        try:
            watched = replace(ex, send=verdict.watch(ex.send))
            await self._forward_post(watched, request, replica, pinned, verdict.forwarded(body))
        finally:
            verdict.end()

    async def _forward_post(
        self, ex: Exchange, request: McpRequest, replica: str, pinned: PinnedSession | None, body: bytes
    ) -> None:
        sse_only = ex.record.spec.serverType is ServerType.SSE
        if sse_only and request.era == "legacy":
            await self.front.post(
                request.message,
                session_id=ex.headers.get("mcp-session-id"),
                caller_key=ex.caller_key,
                server_id=ex.record.id,
                replica=replica,
                path=upstream_path(ex.record.spec),
                identity=ex.identity(),
                receive=ex.receive,
                send=with_headers(ex.send, ex.grant),
            )
            return
        if (
            request.era == "modern"
            and request.message is not None
            and (sse_only or not await self.eras.is_modern(replica))
        ):
            call = Call(
                message=request.message,
                replica=replica,
                path=upstream_path(ex.record.spec) if sse_only else f"/{ex.rest}",
                caller_key=ex.caller_key,
                identity=ex.identity(),
                passed_on=[(k, v) for k, v in ex.headers.items() if k in PASSED_ON or k.startswith("mcp-param-")],
                transport="sse" if sse_only else "streamable",
            )
            await self.bridge.handle(call, ex.receive, with_headers(ex.send, ex.grant))
            return
        target = Target(replica, _target(ex.rest, ex.query), pinned.upstream_id if pinned else None)
        await self._relay(ex, target, body)

    async def _sse_server_session(self, ex: Exchange) -> None:
        """GET (the session's stream) and DELETE on `/mcp` of an SSE server, whose sessions the gateway holds."""
        session = ex.headers.get("mcp-session-id")
        send = with_headers(ex.send, ex.grant)
        if ex.scope["method"] == "GET":
            await self.front.get(session, ex.caller_key, ex.record.id, ex.receive, send)
        elif ex.scope["method"] == "DELETE":
            await self.front.delete(session, ex.caller_key, ex.record.id, send)
        else:
            await problem(ex.send, 405, "MethodNotAllowed", "GET, POST or DELETE", {"Allow": "GET, POST, DELETE"})

    async def _sse_message(self, ex: Exchange) -> None:
        token = parse_qs(ex.query)[ENDPOINT_PARAM][0]
        endpoint = self.endpoints.resolve(ex.record.id, token, ex.replicas)
        if endpoint is None:
            await problem(ex.send, 404, "SessionNotFound", "This SSE session is not known (any more): connect again")
            return
        body = await read_body(ex.receive, limit=MAX_MESSAGE_BYTES)
        if body is None:
            await problem(ex.send, 413, "PayloadTooLarge", f"A message is at most {MAX_MESSAGE_BYTES} bytes")
            return
        request = McpRequest("legacy", body, ex.headers.get("mcp-protocol-version"))
        verdict = self.calls.admit(ex.record, ex.caller, endpoint.replica, request, ex.headers, endpoint=token)
        if verdict.refused:
            await verdict.refuse(ex.send, ex.grant)
            return
        target = Target(endpoint.replica, endpoint.target)
        try:
            await self._relay(replace(ex, send=verdict.watch(ex.send)), target, verdict.forwarded(body))
        finally:
            verdict.end()

    # -- relaying ---------------------------------------------------------------------------------------------

    async def _relay(
        self, ex: Exchange, target: Target, body: bytes | AsyncIterator[bytes] | None, *, sse: bool = False
    ) -> None:
        """One exchange with the replica, its answer streamed back as it arrives (both ways, never whole)."""
        record = ex.record
        incoming = {k: v for k, v in ex.headers.items() if k not in HOP_BY_HOP}
        outgoing = upstream_headers(incoming, ex.caller, forward_caller_token=record.spec.forwardCallerToken)
        if target.upstream_session is not None:
            outgoing["Mcp-Session-Id"] = target.upstream_session
        address, prefix = split_url(target.replica)
        try:
            upstream = await exchange(
                self.pool, address, ex.scope["method"], f"{prefix}{target.target}", list(outgoing.items()), body
            )
        except (UpstreamError, OSError, ValueError, asyncio.IncompleteReadError) as error:
            logger.warning("upstream unreachable", server_id=record.id, replica=target.replica, error=str(error))
            await problem(ex.send, 502, "BadGateway", "The server did not answer", {"Retry-After": "5"})
            return
        response_headers = [(k, v) for k, v in upstream.headers if k not in RESPONSE_DROPPED]
        session = upstream.header(b"mcp-session-id")
        if session:
            outward = self.sessions.outward(record.id, target.replica, session.decode("latin-1"))
            response_headers.append((b"mcp-session-id", outward.encode()))
        stream: AsyncIterator[bytes] = upstream.body()
        if sse and (upstream.header(b"content-type") or b"").startswith(b"text/event-stream"):
            stream = self.endpoints.rewrite(stream, record.id, target.replica, target.target.split("?", 1)[0])
        elif upstream.length is not None:
            response_headers.append((b"content-length", str(upstream.length).encode()))
        await stream_answer(upstream, stream, response_headers + ex.grant, ex.receive, ex.send)

    async def _not_in_service(self, send: Send, record: ServerRecord, has_replicas: bool) -> None:
        name = record.normalizedName
        if record.status is ServerStatus.IN_SERVICE:  # the record says so, but no replica is up right now
            why = self.unavailable(record)
            await problem(send, 503, "NoReplica", f"Server {name} is InService but {why}", {"Retry-After": "5"})
            return
        retry = RETRY_AFTER_SECONDS.get(record.status, 5)
        await problem(send, 503, "NotInService", f"Server {name} is {record.status}", {"Retry-After": str(retry)})


# -- helpers ----------------------------------------------------------------------------------------------------


def _target(rest: str, query: str) -> str:
    """The path and query on the replica: the authorized (decoded) path, percent-encoded; the query as sent."""
    path = "/" + quote(rest, safe=PATH_SAFE)
    return f"{path}?{query}" if query else path


async def _request_body(
    scope: Scope, receive: Receive, headers: Mapping[str, str]
) -> bytes | AsyncIterator[bytes] | None:
    """A small body (every JSON-RPC message) whole, with its length; large or unsized ones streamed."""
    if scope["method"] not in ("POST", "PUT", "PATCH"):
        return None
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) <= SMALL_BODY_BYTES:
        return await read_body(receive)
    return request_body(scope, receive)


async def domain_error(send: Send, error: DomainError) -> None:
    """A refusal with the management API's own error body and headers (`WWW-Authenticate` on a 401)."""
    refusal = error_response(error)
    body = refusal.body if isinstance(refusal.body, bytes) else str(refusal.body).encode()
    extra = [
        (k.lower().encode(), (v if isinstance(v, str) else ", ".join(v)).encode())
        for k, v in (refusal.headers or {}).items()
    ]
    await answer(send, int(refusal.status_code), [(b"content-type", b"application/json"), *extra], body)
