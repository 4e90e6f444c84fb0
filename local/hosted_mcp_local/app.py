"""The one HTTP port of the one-machine platform: what API Gateway, the authorizer and the ALB do on AWS.

- Data plane (`/mcp/{name}/mcp`, `/mcp/{name}/sse`, `/mcp/{name}/messages/`): `hosted_mcp_gateway.DataPlane`,
  the same code the AWS router runs, with the local supervisor's replicas.
- Management API (`/mcp`, `/mcp/{serverId}`, ...): the decision the Lambda authorizer takes
  (`hosted_mcp.auth.decision.decide`) allows the route for the caller, then the request becomes an API Gateway
  REST proxy event whose `requestContext.authorizer` is that caller, resolved by the same Powertools resolver the
  Lambda runs.
- `GET /events`: status events as a server-sent event stream (admins); `GET /mcp/{serverId}/logs`: local logs;
  `GET /metrics`: the data plane's calls, errors and latency per server and tool, Prometheus text (admins).
- Everything else: the web UI's static files when they are installed.

Every request first passes the request-line rule (`hosted_mcp_gateway.request_line`).
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

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
from hosted_mcp.auth.roles import Role, require_role
from hosted_mcp.errors import DomainError, NotFound
from hosted_mcp.models.domain import Caller
from hosted_mcp.models.events import StatusChanged
from hosted_mcp_gateway.call_metrics import CallMetrics, prometheus_text
from hosted_mcp_gateway.calls import CallGate
from hosted_mcp_gateway.dataplane import DataPlane
from hosted_mcp_gateway.request_line import RequestLineRule
from hosted_mcp_gateway.trusted_host import TrustedHosts
from hosted_mcp_local.caches import CachingAuthenticator, RecordCache
from hosted_mcp_local.platform import Platform

logger = Logger(service="hosted-mcp-gateway")

WEB_DIR = Path(__file__).parent / "web"
DATA_PLANE = frozenset({"mcp", "sse", "messages"})
KEEPALIVE_SECONDS = 15.0
FORWARDED_METHODS = frozenset({"GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"})
DATA_PLANE_ROUTE = re.compile(r"^/mcp/(?P<name>[^/]+)/(?P<rest>(?P<first>[^/]*).*)$", re.DOTALL)


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


class Gateway:
    def __init__(self, platform: Platform, allowed_hosts: tuple[str, ...] = ()) -> None:
        self.platform = platform
        self.hosts = TrustedHosts(allowed_hosts)
        # Per-request state that would otherwise cost a SQLite read and an RSA check on every call; both stay
        # exact (see caches.py): records are re-read after any committed write, API keys are never cached.
        self.authenticator = CachingAuthenticator(platform.authenticator)
        self.records = RecordCache(platform.store)
        self.metrics = CallMetrics()
        self.plane = DataPlane(
            decide=lambda method, path, headers: decide(self.authenticator, self.records, method, path, headers),
            replicas=lambda record: platform.supervisor.replica_urls(record.id),
            unavailable=lambda record: platform.supervisor.unavailable(record.id),
            hosts=self.hosts,
            key=platform.gateway_key,
            calls=CallGate(recorder=platform.call_recorder, metrics=self.metrics),
        )
        self._resolver_lock = threading.Lock()

    async def close(self) -> None:
        await self.plane.close()

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
        bad = self.hosts.problem(request.headers)
        return problem(*bad) if bad is not None else None

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

    async def metrics_text(self, request: Request) -> Response:
        """The data plane's counts in Prometheus text format (admins: they name servers, tools and outcomes)."""
        if (refused := self.refuse_non_admin(request)) is not None:
            return refused
        text = prometheus_text(self.metrics.snapshot())
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4", headers={"Cache-Control": "no-store"})

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.platform.issuer.public_jwk()]})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    # -- data plane ---------------------------------------------------------------------------------------------

    async def data_plane(self, scope: Scope, receive: Receive, send: Send, rest: str) -> None:
        await self.plane(scope, receive, send, rest)


class GatewayApp(Starlette):
    """The platform's ASGI app: data-plane requests go straight to the data plane (no routing, no middleware, the
    hottest path there is); everything else is an ordinary Starlette app."""

    gateway: Gateway
    guarded: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.guarded(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in FORWARDED_METHODS:
            match = DATA_PLANE_ROUTE.match(scope["path"])
            if match is not None and match.group("first") in DATA_PLANE:
                await self.gateway.data_plane(scope, receive, send, match.group("rest"))
                return
        await super().__call__(scope, receive, send)


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
            if path == "/" or (relative and _is_file(self.web_dir / relative)):
                await self.static(scope, receive, send)
                return
        response = await self.gateway.management(Request(scope, receive))
        await response(scope, receive, send)


def _is_file(path: Path) -> bool:
    """Whether a UI file is there; a name the file system refuses (a segment over 255 bytes) is simply not there."""
    try:
        return path.is_file()
    except OSError:
        return False


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
        Route("/metrics", gateway.metrics_text, methods=["GET"]),
        Route("/mcp/{server}/logs", gateway.logs, methods=["GET"]),
        Route("/mcp/{name}/{rest:path}", _management(gateway), methods=methods),
    ]
    app = GatewayApp(routes=routes, lifespan=lifespan)
    app.gateway = gateway
    app.guarded = RequestLineRule(app._dispatch)
    app.mount("/", Fallback(gateway, web_dir))
    app.state.gateway = gateway
    app.state.platform = platform
    return app


def _management(gateway: Gateway) -> Any:
    async def route(request: Request) -> Response:
        return await gateway.management(request)

    return route
