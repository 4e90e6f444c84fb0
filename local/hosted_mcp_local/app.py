"""The HTTP face of the one-machine platform: what API Gateway, the authorizer and the ALB do on AWS.

- Management API (`/mcp`, `/mcp/{serverId}`, ...): the decision the Lambda authorizer takes
  (`hosted_mcp.auth.decision.decide`) allows the route for the caller, then the request becomes an API Gateway
  REST proxy event whose `requestContext.authorizer` is that caller, resolved by the same Powertools resolver the
  Lambda runs.
- Data plane (`/mcp/{name}/mcp`, `/mcp/{name}/sse`, `/mcp/{name}/messages/`): validate Host/Origin, take the same
  decision (which also names the server), pick the replica (sessions stay on the replica that created them) and
  stream the exchange both ways without buffering.
- `GET /events`: status events as a server-sent event stream (admins); `GET /mcp/{serverId}/logs`: local logs.
- Everything else: the web UI's static files when they are installed.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from aws_lambda_powertools import Logger
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from hosted_mcp.api.errors import error_response
from hosted_mcp.auth.decision import Decision, decide
from hosted_mcp.auth.forwarding import upstream_headers
from hosted_mcp.auth.roles import Role, require_role
from hosted_mcp.errors import DomainError, Forbidden, NotFound
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp.models.events import StatusChanged
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_local.caches import CachingAuthenticator, RecordCache
from hosted_mcp_local.forwarder import (
    UpstreamError,
    UpstreamPool,
    exchange,
    read_body,
    request_body,
    split_url,
    stream_answer,
)
from hosted_mcp_local.platform import Platform
from hosted_mcp_local.request_line import RequestLineRule

logger = Logger(service="hosted-mcp-gateway")

WEB_DIR = Path(__file__).parent / "web"
DATA_PLANE = frozenset({"mcp", "sse", "messages"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
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
    }
)
RESPONSE_DROPPED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"})
RESPONSE_DROPPED_RAW = frozenset(name.encode() for name in RESPONSE_DROPPED)
RETRY_AFTER_SECONDS = {ServerStatus.STOPPED: 30, ServerStatus.FAILED: 60}
MAX_PINNED_SESSIONS = 10_000
KEEPALIVE_SECONDS = 15.0
SMALL_BODY_BYTES = 1 << 20
DATA_PLANE_METHODS = frozenset({"GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"})
DATA_PLANE_ROUTE = re.compile(r"^/mcp/(?P<name>[^/]+)/(?P<rest>(?P<first>[^/]*).*)$", re.DOTALL)
# RFC 3986 `pchar` without `%`: everything else in the authorized (decoded) path is percent-encoded upstream.
PATH_SAFE = "/:@!$&'()*+,;="


def problem(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=dict(headers or {}))


def domain_error(error: DomainError) -> Response:
    answer = error_response(error)
    return Response(
        content=answer.body,
        status_code=int(answer.status_code),
        media_type="application/json",
        headers={k: v if isinstance(v, str) else ", ".join(v) for k, v in (answer.headers or {}).items()},
    )


class SessionPins:
    """Which replica created each MCP session (`Mcp-Session-Id`, or an SSE session id), bounded in size."""

    def __init__(self) -> None:
        self._pins: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._turns: dict[str, itertools.count[int]] = {}

    def replica_for(self, server_id: str, session: str | None, replicas: int) -> int:
        if session is not None:
            index = self._pins.get((server_id, session))
            if index is not None and index < replicas:
                self._pins.move_to_end((server_id, session))
                return index
        turn = self._turns.setdefault(server_id, itertools.count())
        return next(turn) % replicas

    def pin(self, server_id: str, session: str, index: int) -> None:
        self._pins[(server_id, session)] = index
        self._pins.move_to_end((server_id, session))
        while len(self._pins) > MAX_PINNED_SESSIONS:
            self._pins.popitem(last=False)

    def forget(self, server_id: str, session: str) -> None:
        self._pins.pop((server_id, session), None)


class Gateway:
    def __init__(self, platform: Platform, allowed_hosts: tuple[str, ...] = ()) -> None:
        self.platform = platform
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts) | LOOPBACK_NAMES
        self.pins = SessionPins()
        # Per-request state that would otherwise cost a SQLite read and an RSA check on every call; both stay
        # exact (see caches.py): records are re-read after any committed write, API keys are never cached.
        self.authenticator = CachingAuthenticator(platform.authenticator)
        self.records = RecordCache(platform.store)
        self.upstream = UpstreamPool()
        self._replicas: dict[str, tuple[tuple[str, int], str]] = {}
        self._resolver_lock = threading.Lock()

    async def close(self) -> None:
        self.upstream.close()

    # -- identity --------------------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Caller:
        return self.authenticator.authenticate(request.headers)

    def admin(self, request: Request) -> Caller:
        """Local-only admin routes (events, logs): the shared admin rule."""
        caller = self.authenticate(request)
        require_role(caller, Role.ADMIN)
        return caller

    def decide(self, request: Request) -> Decision:
        """The data-plane and management decision of the Lambda authorizer, on the method and real path only.

        The path decided on is the decoded ASGI path, the very one the data plane forwards (re-encoded)."""
        return decide(self.authenticator, self.records, request.method, request.scope["path"], request.headers)

    def host_problem(self, request: Request) -> Response | None:
        """DNS rebinding defence: only loopback or configured host names, in Host and in Origin."""
        host = (request.headers.get("host") or "").lower()
        if _hostname(host) not in self.allowed_hosts:
            return problem(421, "InvalidHost", "Host header not allowed")
        origin = request.headers.get("origin")
        if origin is not None and (urlsplit(origin).hostname or "").lower() not in self.allowed_hosts:
            return problem(403, "InvalidOrigin", "Origin not allowed")
        return None

    # -- management API --------------------------------------------------------------------------------------

    async def management(self, request: Request) -> Response:
        if (bad := self.host_problem(request)) is not None:
            return bad
        try:
            decision = self.decide(request)
        except DomainError as error:
            return domain_error(error)
        authorizer = decision.caller.to_authorizer_context() if decision.caller is not None else None
        body = await request.body()
        event = proxy_event(request, body, authorizer)
        result = await run_in_threadpool(self.resolve_management, event)
        return proxy_response(result)

    def resolve_management(self, event: dict[str, Any]) -> dict[str, Any]:
        """One management request through the Lambda's resolver, one at a time: like a Lambda execution
        environment, the resolver holds the current event and its context (caller, services) for the duration
        of a request, so two requests in parallel threads would read each other's."""
        with self._resolver_lock:
            return self.platform.resolver.resolve(event, _LambdaContext())

    # -- local-only routes -----------------------------------------------------------------------------------

    def refuse_non_admin(self, request: Request) -> Response | None:
        """The answer for a request the local-only admin routes must refuse, or None to go on."""
        if (bad := self.host_problem(request)) is not None:
            return bad
        try:
            self.admin(request)
        except DomainError as error:
            return domain_error(error)
        return None

    async def events(self, request: Request) -> Response:
        if (refused := self.refuse_non_admin(request)) is not None:
            return refused
        server_id = request.query_params.get("serverId") or None
        restarts = "restarts" in request.query_params.get("include", "").split(",")
        subscription = self.platform.events.subscribe(asyncio.get_running_loop(), server_id, restarts=restarts)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b": subscribed\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(subscription.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    data = event.model_dump_json()
                    kind = "status" if isinstance(event, StatusChanged) else "restart"
                    yield f"id: {event.correlationId}\nevent: {kind}\ndata: {data}\n\n".encode()
            finally:
                self.platform.events.unsubscribe(subscription)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    async def logs(self, request: Request) -> Response:
        if (refused := self.refuse_non_admin(request)) is not None:
            return refused
        server_id = request.path_params["server"]
        try:
            tail = max(1, min(10_000, int(request.query_params.get("tail", "200"))))
        except ValueError:
            return problem(400, "ValidationError", "tail: must be an integer")
        paths = self.platform.supervisor.log_paths(server_id)
        if not paths and self.platform.store.get(server_id) is None:
            return domain_error(NotFound(f"Server {server_id} not found"))
        chunks = []
        for path in paths:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-tail:]
            chunks.append("".join(f"[{path.stem}] {line}\n" for line in lines))
        return PlainTextResponse("".join(chunks))

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.platform.issuer.public_jwk()]})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    # -- data plane ------------------------------------------------------------------------------------------

    async def data_plane(self, request: Request) -> Response:
        name = request.path_params["name"]
        rest = request.path_params["rest"]
        if (bad := self.host_problem(request)) is not None:
            return bad
        try:
            decision = self.decide(request)
        except DomainError as error:
            return domain_error(error)
        caller, record = decision.caller, decision.server
        if decision.missing is not None:
            return domain_error(NotFound(f"No hosted MCP server named {decision.missing}"))
        if caller is None or record is None:  # only a management route's decision names no server
            return domain_error(Forbidden("No such route"))
        replicas = self.platform.supervisor.replica_urls(record.id)
        if record.status is not ServerStatus.IN_SERVICE:
            retry = RETRY_AFTER_SECONDS.get(record.status, 5)
            return problem(503, "NotInService", f"Server {name} is {record.status}", {"Retry-After": str(retry)})
        if not replicas:
            why = self.platform.supervisor.unavailable(record.id)
            return problem(503, "NoReplica", f"Server {name} is InService but {why}", {"Retry-After": "5"})
        session = request.headers.get("mcp-session-id") or _sse_session(request)
        index = self.pins.replica_for(record.id, session, len(replicas))
        return await self.forward(request, record, caller, replicas[index], index, rest)

    async def forward(
        self, request: Request, record: ServerRecord, caller: Caller, base: str, index: int, rest: str
    ) -> Response:
        incoming = {k: v for k, v in request.headers.items() if k not in HOP_BY_HOP}  # names come lower-case
        headers = upstream_headers(incoming, caller, forward_caller_token=record.spec.forwardCallerToken)
        replica = self._replicas.get(base)
        if replica is None:
            if len(self._replicas) > MAX_PINNED_SESSIONS:  # replicas come and go with restarts: stay bounded
                self._replicas.clear()
            replica = self._replicas[base] = split_url(base)
        target = f"{replica[1]}/{quote(rest, safe=PATH_SAFE)}"
        query = request.scope.get("query_string", b"")
        if query:
            target += f"?{query.decode('latin-1')}"
        return Forwarded(self, record, index, replica[0], target, list(headers.items()), rest, _small_body(request))

    async def relay(self, forwarded: Forwarded, scope: Scope, receive: Receive, send: Send) -> None:
        """One exchange with the replica, its answer streamed back as it arrives (both ways, never whole)."""
        method: str = scope["method"]
        record, index = forwarded.record, forwarded.index
        body: bytes | AsyncIterator[bytes] | None = None
        try:
            if method in ("POST", "PUT", "PATCH"):
                # A small body (every JSON-RPC message) goes upstream in one piece with its Content-Length; only
                # large or unsized bodies are streamed (chunked).
                body = await read_body(receive) if forwarded.small_body else request_body(scope, receive)
            upstream = await exchange(
                self.upstream, forwarded.replica, method, forwarded.target, forwarded.headers_out, body
            )
        except (UpstreamError, OSError, ValueError, asyncio.IncompleteReadError) as error:
            logger.warning("upstream unreachable", server_id=record.id, replica=index, error=type(error).__name__)
            answer = problem(502, "BadGateway", "The server did not answer", {"Retry-After": "5"})
            await answer(scope, receive, send)
            return
        session = upstream.header(b"mcp-session-id")
        if session:
            self.pins.pin(record.id, session.decode("latin-1"), index)
        if method == "DELETE" and upstream.status < 300:
            for name, value in scope["headers"]:
                if name == b"mcp-session-id" and value:
                    self.pins.forget(record.id, value.decode("latin-1"))
        stream: AsyncIterator[bytes] = upstream.body()
        rewrite = forwarded.rest.startswith("sse") and (upstream.header(b"content-type") or b"").startswith(
            b"text/event-stream"
        )
        dropped = RESPONSE_DROPPED_RAW if rewrite else RESPONSE_DROPPED_RAW - {b"content-length"}
        response_headers = [(k, v) for k, v in upstream.headers if k not in dropped]
        if rewrite:
            stream = self._rewrite_endpoint(stream, record, index)
        await stream_answer(upstream, stream, response_headers, receive, send)

    async def _rewrite_endpoint(
        self, body: AsyncIterator[bytes], record: ServerRecord, index: int
    ) -> AsyncIterator[bytes]:
        """The SSE `endpoint` event names a path on the replica; clients must post through the gateway instead."""
        buffer = b""
        async for chunk in body:
            buffer += chunk
            text = buffer.replace(b"\r\n", b"\n")
            if b"\n\n" not in text and len(buffer) < 65536:
                continue
            head, _, tail = text.partition(b"\n\n")
            lines = head.decode("utf-8", errors="replace").split("\n")
            if "event: endpoint" in lines:
                for i, line in enumerate(lines):
                    if line.startswith("data:"):
                        target = line.removeprefix("data:").strip()
                        session = parse_qs(urlsplit(target).query).get("session_id", [None])[0]
                        if session:
                            self.pins.pin(record.id, session, index)
                        if target.startswith("/"):
                            target = f"/mcp/{record.normalizedName}{target}"
                        lines[i] = f"data: {target}"
                yield ("\n".join(lines) + "\n\n").encode() + tail
            else:
                yield buffer
            break
        async for chunk in body:
            yield chunk


class Forwarded(Response):
    """A data-plane answer still to be fetched: the exchange with the replica runs when the ASGI server sends it."""

    def __init__(
        self,
        gateway: Gateway,
        record: ServerRecord,
        index: int,
        replica: tuple[str, int],
        target: str,
        headers: list[tuple[str, str]],
        rest: str,
        small_body: bool,
    ) -> None:  # no super().__init__(): nothing is rendered here, the replica's answer is relayed as is
        self.gateway, self.record, self.index, self.replica = gateway, record, index, replica
        self.target, self.headers_out, self.rest, self.small_body = target, headers, rest, small_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gateway.relay(self, scope, receive, send)


class GatewayApp(Starlette):
    """The gateway's ASGI app: data-plane requests go straight to the gateway (no routing, no middleware, the
    hottest path there is); everything else is an ordinary Starlette app."""

    gateway: Gateway
    guarded: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.guarded(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in DATA_PLANE_METHODS:
            match = DATA_PLANE_ROUTE.match(scope["path"])
            if match is not None and match.group("first") in DATA_PLANE:
                scope["path_params"] = {"name": match.group("name"), "rest": match.group("rest")}
                response = await self.gateway.data_plane(Request(scope, receive))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _small_body(request: Request) -> bool:
    length = request.headers.get("content-length", "")
    return length.isdigit() and int(length) <= SMALL_BODY_BYTES


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]")[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _sse_session(request: Request) -> str | None:
    values = request.query_params.getlist("session_id") or request.query_params.getlist("sessionId")
    return values[0] if values else None


class _LambdaContext:
    """The few attributes Powertools reads from a Lambda context."""

    function_name = "hosted-mcp-local"
    memory_limit_in_mb = 0
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:hosted-mcp-local"
    aws_request_id = ""

    def __init__(self) -> None:
        self.aws_request_id = uuid.uuid4().hex


def proxy_event(request: Request, body: bytes, authorizer: dict[str, str] | None) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event for `request`, as API Gateway sends it after the authorizer allowed it."""
    query: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, []).append(value)
    headers: dict[str, list[str]] = {}
    for key, value in request.headers.items():
        headers.setdefault(key, []).append(value)
    try:
        text: str | None = body.decode("utf-8") if body else None
        encoded = False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "resource": request.url.path,
        "path": request.url.path,
        "httpMethod": request.method,
        "headers": {k: v[-1] for k, v in headers.items()},
        "multiValueHeaders": headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": request.url.path,
            "httpMethod": request.method,
            "path": request.url.path,
            "stage": "local",
            "requestId": uuid.uuid4().hex,
            "requestTimeEpoch": int(now * 1000),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": request.client.host if request.client else "127.0.0.1"},
            "authorizer": authorizer,
            "accountId": "000000000000",
            "apiId": "local",
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def proxy_response(result: Mapping[str, Any]) -> Response:
    headers: dict[str, str] = dict(result.get("headers") or {})
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(str(v) for v in values)
    headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return Response(content=raw, status_code=int(result.get("statusCode", 500)), headers=headers)


class Fallback:
    """Static web UI files for GET/HEAD when the UI is installed; everything else goes to the management API."""

    def __init__(self, gateway: Gateway, web_dir: Path) -> None:
        self.gateway = gateway
        self.static = StaticFiles(directory=web_dir, html=True) if (web_dir / "index.html").exists() else None
        self.web_dir = web_dir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.static is not None and scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = scope["path"]
            relative = path.lstrip("/")
            if path == "/" or (relative and (self.web_dir / relative).is_file()):
                await self.static(scope, receive, send)
                return
        response = await self.gateway.management(Request(scope, receive))
        await response(scope, receive, send)


def create_app(platform: Platform, *, allowed_hosts: tuple[str, ...] = (), web_dir: Path = WEB_DIR) -> Starlette:
    gateway = Gateway(platform, allowed_hosts)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(platform.start)
        try:
            yield
        finally:
            await gateway.close()
            await run_in_threadpool(platform.stop)

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"]
    routes = [
        Route("/healthz", gateway.health, methods=["GET"]),
        Route("/.well-known/jwks.json", gateway.jwks, methods=["GET"]),
        Route("/events", gateway.events, methods=["GET"]),
        Route("/mcp/{server}/logs", gateway.logs, methods=["GET"]),
        Route("/mcp/{name}/{rest:path}", _data_plane_or_management(gateway), methods=methods),
    ]
    app = GatewayApp(routes=routes, lifespan=lifespan)
    app.gateway = gateway
    app.guarded = RequestLineRule(app._dispatch)
    app.mount("/", Fallback(gateway, web_dir))
    app.state.gateway = gateway
    app.state.platform = platform
    return app


def _data_plane_or_management(gateway: Gateway) -> Any:
    async def route(request: Request) -> Response:
        first = request.path_params["rest"].split("/", 1)[0]
        if first in DATA_PLANE:
            return await gateway.data_plane(request)
        return await gateway.management(request)

    return route
