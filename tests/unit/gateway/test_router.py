"""The AWS router in process: API Gateway's identity headers in, DNS-found replicas, the same data plane out."""

from __future__ import annotations

import base64

import pytest

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.auth.forwarding import identity_headers
from hosted_mcp.logic.servers import create_server
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.domain import Caller
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_gateway.router import RouterSettings, create_app
from hosted_mcp_gateway.sealing import Sealer
from tests.support.router import ADA, ADMIN, INITIALIZE, T0, Clock, Replica, client, edge, in_service, run, settings


@pytest.fixture
def store() -> InMemoryServerStore:
    return InMemoryServerStore()


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


def test_identity_headers_the_edge_did_not_set_never_reach_the_server(store: InMemoryServerStore) -> None:
    # Given a client that adds identity-looking headers of its own, and credentials, to a call the edge let through
    async def scenario() -> bytes:
        replica = Replica("a")
        await replica.start()
        in_service(store, ["demo"], replica.port)
        app = create_app(settings(), store.get_by_name, resolve=lambda host: ["127.0.0.1"])
        smuggled = {
            "X-Hosted-Mcp-Admin": "true",
            "X-Hosted-Mcp-Tenant": "other",
            "Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
            "X-Api-Key": "hmk_live_secret",
            "Cookie": "session=1",
        }
        async with client(app) as http:
            answer = await http.post("/mcp/echo/mcp", json=INITIALIZE, headers=edge(ADA, **smuggled))
        assert answer.status_code == 200
        return replica.heads[0].lower()

    head = run(scenario())
    # Then the server hears exactly the identity rebuilt from the caller, and no credential
    sent = {line.split(b":", 1)[0] for line in head.split(b"\r\n")[1:] if line}
    assert {h for h in sent if h.startswith(b"x-hosted-mcp-")} == {
        b"x-hosted-mcp-user",
        b"x-hosted-mcp-groups",
        b"x-hosted-mcp-credential-type",
    }
    for name, value in identity_headers(ADA).items():
        assert f"{name}: {value}".lower().encode() in head
    assert not sent & {b"authorization", b"x-api-key", b"cookie"}


def test_a_server_that_opted_in_gets_the_callers_jwt_and_never_an_api_key(store: InMemoryServerStore) -> None:
    async def scenario() -> list[bytes]:
        replica = Replica("a")
        await replica.start()
        request = CreateServerRequest.model_validate(
            {"name": "echo", "serverType": "http", "startCommand": "x", "port": replica.port, "groups": ["demo"]}
        )
        record = create_server(store, request, ADMIN, now=T0)
        record = move(store, record, ServerStatus.IN_SERVICE, actor="t", reason="ready", now=T0)
        store.replace(record, record.evolve(spec=record.spec.model_copy(update={"forwardCallerToken": True})), None)
        app = create_app(settings(), store.get_by_name, resolve=lambda host: ["127.0.0.1"])
        async with client(app) as http:
            for credential in ("Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "Bearer hmk_live_0123456789abcdef"):
                await http.post("/mcp/echo/mcp", json=INITIALIZE, headers=edge(ADA, Authorization=credential))
        return [head.lower() for head in replica.heads]

    jwt, api_key = run(scenario())
    assert b"authorization: bearer eyjhbgcioijsuzi1nij9.e30.c2ln\r\n" in jwt
    assert b"authorization" not in api_key


def test_every_task_derives_the_same_sealing_key_from_the_platforms_secret() -> None:
    # Given the 64 characters Secrets Manager generated, as ECS injects them into each router task
    secret = "Q3r7" * 16
    environ = {"SERVERS_TABLE_NAME": "t", "DISCOVERY_NAMESPACE": "hmcp.internal"}
    one = RouterSettings.from_environ({**environ, "ROUTER_SEALING_KEY": secret})
    other = RouterSettings.from_environ({**environ, "ROUTER_SEALING_KEY": secret})
    # Then both tasks hold one 32-byte key, what one seals the other opens, and another secret gives another key
    assert one.sealing_key == other.sealing_key
    assert len(one.sealing_key) == 32
    token = Sealer(one.sealing_key, "mcp-session").seal({"s": "x"}, 60)
    assert Sealer(other.sealing_key, "mcp-session").open(token) is not None
    stranger = RouterSettings.from_environ({**environ, "ROUTER_SEALING_KEY": "Z" * 64})
    assert Sealer(stranger.sealing_key, "mcp-session").open(token) is None
    with pytest.raises(SystemExit, match="ROUTER_SEALING_KEY"):
        RouterSettings.from_environ({**environ, "ROUTER_SEALING_KEY": "x" * 31})
