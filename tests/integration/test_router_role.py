"""The router's task role (`RouterTaskRole` in template.yaml) grants every AWS call the router's code makes, and
nothing else: the calls are recorded while the router, built as its task builds it (`router.build`), serves
requests against the servers table in moto; a reading of the source then finds every client call reachable from
what the router uses of the store, so a call on a path these requests never take cannot hide.
"""

from __future__ import annotations

import ast
import asyncio
from typing import Any

import boto3
import httpx

from hosted_mcp.adapters.dynamodb import DynamoDbServerStore
from hosted_mcp.logic.servers import create_server
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_gateway import router
from tests.support.ddb import create_call_audit_table
from tests.support.iam import (
    SERVERS_TABLE,
    CallLog,
    RecordingClient,
    allows,
    granted_actions,
    iam_requirements,
    operation_name,
    role_statements,
)
from tests.support.lambdas import REPO_ROOT
from tests.support.router import ADA, ADMIN, INITIALIZE, T0, Replica, edge, settings

STORE = REPO_ROOT / "shared" / "hosted_mcp" / "adapters" / "dynamodb.py"


CALL = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "greet", "arguments": {}}}


async def stop(app: Any) -> None:
    """What ECS stopping the task does to the app: the lifespan's shutdown (the audit writer flushes)."""
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        return None

    await app({"type": "lifespan"}, receive, send)


def test_the_router_task_role_grants_every_call_the_router_makes_and_nothing_else(servers_table: Any) -> None:
    log = CallLog()
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    audit_table = create_call_audit_table(dynamodb)
    store = DynamoDbServerStore(dynamodb, SERVERS_TABLE)

    async def scenario() -> list[int]:
        # Given a server in service in the servers table, with one task on loopback
        replica = Replica("a")
        await replica.start()
        request = CreateServerRequest.model_validate(
            {"name": "echo", "serverType": "http", "startCommand": "x", "port": replica.port, "groups": ["demo"]}
        )
        record = create_server(store, request, ADMIN, now=T0)
        move(store, record, ServerStatus.IN_SERVICE, actor="t", reason="ready", now=T0)
        # When the router, built as its task builds it (Cloud Map stood in for by the loopback task), serves a
        # known server, an unknown one, and the known one again
        # and a tool call, which the router writes to the call audit trail (flushed when the task stops)
        app = router.build(
            settings(SERVERS_TABLE_NAME=SERVERS_TABLE, RECORD_TTL_SECONDS="0", CALL_AUDIT_TABLE_NAME=audit_table),
            RecordingClient(dynamodb, "dynamodb", log),
            resolve=lambda host: ["127.0.0.1"],
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alb.internal") as http:
            paths = ["/mcp/echo/mcp", "/mcp/nosuch/mcp", "/mcp/echo/mcp"]
            statuses = [(await http.post(p, json=INITIALIZE, headers=edge(ADA))).status_code for p in paths]
            statuses.append((await http.post("/mcp/echo/mcp", json=CALL, headers=edge(ADA))).status_code)
        await stop(app)
        return statuses

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == [200, 403, 200, 200]
    # Then every call the router's client made (its requests and its audit writer's thread) is granted to its role
    statements = role_statements("RouterTaskRole")
    made = log.calls
    assert made
    missing = {need for call in made for need in iam_requirements(call) if not allows(statements, *need)}
    assert missing == set()
    # And the role grants exactly those actions, no more
    needed = {action for call in made for action, _ in iam_requirements(call)}
    assert granted_actions(statements) == needed == {"dynamodb:GetItem", "dynamodb:BatchWriteItem"}


def test_the_store_calls_the_router_can_reach_are_the_ones_recorded() -> None:
    # Given what the router uses of the store (router.build hands the data plane `get_by_name`)
    source = ast.parse((REPO_ROOT / "gateway" / "hosted_mcp_gateway" / "router.py").read_text(encoding="utf-8"))
    stores = {
        target.id
        for node in ast.walk(source)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", "") == "DynamoDbServerStore"
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    used = {
        node.attr
        for node in ast.walk(source)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in stores
    }
    assert stores
    assert used == {"get_by_name"}
    # When every method it reaches through `self.` is read, Then the only client call among them is GetItem
    assert reachable_client_calls(STORE, "DynamoDbServerStore", "get_by_name") == {"GetItem"}


def reachable_client_calls(path: Any, class_name: str, entry: str) -> set[str]:
    """DynamoDB operations called (`self._client.<method>(...)`) by `entry` and every method it calls on `self`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    seen, todo, operations = set(), [entry], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in methods:
            continue
        seen.add(name)
        for node in ast.walk(methods[name]):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            target = node.func.value
            if isinstance(target, ast.Name) and target.id == "self":
                todo.append(node.func.attr)
            elif isinstance(target, ast.Attribute) and target.attr == "_client":
                operations.add(operation_name("dynamodb", node.func.attr))
    return operations
