"""The AWS router in process: API Gateway's identity headers in, DNS-found replicas, the same data plane out."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.auth.forwarding import identity_headers
from hosted_mcp.logic.servers import create_server
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_gateway.router import RouterSettings, create_app
from hosted_mcp_gateway.sealing import Sealer

ADMIN = Caller(username="admin", groups=("admin",), isAdmin=True)
ADA = Caller(username="ada", groups=("demo",))
T0 = datetime(2026, 1, 1, tzinfo=UTC)
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}


class Replica:
    """A 2025-revision server on loopback: answers every POST with JSON, names itself, mints a session id."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name, self.host, self.port = name, host, port
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.answer, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                length = next(
                    (int(ln.split(b":")[1]) for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")),
                    0,
                )
                message = json.loads(await reader.readexactly(length)) if length else {}
                body = json.dumps(
                    {"jsonrpc": "2.0", "id": message.get("id"), "result": {"replica": self.name}}
                ).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nmcp-session-id: s-%b\r\n"
                    b"content-length: %d\r\n\r\n%b" % (self.name.encode(), len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> InMemoryServerStore:
    return InMemoryServerStore()


def in_service(store: InMemoryServerStore, groups: list[str], port: int) -> ServerRecord:
    request = CreateServerRequest.model_validate(
        {"name": "echo", "serverType": "http", "startCommand": "x", "port": port, "groups": groups}
    )
    record = create_server(store, request, ADMIN, now=T0)
    return move(store, record, ServerStatus.IN_SERVICE, actor="t", reason="ready", now=T0)


def settings(**extra: str) -> RouterSettings:
    key = base64.b64encode(Sealer.generate_key()).decode()
    environ = {"SERVERS_TABLE_NAME": "t", "DISCOVERY_NAMESPACE": "hmcp.internal", "ROUTER_SEALING_KEY": key}
    return RouterSettings.from_environ({**environ, **extra})


def run(scenario: Any) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, 20))


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://router.internal")


def edge(caller: Caller, **headers: str) -> dict[str, str]:
    """What API Gateway's mapping adds, after its authorizer allowed the request."""
    return {**identity_headers(caller), "Content-Type": "application/json", **headers}


def test_a_call_from_the_edge_reaches_a_task_found_by_dns_with_the_callers_identity(store: InMemoryServerStore) -> None:
    async def scenario() -> tuple[int, dict, bytes]:
        replica = Replica("a")
        await replica.start()
        record = in_service(store, ["demo"], replica.port)
        looked_up: list[str] = []

        def resolve(host: str) -> list[str]:
            looked_up.append(host)
            return ["127.0.0.1"]

        app = create_app(settings(), store.get_by_name, resolve=resolve)
        async with client(app) as http:
            forged = {"X-Hosted-Mcp-Credential-Type": "jwt"}
            answer = await http.post("/mcp/echo/mcp", json=INITIALIZE, headers=edge(ADA, **forged))
        assert looked_up == [f"{record.id}.hmcp.internal"]
        return answer.status_code, answer.json(), replica.heads[0]

    status, body, head = run(scenario())
    assert (status, body["result"]) == (200, {"replica": "a"})
    assert b"x-hosted-mcp-user: ada\r\n" in head.lower()
    assert b"authorization" not in head.lower()


def test_without_the_edges_identity_nothing_passes(store: InMemoryServerStore) -> None:
    async def scenario() -> list[int]:
        in_service(store, ["demo"], 1)
        app = create_app(settings(), store.get_by_name, resolve=lambda host: ["127.0.0.1"])
        async with client(app) as http:
            bare = await http.post("/mcp/echo/mcp", json=INITIALIZE)
            outsider = await http.post("/mcp/echo/mcp", json=INITIALIZE, headers=edge(Caller(username="eve")))
            unknown = await http.post("/mcp/nosuch/mcp", json=INITIALIZE, headers=edge(ADA))
            health = await http.get("/healthz")
        return [bare.status_code, outsider.status_code, unknown.status_code, health.status_code]

    assert run(scenario()) == [401, 403, 403, 200]


def test_a_session_made_through_one_router_task_is_routed_by_another(store: InMemoryServerStore) -> None:
    # Given two tasks of a server (two addresses, one port, as ECS tasks have), and two router tasks sharing the
    # platform's sealing key
    async def scenario() -> tuple[list[str], list[str]]:
        first = Replica("a", "127.0.0.1")
        await first.start()
        second = Replica("b", "127.0.0.2", first.port)
        await second.start()
        in_service(store, [], first.port)
        shared = settings()
        tasks = ["127.0.0.1", "127.0.0.2"]
        apps = [create_app(shared, store.get_by_name, resolve=lambda host: tasks) for _ in range(2)]
        opened, followed = [], []
        async with client(apps[0]) as one, client(apps[1]) as other:
            for _ in range(2):  # two sessions: new sessions take turns, so one on each task
                answer = await one.post("/mcp/echo/mcp", json=INITIALIZE, headers=edge(ADA))
                opened.append(answer.json()["result"]["replica"])
                session = answer.headers["mcp-session-id"]
                # When every later request of the session goes through the other router task
                for _ in range(3):
                    follow = await other.post(
                        "/mcp/echo/mcp",
                        json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                        headers=edge(ADA, **{"Mcp-Session-Id": session}),
                    )
                    followed.append(follow.json()["result"]["replica"])
        return opened, followed

    opened, followed = run(scenario())

    # Then each reaches the task that made its session
    assert sorted(opened) == ["a", "b"]
    assert followed == [opened[0]] * 3 + [opened[1]] * 3


def test_a_stopped_server_is_refused_once_the_cached_record_expires(store: InMemoryServerStore) -> None:
    async def scenario() -> list[int]:
        replica = Replica("a")
        await replica.start()
        record = in_service(store, ["demo"], replica.port)
        clock = Clock()
        app = create_app(settings(), store.get_by_name, resolve=lambda host: ["127.0.0.1"], clock=clock)
        statuses = []
        async with client(app) as http:
            statuses.append((await http.post("/mcp/echo/mcp", json=INITIALIZE, headers=edge(ADA))).status_code)
            move(store, record, ServerStatus.STOPPING, actor="t", reason="stop", now=T0)
            clock.now += 10  # past RECORD_TTL_SECONDS
            statuses.append((await http.post("/mcp/echo/mcp", json=INITIALIZE, headers=edge(ADA))).status_code)
        return statuses

    assert run(scenario()) == [200, 503]


def test_settings_name_what_is_missing_or_wrong() -> None:
    with pytest.raises(SystemExit, match="DISCOVERY_NAMESPACE"):
        RouterSettings.from_environ(
            {"SERVERS_TABLE_NAME": "t", "ROUTER_SEALING_KEY": base64.b64encode(b"x" * 32).decode()}
        )
    with pytest.raises(SystemExit, match="ROUTER_SEALING_KEY"):
        settings(ROUTER_SEALING_KEY=base64.b64encode(b"short").decode())
