"""Cost model: what hosting costs per month, and what one server's full lifecycle costs the control plane.

Two designs are compared:
- ours: one shared internal ALB reached through one VPC link V2 for the whole platform, in front of one autoscaled
  router service (the data plane's own forwarder) that finds each server's tasks in a Cloud Map namespace; per
  server only a Fargate service, its Cloud Map registration and its requestState key; the images we own in ECR;
  reactions to facts, no polling.
- the reference: per server a dedicated NLB, ALB and VPC link V1, and Step Functions workflows that poll the
  stack every 60 s.

`lifecycle_counts()` drives the real control-plane logic (shared/hosted_mcp) through a full lifecycle with
counting fakes, so the per-lifecycle figures follow the code rather than a hand-typed table. Anything that
documents these counts (docs/benchmarks.md) should import `lifecycle_counts` / `step_functions_lifecycle_counts` or
print them with `python -m bench cost`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import prices
from bench.prices import HOURS_PER_MONTH
from bench.stats import Table, ratio, times, usd

# -- monthly hosting cost ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSize:
    """A Fargate task size as the API takes it (cpu units, MiB) and how many tasks run."""

    cpu: int = 256
    memory_mib: int = 512
    tasks: int = 1
    arch: str = "arm64"

    @property
    def vcpu(self) -> float:
        return self.cpu / 1024

    @property
    def memory_gb(self) -> float:
        return self.memory_mib / 1024


def fargate_month(size: TaskSize) -> float:
    """Monthly Fargate cost of `size.tasks` tasks running all month."""
    if size.arch == "arm64":
        vcpu, gb = prices.FARGATE_VCPU_HOUR_ARM.value, prices.FARGATE_GB_HOUR_ARM.value
    elif size.arch == "x86_64":
        vcpu, gb = prices.FARGATE_VCPU_HOUR_X86.value, prices.FARGATE_GB_HOUR_X86.value
    else:
        raise ValueError(f"unknown architecture {size.arch!r}")
    return size.tasks * (size.vcpu * vcpu + size.memory_gb * gb) * HOURS_PER_MONTH


def logs_month(gb: float = prices.ASSUMED_LOG_GB_PER_SERVER_MONTH.value) -> float:
    """Ingesting `gb` per month and keeping one month of it stored."""
    return gb * (prices.CLOUDWATCH_LOGS_GB_INGESTED.value + prices.CLOUDWATCH_LOGS_GB_MONTH_STORED.value)


def hourly_month(price: prices.Price, count: int = 1) -> float:
    return count * price.value * HOURS_PER_MONTH


# The router service as template.yaml deploys it by default: RouterMinTasks tasks of RouterCpu / RouterMemory.
ROUTER = TaskSize(cpu=512, memory_mib=1024, tasks=2, arch="x86_64")


@dataclass(frozen=True)
class MonthlyCost:
    design: str
    servers: int
    fixed: float  # paid once whatever the number of servers (networking, the router, discovery, images)
    per_server_network: float  # load balancers (reference); the Cloud Map registration of each task (ours)
    per_server_compute: float  # Fargate + logs: the same in both designs
    per_server_keys: float = 0.0  # the server's requestState secret (ours)

    @property
    def per_server(self) -> float:
        return self.per_server_network + self.per_server_compute + self.per_server_keys

    @property
    def total(self) -> float:
        return self.fixed + self.servers * self.per_server

    @property
    def average_per_server(self) -> float:
        return self.total / self.servers if self.servers else math.inf


RECONCILE_EVERY_MINUTES = 5  # template.yaml: ReconcileSchedule default, rate(5 minutes)
SERVER_COUNTS = (1, 100, 1000)  # a first server, the old ALB cap, and ten times it


def reconcile_month(every_minutes: int = RECONCILE_EVERY_MINUTES, memory_gb: float = 0.5) -> float:
    """The scheduled sweep: one invocation per period, whatever the number of servers."""
    invocations = HOURS_PER_MONTH * 60 / every_minutes
    seconds = prices.ASSUMED_RECONCILE_SECONDS.value
    return invocations * (
        prices.LAMBDA_MILLION_REQUESTS.value / 1e6 + memory_gb * seconds * prices.LAMBDA_GB_SECOND_ARM.value
    )


def break_even(size: TaskSize = TaskSize()) -> int:
    """The fewest servers for which ours costs less per month than the reference."""
    return next(n for n in range(1, 10_000) if ours_month(n, size).total < reference_month(n, size).total)


def router_month(router: TaskSize = ROUTER) -> float:
    """The router service at rest (its minimum tasks), its logs, its sealing key, the namespace, the images."""
    return (
        fargate_month(router)
        + logs_month(prices.ASSUMED_ROUTER_LOG_GB_MONTH.value)
        + prices.SECRETS_MANAGER_SECRET_MONTH.value
        + prices.ROUTE53_HOSTED_ZONE_MONTH.value
        + prices.ASSUMED_IMAGES_GB.value * prices.ECR_GB_MONTH.value
    )


def ours_month(servers: int, size: TaskSize = TaskSize(), router: TaskSize = ROUTER) -> MonthlyCost:
    fixed = hourly_month(prices.ALB_HOUR) + hourly_month(prices.VPC_LINK_HOUR) + reconcile_month()
    return MonthlyCost(
        "ours",
        servers,
        fixed + router_month(router),
        size.tasks * prices.CLOUD_MAP_INSTANCE_MONTH.value,
        fargate_month(size) + logs_month(),
        prices.SECRETS_MANAGER_SECRET_MONTH.value,
    )


def reference_month(servers: int, size: TaskSize = TaskSize()) -> MonthlyCost:
    network = hourly_month(prices.NLB_HOUR) + hourly_month(prices.ALB_HOUR) + hourly_month(prices.VPC_LINK_HOUR)
    return MonthlyCost("reference", servers, 0.0, network, fargate_month(size) + logs_month())


# -- per-lifecycle control-plane counts ----------------------------------------------------------------------------

LIFECYCLE = ("create", "update", "stop", "start", "delete")


@dataclass
class LifecycleCounts:
    """Billable control-plane operations for one server taken through create, update, stop, start, delete."""

    design: str
    lambda_invocations: int = 0
    dynamodb_item_writes: int = 0
    dynamodb_wru: int = 0
    cloudformation_calls: int = 0
    state_transitions: int = 0
    custom_events: int = 0
    servers_table_items: int = 0
    servers_table_wru: int = 0
    detail: Counter[str] = field(default_factory=Counter)

    def cost(self) -> float:
        """USD for one lifecycle (free tiers ignored; Lambda duration excluded: similar per invocation)."""
        return (
            self.lambda_invocations * prices.LAMBDA_MILLION_REQUESTS.value / 1e6
            + self.dynamodb_wru * prices.DYNAMODB_MILLION_WRU.value / 1e6
            + self.state_transitions * prices.STEP_FUNCTIONS_THOUSAND_TRANSITIONS.value / 1e3
            + self.custom_events * prices.EVENTBRIDGE_MILLION_CUSTOM_EVENTS.value / 1e6
            + self.cloudformation_calls * prices.CLOUDFORMATION_AWS_RESOURCE_OPERATION.value
        )


# Which Lambda function wakes for what, on AWS (template.yaml): the API function serves each management call; one
# function per reaction reads the stream (FilterCriteria wake it only for its transition); `settle` is the
# EventBridge rule target for terminal CloudFormation Stack Status Change events; `publish` reads every status
# change from the stream and publishes the event and the connection.
REACTION_FUNCTIONS = {"deploy": "deploy", "apply": "apply", "teardown": "teardown"}


def publish_wakes(change: Any) -> bool:
    """PublishFunction's FilterCriteria: INSERT and REMOVE, and MODIFY whose new status is not Creating."""
    if change.old is None or change.new is None:
        return True
    return bool(change.new.status.value != "Creating")


# DynamoDB items per store call (adapters/dynamodb.py): create = record + name guard + audit in one transaction; a
# status move = record + audit in one transaction; an amend = the record alone, still through TransactWriteItems;
# a removal = delete record + delete name guard + put audit in one transaction. The connection table takes plain
# PutItem/DeleteItem. A transactional write costs 2 WRU per KB of item, a standard one 1 WRU per KB.
KB = 1024


def wru(item_bytes: int, transactional: bool) -> int:
    return max(1, math.ceil(item_bytes / KB)) * (2 if transactional else 1)


def lifecycle_counts() -> LifecycleCounts:
    """Drive the real logic through a full lifecycle on AWS-shaped fakes and count what AWS would bill."""
    from hosted_mcp.adapters.memory import InMemoryServerStore
    from hosted_mcp.logic import reactions, servers
    from hosted_mcp.models.api import CreateServerRequest, UpdateServerRequest
    from hosted_mcp.models.domain import AuditEntry, Caller, ServerRecord, StatusChange
    from hosted_mcp.models.events import ServerEvent
    from hosted_mcp.models.settlement import Deployment, Settlement
    from hosted_mcp.ports import ApplyResult, Connections, DeploymentBackend, StatusEvents

    counts = LifecycleCounts("ours")
    changes: list[StatusChange] = []

    def write(kind: str, *item_bytes: int, transactional: bool = True) -> None:
        units = sum(wru(size, transactional) for size in item_bytes)
        counts.dynamodb_item_writes += len(item_bytes)
        counts.dynamodb_wru += units
        counts.detail[f"dynamodb.{kind}"] += 1
        if not kind.startswith("connection"):
            counts.servers_table_items += len(item_bytes)
            counts.servers_table_wru += units

    def size(model: Any) -> int:
        return len(model.model_dump_json())

    class CountingStore(InMemoryServerStore):
        def create(self, record: ServerRecord, audit: AuditEntry) -> None:
            super().create(record, audit)
            write("create", size(record), len(record.normalizedName) + 64, size(audit))
            changes.append(StatusChange(None, record))

        def replace(self, expected: ServerRecord, new: ServerRecord, audit: AuditEntry | None) -> None:
            super().replace(expected, new, audit)
            write("move" if audit else "amend", size(new), *([size(audit)] if audit else []))
            changes.append(StatusChange(expected, new))

        def remove(self, expected: ServerRecord, audit: AuditEntry) -> None:
            super().remove(expected, audit)
            write("remove", size(expected), len(expected.normalizedName) + 64, size(audit))
            changes.append(StatusChange(expected, None))

    class Stack(DeploymentBackend):
        """CloudFormation: one API call per action; the outcome arrives later as an event."""

        def __init__(self) -> None:
            self.settled: list[Settlement] = []

        def _call(self, record: ServerRecord, name: str) -> None:
            counts.cloudformation_calls += 1
            counts.detail[f"cloudformation.{name}"] += 1
            self.settled.append(
                Settlement(
                    serverId=record.id,
                    deploymentId=record.deploymentId or f"stack-{record.id}",
                    outcome="deployed",
                    reason=f"{name} complete",
                    token=record.requestToken,
                )
            )

        def deploy(self, record: ServerRecord) -> Deployment:
            self._call(record, "CreateStack")
            return Deployment(deploymentId=f"stack-{record.id}", stackName=f"hosted-mcp-{record.normalizedName}")

        def apply(self, record: ServerRecord) -> ApplyResult:
            self._call(record, "UpdateStack")
            return ApplyResult.STARTED

        def teardown(self, record: ServerRecord) -> ApplyResult:
            self._call(record, "DeleteStack")
            return ApplyResult.STARTED

        def describe(self, record: ServerRecord) -> Settlement | None:
            counts.cloudformation_calls += 1
            return None

        def loss(self, record: ServerRecord) -> str | None:
            counts.cloudformation_calls += 1
            return None

    class Bus(StatusEvents):
        def publish(self, event: ServerEvent) -> None:
            counts.custom_events += 1

    class ConnectionTable(Connections):
        def publish(self, record: ServerRecord, url: str, active: bool) -> None:
            write("connection.put", 512, transactional=False)

        def remove(self, server_id: str) -> None:
            write("connection.delete", 64, transactional=False)

    store, stack, bus, connections = CountingStore(), Stack(), Bus(), ConnectionTable()
    clock = datetime(2026, 1, 1, tzinfo=UTC)
    admin = Caller(username="admin", isAdmin=True)

    def invoke(function: str) -> None:
        counts.lambda_invocations += 1
        counts.detail[f"lambda.{function}"] += 1

    def drain() -> None:
        """Deliver stream records and settlements until the system is quiet, as AWS would."""
        nonlocal clock
        while changes or stack.settled:
            while changes:
                change = changes.pop(0)
                clock += timedelta(seconds=1)
                reaction = reactions.reaction_for(change)
                if reaction in REACTION_FUNCTIONS and change.new is not None:
                    invoke(REACTION_FUNCTIONS[reaction])
                    if reaction == "deploy":
                        reactions.deploy_server(store, stack, change.new.id, now=clock)
                    elif reaction == "apply":
                        reactions.apply_change(store, stack, change.new.id, change.new.status, now=clock)
                    else:
                        reactions.tear_down(store, stack, change.new.id, now=clock)
                if publish_wakes(change):
                    invoke("publish")
                    reactions.publish_status(bus, change)
                    reactions.publish_connection(connections, change, "https://api.example/mcp/x/mcp")
            if stack.settled:
                invoke("settle")
                reactions.settle_deployment(store, None, stack.settled.pop(0), now=clock)

    invoke("api")
    record = servers.create_server(
        store, CreateServerRequest(name="bench", serverType="stdio", startCommand="server"), admin, now=clock
    )
    drain()
    for body in ({"environment": {"LEVEL": "debug"}}, {"enabled": False}, {"enabled": True}):
        invoke("api")
        servers.update_server(store, record.id, UpdateServerRequest.model_validate(body), admin, now=clock)
        drain()
    invoke("api")
    servers.delete_server(store, record.id, admin, now=clock)
    drain()
    if store.get(record.id) is not None:
        raise RuntimeError("the lifecycle did not end with the record removed")
    return counts


# -- tables --------------------------------------------------------------------------------------------------------


def tables(size: TaskSize = TaskSize()) -> list[Table]:
    hosting = Table(
        f"Cost: monthly hosting, us-east-1 on-demand ({size.tasks} task of {size.cpu} CPU / {size.memory_mib} MiB, "
        f"{size.arch}, per server)",
        ["servers", "ours total", "ours /server", "reference total", "reference /server", "ours / reference"],
    )
    for n in SERVER_COUNTS:
        ours, reference = ours_month(n, size), reference_month(n, size)
        hosting.add(
            n,
            usd(ours.total),
            usd(ours.average_per_server),
            usd(reference.total),
            usd(reference.average_per_server),
            times(ratio(ours.total, reference.total)),
        )
    ours1, reference1 = ours_month(1, size), reference_month(1, size)
    hosting.notes = [
        f"Fixed platform cost that differs: ours {usd(ours1.fixed)}/month: one shared ALB "
        f"({usd(hourly_month(prices.ALB_HOUR))}; VPC link V2 $0), the router at rest ({usd(router_month())}: "
        f"{ROUTER.tasks} x86 tasks of {ROUTER.cpu} CPU / {ROUTER.memory_mib} MiB {usd(fargate_month(ROUTER))}, its "
        f"logs, its sealing key, the namespace's hosted zone, the two images in ECR), the reconcile sweep every "
        f"{RECONCILE_EVERY_MINUTES} min ({usd(reconcile_month())}); reference {usd(reference1.fixed)}. The API, tables "
        "and functions both designs share are left out.",
        f"Per server, beyond compute: ours {usd(ours1.per_server_network + ours1.per_server_keys)} (the "
        f"requestState secret {usd(ours1.per_server_keys)}, the Cloud Map registration of each task "
        f"{usd(ours1.per_server_network)}; no load-balancer resource), reference {usd(reference1.per_server_network)} "
        "(NLB + ALB; VPC link V1 $0, its cost is the NLB).",
        f"Per server compute + logs (both): {usd(ours1.per_server_compute)} "
        f"(Fargate {usd(fargate_month(size))}, logs {usd(logs_month())} at an assumed "
        f"{prices.ASSUMED_LOG_GB_PER_SERVER_MONTH.value} GB/month).",
        f"Break-even: from {break_even(size)} servers on, ours costs less; below, the router's two tasks (two AZs) "
        "cost more than one server's NLB and ALB.",
        "Limits: ours holds 1,000 servers in one ALB target group (Cloud Map: 2,000 registered tasks per namespace by "
        "default, adjustable; 1,000 per server). The reference's 1,000 servers need 1,000 NLBs and 1,000 ALBs "
        "(default quotas: 50 of each per region).",
        "Traffic-driven charges (API Gateway calls, LCU/NLCU, data, router tasks added by autoscaling, DNS queries) "
        "are excluded: the same calls cross one load balancer and one router in ours and two load balancers in the "
        "reference.",
    ]
    return [hosting, lifecycle_table()]


REFERENCE_WRU_PER_WRITE = 2  # a standard write of a 1-2 KB record (the same configuration fields as ours)


def lifecycle_table() -> Table:
    """Per-lifecycle counts from the one place the lifecycle table of docs/benchmarks.md comes from
    (tests/support/lifecycle_cost.py: ours as the choreography test measures it against the real handlers, the
    reference as a polling model)."""
    from tests.support import lifecycle_cost as shared

    ours, reference = shared.total(shared.CHOREOGRAPHY), shared.total(shared.reference_costs())
    driven = lifecycle_counts()
    ours_wru = driven.servers_table_wru / max(1, driven.servers_table_items) * ours.item_writes
    ours_usd = (
        ours.lambdas * prices.LAMBDA_MILLION_REQUESTS.value / 1e6
        + ours_wru * prices.DYNAMODB_MILLION_WRU.value / 1e6
        + driven.custom_events * prices.EVENTBRIDGE_MILLION_CUSTOM_EVENTS.value / 1e6
    )
    reference_usd = (
        reference.lambdas * prices.LAMBDA_MILLION_REQUESTS.value / 1e6
        + reference.item_writes * REFERENCE_WRU_PER_WRITE * prices.DYNAMODB_MILLION_WRU.value / 1e6
        + reference.state_transitions * prices.STEP_FUNCTIONS_THOUSAND_TRANSITIONS.value / 1e3
    )
    table = Table(
        "Cost: control-plane operations per full lifecycle (create, update, stop, start, delete)",
        ["operation", "ours (choreography)", "reference (Step Functions, 60 s polls)", "ours / reference"],
    )
    for label, a, b in (
        ("Lambda invocations", ours.lambdas, reference.lambdas),
        ("DynamoDB item writes (servers table)", ours.item_writes, reference.item_writes),
        ("DynamoDB write request units (est.)", round(ours_wru), reference.item_writes * REFERENCE_WRU_PER_WRITE),
        ("CloudFormation API calls", ours.cloudformation_calls, reference.cloudformation_calls),
        ("Step Functions state transitions", ours.state_transitions, reference.state_transitions),
        ("EventBridge custom events (status bus)", driven.custom_events, 0),
    ):
        table.add(label, a, b, times(ratio(a, b)))
    table.add("USD per lifecycle", f"${ours_usd:.6f}", f"${reference_usd:.6f}", times(ratio(ours_usd, reference_usd)))
    agree = driven.lambda_invocations == ours.lambdas and driven.servers_table_items == ours.item_writes
    table.notes = [
        "Counts come from tests/support/lifecycle_cost.py, the source of the lifecycle table in docs/benchmarks.md: "
        "ours is what the choreography test measures through the real handlers; the reference is a model whose polls "
        f"depend on assumed stack times ({shared.REFERENCE_MINUTES} minutes, one poll per {shared.POLL_SECONDS} s).",
        f"Cross-check: driving shared/hosted_mcp's logic directly (bench.cost.lifecycle_counts) gives "
        f"{driven.lambda_invocations} invocations and {driven.servers_table_items} servers-table item writes"
        + (" (the same)." if agree else " (DIFFERENT: one of the two is stale)."),
        "Write units: ours are transactional (2 WRU per KB) and records are 1-2 KB; the reference's are standard.",
        "Ours writes more: every status change appends its audit entry in the same transaction. That buys "
        "conditional, audited status writes for a few millionths of a dollar per lifecycle.",
    ]
    return table


def price_table() -> Table:
    table = Table("Prices used (bench/prices.py)", ["constant", "value", "unit", "kind"])
    for name, price in prices.all_prices().items():
        kind = "assumption" if price.assumption else ("secondary source" if price.secondary else "AWS page")
        table.add(name, f"{price.value:g}", price.unit, kind)
    table.notes = [f"Read {prices.READ}; sources are listed beside each constant in bench/prices.py."]
    return table


# -- the data plane, per million calls ---------------------------------------------------------------------------

MILLION = 1_000_000
AUTHORIZER_MEMORY_GB = 1.0  # template.yaml AuthorizerFunction MemorySize 1024
AUTHORIZER_READS = 2  # strongly consistent GetItems per decision: the name guard, then the record (<= 4 KB each)
FIREHOSE_RECORD_KB = 5


def dynamodb_item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item (AttributeValue map): attribute names plus values (strings by UTF-8 length,
    numbers by about one byte per two significant digits plus one)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        ((kind, raw),) = value.items()
        size += len(str(raw).encode()) if kind == "S" else len(str(raw).replace(".", "").lstrip("0-")) // 2 + 1
    return size


@dataclass(frozen=True)
class PerMillionCalls:
    item_bytes: int
    audit_writes: float
    audit_storage_month: float
    firehose: float
    authorizer: float

    @property
    def audit(self) -> float:
        return self.audit_writes + self.audit_storage_month


def per_million_calls() -> PerMillionCalls:
    """What a million calls cost the data plane's own pieces: their audit entries (written, kept a month), and the
    uncached data-plane authorizer for each request. The item is the real one the adapter writes for a typical call."""
    from hosted_mcp.adapters.dynamodb_calls import call_item
    from hosted_mcp.models.calls import CallOutcome, CallRecord

    call = CallRecord(
        id="9f86d081884c7d659a2feaa0c55ad015",
        serverId="2c26b46b68ffc68ff99b453c1d304134",
        at=datetime(2026, 12, 1, 9, 30, 12, 123456, tzinfo=UTC),
        caller="ada.lovelace@example.com",
        credentialType="jwt",
        method="tools/call",
        name="search_documents",
        outcome=CallOutcome.OK,
        durationMs=12.345,
        requestBytes=412,
        responseBytes=2980,
        traceId="4bf92f3577b34da6a3ce929d0e0e4736",
        spanId="00f067aa0ba902b7",
        parentSpanId="b7ad6b7169203331",
    )
    item_bytes = dynamodb_item_bytes(call_item(call, timedelta(days=30)))
    stored_gb = MILLION * (item_bytes + 100) / KB**3
    duration = prices.ASSUMED_AUTHORIZER_MS.value / 1000 * AUTHORIZER_MEMORY_GB * prices.LAMBDA_GB_SECOND_ARM.value
    return PerMillionCalls(
        item_bytes=item_bytes,
        audit_writes=wru(item_bytes, transactional=False) * prices.DYNAMODB_MILLION_WRU.value,
        audit_storage_month=stored_gb * prices.DYNAMODB_GB_MONTH.value,
        firehose=MILLION * FIREHOSE_RECORD_KB / KB**2 * prices.FIREHOSE_GB_INGESTED.value,
        authorizer=prices.LAMBDA_MILLION_REQUESTS.value
        + MILLION * duration
        + AUTHORIZER_READS * prices.DYNAMODB_MILLION_RRU.value,
    )


def per_call_table() -> Table:
    cost = per_million_calls()
    table = Table("Cost: the data plane's own pieces, per million calls (us-east-1 on-demand)", ["what", "USD"])
    table.add("audit trail: DynamoDB on-demand writes (1 WRU per call)", f"${cost.audit_writes:.3f}")
    table.add("audit trail: storage, kept 30 days", f"${cost.audit_storage_month:.3f}")
    table.add("audit trail, total", f"${cost.audit:.3f}")
    table.add("(alternative: Firehose to S3, ingestion only)", f"${cost.firehose:.3f}")
    table.add("data-plane authorizer, uncached: one invocation per request", f"${cost.authorizer:.3f}")
    wru_price, gb_month = prices.DYNAMODB_MILLION_WRU.value, prices.DYNAMODB_GB_MONTH.value
    table.notes = [
        f"An audit item is {cost.item_bytes} bytes (the item the adapter writes for a typical call: 14 fields, keys "
        f"and expiry), so one write request unit; stored with DynamoDB's 100-byte overhead. Writes: 1,000,000 x "
        f"${wru_price}/million WRU. Storage: 1,000,000 x {cost.item_bytes + 100} B x ${gb_month}/GB-month for the "
        "one month retention keeps it.",
        f"Firehose bills each record as at least {FIREHOSE_RECORD_KB} KB: 1,000,000 x 5 KB = 4.77 GB x "
        f"${prices.FIREHOSE_GB_INGESTED.value}/GB; cheaper, but read through Athena in seconds, not an API page.",
        f"Authorizer: ${prices.LAMBDA_MILLION_REQUESTS.value}/million requests + "
        f"{prices.ASSUMED_AUTHORIZER_MS.value:g} ms (assumed) x 1 GB x ${prices.LAMBDA_GB_SECOND_ARM.value}/GB-s + "
        f"{AUTHORIZER_READS} strongly consistent reads x ${prices.DYNAMODB_MILLION_RRU.value}/million RRU. It is "
        "per request (each MCP message a client POSTs), not per call; the router's reads are cached 5 s.",
    ]
    return table


def run(args: object) -> list[Table]:
    return [*tables(TaskSize()), *tables(TaskSize(arch="x86_64"))[:1], per_call_table(), price_table()]
