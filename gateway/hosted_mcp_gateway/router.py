"""The AWS data-plane router: the gateway's data plane as a small autoscaled ECS service behind the platform's ALB.

API Gateway (REST) runs the Lambda authorizer, maps the caller it established onto the `X-Hosted-Mcp-*` identity
headers (replacing any the client sent) and `Authorization` (the caller's JWT only for servers that opted in,
empty otherwise), and sends `/mcp/{name}/{proxy+}` through the VPC link to the internal ALB, whose one target
group is this service. The router then does what the local gateway does, with the same `DataPlane`: sessions
sealed so that any router task can route them, the SSE endpoint rewritten, both protocol eras, header validation,
identity headers to the server and never the caller's credential.

Per tool: the router takes the same tool-policy decision as the authorizer (`hosted_mcp.auth.tool_access`), also
for what the authorizer cannot see (2025-revision requests name their tool only in the body), cuts list answers to
the caller's grant, enforces the call limits (per router task: see `limits`), records every call in the audit
table (`CALL_AUDIT_TABLE_NAME`, batched) and writes the calls, errors and latency per server and tool as CloudWatch
metrics (Powertools, every `METRICS_SECONDS`).

Trust: the identity headers are believed because only API Gateway reaches the ALB (its security group admits
the VPC link's alone) and API Gateway's mapping replaces whatever the client sent under those names; a request
without them is refused. Every inbound `X-Hosted-Mcp-*` header is dropped on the way to the server, which hears
only the identity rebuilt from the caller (`hosted_mcp.auth.forwarding`). The server record is read from DynamoDB
(by name, cached for `RECORD_TTL_SECONDS`) and the caller's right to use it is checked again, so a revocation is
seen within that time even while API Gateway serves a cached authorizer answer. A server's replicas are its ECS
tasks, found through Cloud Map's private DNS (`<server id>.<namespace>`, A records, cached `DNS_TTL_SECONDS`).

The sealing key (session ids, SSE endpoints, MRTR state of bridged calls) is derived from `ROUTER_SEALING_KEY`, a
secret the platform stack generates in Secrets Manager and ECS injects into every task: every task derives the
same key, so any task opens what another sealed.

Run: `hosted-mcp-router` (the router image's entry point), settings from the environment (`RouterSettings`).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.types import Receive, Scope, Send

from hosted_mcp.adapters.discovery import discovery_name, task_addresses
from hosted_mcp.auth.decision import Decision
from hosted_mcp.auth.forwarding import caller_from_identity_headers
from hosted_mcp.auth.roles import data_plane_server, require_use
from hosted_mcp.errors import Forbidden, Unauthorized
from hosted_mcp.models.domain import ServerRecord
from hosted_mcp_gateway.asgi import problem
from hosted_mcp_gateway.call_metrics import CallMetrics, emit_to_cloudwatch
from hosted_mcp_gateway.call_recorder import CallRecorder
from hosted_mcp_gateway.calls import CallGate
from hosted_mcp_gateway.dataplane import DataPlane
from hosted_mcp_gateway.request_line import RequestLineRule
from hosted_mcp_gateway.trusted_host import TrustedHosts

DATA_PLANE_ROUTE = re.compile(r"^/mcp/[^/]+/(?P<rest>(?:mcp|sse|messages)(?:/.*)?)$", re.DOTALL)
HEALTH_PATH = "/healthz"
MIN_SECRET_CHARS = 32
KEY_INFO = b"hosted-mcp router sealing key v1"


class RouterSettings(BaseModel):
    """The router task's environment (the platform stack sets it; the sealing key comes from Secrets Manager)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    servers_table_name: str = Field(alias="SERVERS_TABLE_NAME", min_length=1)
    region: str | None = Field(None, alias="AWS_REGION")
    namespace: str = Field(alias="DISCOVERY_NAMESPACE", min_length=1, description="Cloud Map private DNS name.")
    sealing_key: bytes = Field(
        alias="ROUTER_SEALING_KEY",
        description=f"A secret of at least {MIN_SECRET_CHARS} characters, the same in every task (the stack generates "
        "64 in Secrets Manager); the 32-byte sealing key is derived from it.",
    )
    allowed_origins: tuple[str, ...] = Field((), alias="ALLOWED_ORIGINS", description="Browser origins, by host.")
    port: int = Field(8080, alias="PORT", ge=1, le=65535)
    record_ttl_seconds: float = Field(5.0, alias="RECORD_TTL_SECONDS", ge=0, le=300)
    dns_ttl_seconds: float = Field(5.0, alias="DNS_TTL_SECONDS", ge=0, le=300)
    call_audit_table_name: str | None = Field(None, alias="CALL_AUDIT_TABLE_NAME", min_length=1)
    call_audit_retention_days: float = Field(30.0, alias="CALL_AUDIT_RETENTION_DAYS", gt=0, le=3650)
    metrics_seconds: float = Field(60.0, alias="METRICS_SECONDS", ge=1, le=3600)

    @field_validator("sealing_key", mode="before")
    @classmethod
    def _derive_key(cls, value: Any) -> bytes:
        if isinstance(value, bytes) and len(value) == 32:
            return value  # a key already (tests, benches)
        if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be a secret of at least {MIN_SECRET_CHARS} characters")
        return sealing_key(value.strip())

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return tuple(v.strip() for v in value.split(",") if v.strip()) if isinstance(value, str) else value

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> RouterSettings:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as exc:
            names = ", ".join(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
            raise SystemExit(f"hosted-mcp-router: invalid or missing environment variables: {names}") from None


def sealing_key(secret: str) -> bytes:
    """The 32-byte AES key every router task derives from the platform's secret (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(secret.encode())


class ExpiringRecords:
    """Server records by name, each kept `ttl` seconds (absent names too)."""

    def __init__(self, read: Callable[[str], ServerRecord | None], ttl: float, clock: Callable[[], float]) -> None:
        self._read, self._ttl, self._clock = read, ttl, clock
        self._cache: dict[str, tuple[float, ServerRecord | None]] = {}

    def get_by_name(self, name: str) -> ServerRecord | None:
        now = self._clock()
        cached = self._cache.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = self._read(name)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[name] = (now + self._ttl, record)
        return record


class DnsReplicas:
    """A server's tasks, from Cloud Map's A records, as replica base URLs (in a stable order)."""

    def __init__(
        self,
        namespace: str,
        ttl: float,
        clock: Callable[[], float],
        resolve: Callable[[str], list[str]] | None = None,
    ) -> None:
        self._namespace, self._ttl, self._clock = namespace, ttl, clock
        self._resolve = resolve or task_addresses
        self._cache: dict[str, tuple[float, list[str]]] = {}

    def __call__(self, record: ServerRecord) -> list[str]:
        now = self._clock()
        cached = self._cache.get(record.id)
        if cached is not None and cached[0] > now:
            addresses = cached[1]
        else:
            addresses = sorted(self._resolve(discovery_name(record.id, self._namespace)))
            self._cache[record.id] = (now + self._ttl, addresses)
        return [f"http://{address}:{record.spec.port}" for address in addresses]


def edge_decision(records: ExpiringRecords) -> Callable[[str, str, Mapping[str, str]], Decision]:
    """The decision behind API Gateway: the caller it established, the server by name, the right to use it."""

    def decide(method: str, path: str, headers: Mapping[str, str]) -> Decision:
        caller = caller_from_identity_headers(headers)
        if caller is None:
            raise Unauthorized("No caller established by the edge")
        name = data_plane_server(method, path)
        if name is None:
            raise Forbidden("No such route")
        return Decision(caller=caller, server=require_use(caller, records.get_by_name(name)))

    return decide


def create_app(
    settings: RouterSettings,
    read_record: Callable[[str], ServerRecord | None],
    *,
    resolve: Callable[[str], list[str]] | None = None,
    clock: Callable[[], float] = time.monotonic,
    calls: CallGate | None = None,
) -> RequestLineRule:
    records = ExpiringRecords(read_record, settings.record_ttl_seconds, clock)
    gate = calls or CallGate(metrics=CallMetrics(keep_samples=True))
    plane = DataPlane(
        decide=edge_decision(records),
        replicas=DnsReplicas(settings.namespace, settings.dns_ttl_seconds, clock, resolve),
        hosts=TrustedHosts(settings.allowed_origins, check_host=False),
        key=settings.sealing_key,
        calls=gate,
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, plane, settings.metrics_seconds)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == HEALTH_PATH:
            await problem(send, 200, "Ok", "router up")
            return
        match = DATA_PLANE_ROUTE.match(scope["path"])
        if match is None:
            await problem(send, 404, "NotFound", "Not a data-plane path")
            return
        await plane(scope, receive, send, match.group("rest"))

    return RequestLineRule(app)


async def _lifespan(receive: Receive, send: Send, plane: DataPlane, metrics_seconds: float) -> None:
    exporting: asyncio.Task[None] | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            exporting = asyncio.ensure_future(_export_metrics(plane.calls.metrics, metrics_seconds))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if exporting is not None:
                exporting.cancel()
            emit_to_cloudwatch(plane.calls.metrics.drain())
            if plane.calls.recorder is not None:
                plane.calls.recorder.close()
            await plane.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


def build(
    settings: RouterSettings, dynamodb: Any, *, resolve: Callable[[str], list[str]] | None = None
) -> RequestLineRule:
    """The router as its task runs it: server records read from the servers table by name (GetItem), the call
    audit trail written to its table (BatchWriteItem) when one is configured, tasks found in Cloud Map (`resolve`
    stands in for it in tests and benches). template.yaml's RouterTaskRole grants exactly those calls, which
    tests/integration/test_router_role.py proves."""
    from hosted_mcp.adapters.dynamodb import DynamoDbServerStore
    from hosted_mcp.adapters.dynamodb_calls import DynamoDbCallAudit

    store = DynamoDbServerStore(dynamodb, settings.servers_table_name)
    recorder = None
    if settings.call_audit_table_name:
        retention = timedelta(days=settings.call_audit_retention_days)
        recorder = CallRecorder(DynamoDbCallAudit(dynamodb, settings.call_audit_table_name, retention=retention))
    gate = CallGate(recorder=recorder, metrics=CallMetrics(keep_samples=True))
    return create_app(settings, store.get_by_name, resolve=resolve, calls=gate)


async def _export_metrics(metrics: CallMetrics, seconds: float) -> None:
    """Every interval, what the data plane counted, as CloudWatch metrics on the task's log."""
    while True:
        await asyncio.sleep(seconds)
        emit_to_cloudwatch(metrics.drain())


USAGE = """usage: hosted-mcp-router

The Hosted MCP data-plane router (AWS): API Gateway -> ALB -> this -> server tasks found in Cloud Map.
Configured by environment variables only: SERVERS_TABLE_NAME, DISCOVERY_NAMESPACE, ROUTER_SEALING_KEY (required);
AWS_REGION, ALLOWED_ORIGINS, PORT (8080), RECORD_TTL_SECONDS (5), DNS_TTL_SECONDS (5), CALL_AUDIT_TABLE_NAME,
CALL_AUDIT_RETENTION_DAYS.
"""


def main(argv: list[str] | None = None) -> None:
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args:
        print(USAGE, end="")
        raise SystemExit(0 if args[0] in ("-h", "--help") else 2)
    import boto3
    import uvicorn

    settings = RouterSettings.from_environ()
    app = build(settings, boto3.client("dynamodb", region_name=settings.region))
    uvicorn.run(app, host="0.0.0.0", port=settings.port, log_level="warning", access_log=False)  # noqa: S104
