"""The AWS router in process, as the tests see it: a replica on loopback, a server record in service, the router's
settings, and what API Gateway adds in front of it."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.auth.forwarding import identity_headers
from hosted_mcp.logic.servers import create_server
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_gateway.router import RouterSettings
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
