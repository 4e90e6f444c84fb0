"""The local gateway's management path: the Lambda's own resolver, one request at a time."""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace

from starlette.requests import Request

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.api.app import build_resolver
from hosted_mcp.api.services import ApiServices
from hosted_mcp.logic.servers import create_server
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.domain import Caller
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_local.app import Gateway, proxy_event, proxy_response

ADMIN = Caller(username="admin", groups=("admin",), isAdmin=True)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def request(method: str, path: str, query: bytes = b"") -> Request:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:8765"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1234),
    }
    return Request(scope)


def test_management_requests_reach_the_lambda_resolver_with_the_caller() -> None:
    services = ApiServices(store=InMemoryServerStore(), base_url="http://127.0.0.1:8765")
    resolver = build_resolver(lambda: services)
    body = json.dumps({"name": "echo", "serverType": "stdio", "startCommand": "python s.py"}).encode()

    created = proxy_response(
        resolver.resolve(proxy_event(request("POST", "/mcp"), body, ADMIN.to_authorizer_context()), None)
    )
    listed = proxy_response(
        resolver.resolve(proxy_event(request("GET", "/mcp", b"limit=5"), b"", ADMIN.to_authorizer_context()), None)
    )

    assert created.status_code == 201
    assert json.loads(created.body)["url"] == "http://127.0.0.1:8765/mcp/echo/mcp"
    assert [s["name"] for s in json.loads(listed.body)["Items"]] == ["echo"]


def test_without_a_caller_the_resolver_answers_401() -> None:
    resolver = build_resolver(lambda: ApiServices(store=InMemoryServerStore()))

    answer = proxy_response(resolver.resolve(proxy_event(request("GET", "/mcp"), b"", None), None))

    assert answer.status_code == 401


def test_concurrent_management_requests_each_see_their_own_caller() -> None:
    # Given the local gateway's management path and one public server every caller may use
    store = InMemoryServerStore()
    record = create_server(store, CreateServerRequest(name="open", serverType="stdio", startCommand="x"), ADMIN, now=T0)
    move(store, record, ServerStatus.IN_SERVICE, actor="test", reason="ready", now=T0)
    resolver = build_resolver(lambda: ApiServices(store=store, base_url="http://127.0.0.1:8765"))
    gateway = Gateway.__new__(Gateway)  # only the management path is exercised: no platform needed
    gateway.platform = SimpleNamespace(resolver=resolver)  # type: ignore[assignment]
    gateway._resolver_lock = threading.Lock()
    callers = [Caller(username=f"user-{i}", groups=(f"g{i}",)) for i in range(8)]

    def own_connection_header(caller: Caller) -> str:
        event = proxy_event(request("GET", "/connections"), b"", caller.to_authorizer_context())
        event["headers"]["authorization"] = f"Bearer token-of-{caller.username}"
        answer = proxy_response(gateway.resolve_management(event))
        assert answer.status_code == 200
        [connection] = json.loads(answer.body)["Items"]
        return str(connection["customHeaders"]["Authorization"])

    # When they list their connections at the same time, many times over (threads switching as often as can be)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            headers = list(pool.map(own_connection_header, callers * 25))
    finally:
        sys.setswitchinterval(interval)

    # Then each answer carries the credential of the caller who asked, never another's
    assert headers == [f"Bearer token-of-{c.username}" for c in callers * 25]
