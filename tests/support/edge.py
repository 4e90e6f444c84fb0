"""The AWS data plane in one process, as a client meets it: API Gateway's authorizer, its mapping, then the router.

`Edge` plays API Gateway for `/mcp/{name}/...`: it runs the real authorizer logic (`hosted_mcp.auth.gateway.
authorize`, what functions/authorizer runs) on every request, as the uncached data-plane authorizer is run; answers
its 401 and its Deny as API Gateway would (the ACCESS_DENIED body from template.yaml); maps an Allow's context onto
the identity headers and `Authorization` as the integration's parameter mapping does; and hands the request to the
router app (`hosted_mcp_gateway.router.create_app`). `LoopbackServer` serves any ASGI app on a loopback port in a
thread, so real MCP clients can connect.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from hosted_mcp.auth.authenticator import Authenticator
from hosted_mcp.auth.gateway import UPSTREAM_AUTHORIZATION, UPSTREAM_CONTEXT, AuthorizerRequest, authorize
from hosted_mcp.errors import Unauthorized
from hosted_mcp.ports import ServerStore
from tests.support.ddb import load_template
from tests.support.gateway import authorizer_event, method_arn, policy_allows


def gateway_response(kind: str) -> tuple[int, bytes]:
    """A gateway response (UNAUTHORIZED, ACCESS_DENIED) as template.yaml defines it."""
    responses = load_template()["Resources"]["Api"]["Properties"]["GatewayResponses"]
    response = responses[kind]
    return int(response["StatusCode"]), response["ResponseTemplates"]["application/json"].encode()


class Edge:
    def __init__(self, authenticator: Authenticator, store: ServerStore, router: Any) -> None:
        self.authenticator = authenticator
        self.store = store
        self.router = router
        self.denied: list[tuple[str, str]] = []  # (Mcp-Method, Mcp-Name) of what the authorizer refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        event = authorizer_event(scope["method"], scope["path"], headers)
        try:
            answer = authorize(AuthorizerRequest.model_validate(event), self.authenticator, self.store)
        except Unauthorized:
            await _answer(send, *gateway_response("UNAUTHORIZED"))
            return
        if not policy_allows(answer, method_arn(scope["method"], scope["path"])):
            self.denied.append((headers.get("mcp-method", ""), headers.get("mcp-name", "")))
            await _answer(send, *gateway_response("ACCESS_DENIED"))
            return
        context = answer.get("context", {})
        mapped = [(k, v) for k, v in scope["headers"] if k != b"authorization" and not k.startswith(b"x-hosted-mcp-")]
        mapped += [(name.lower().encode(), str(context[key]).encode()) for name, key in UPSTREAM_CONTEXT.items()]
        if context.get(UPSTREAM_AUTHORIZATION):
            mapped.append((b"authorization", str(context[UPSTREAM_AUTHORIZATION]).encode()))
        await self.router({**scope, "headers": mapped}, receive, send)


async def _answer(send: Send, status: int, body: bytes) -> None:
    json.loads(body)  # the template's body is JSON, as clients will parse it
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackServer:
    """An ASGI app on 127.0.0.1:<free port>, served by uvicorn in a thread (with its lifespan)."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("the loopback server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
