"""The whole choreography in process: the API writes a record, the servers table's stream (moto) goes through the
records pipe's filter and onto the record-changes bus as template.yaml says, each function whose rule matches wakes,
deploy/apply/teardown drive a scripted CloudFormation, its stack status events wake settle, publish announces on the
status bus (moto EventBridge -> SQS) and writes the connection.

Every handler is the real `functions/<name>/app.py`; only CloudFormation (see tests/support/fake_cloudformation.py)
and the MCP readiness probe (a network call into the VPC) are stand-ins.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from hosted_mcp.adapters.cloudformation import CloudFormationBackend
from hosted_mcp.adapters.stack_template import StackPlatform
from hosted_mcp.lifecycle import lifecycle
from hosted_mcp.models.domain import ServerRecord
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.ports import ReadinessProbe
from hosted_mcp.wiring import aws
from tests.support.events import EVENTS_DIR, api_event, response_json
from tests.support.fake_cloudformation import FakeCloudFormation, Script
from tests.support.filters import matches, record_changed_event, stack_rule_pattern, wakes
from tests.support.lambdas import FakeLambdaContext, load_handler
from tests.support.lifecycle_cost import CHOREOGRAPHY, OPERATIONS, Cost, cost_table

REACTIONS = {
    "deploy": "DeployFunction",
    "apply": "ApplyFunction",
    "teardown": "TeardownFunction",
    "publish": "PublishFunction",
}
CONNECTIONS_TABLE = "lisa-mcp-connections"
BUS = "hosted-mcp-status"
API_URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"
PLATFORM = StackPlatform(
    stackPrefix="hmcp",
    parameterPrefix="/hosted-mcp/server-stacks",
)
CREATE = {
    "name": "docs-mcp-workbench",
    "description": "Company knowledge base tools",
    "serverType": "stdio",
    "startCommand": "python main.py",
    "s3Path": "hosting-bucket/servers/docs-mcp/",
    "autoScalingConfig": {"minCapacity": 1, "maxCapacity": 2},
    "environment": {"LOG_LEVEL": "info"},
    "groups": ["admins"],
}


class ScriptedProbe(ReadinessProbe):
    """The MCP readiness check through the internal ALB, answered by the test."""

    def __init__(self) -> None:
        self.problems: list[str | None] = []
        self.checked: list[str] = []

    def problem(self, record: ServerRecord) -> str | None:
        self.checked.append(record.id)
        return self.problems.pop(0) if self.problems else None


@dataclass
class Delivery:
    """How the outside world delivers: every stream record and stack event once, in order, unless told otherwise."""

    duplicate_records: bool = False
    duplicate_events: bool = False
    shuffle_events: bool = False
    drop_events: bool = False
    rng: random.Random = field(default_factory=lambda: random.Random(7))


@dataclass
class Choreography:
    cfn: FakeCloudFormation
    probe: ScriptedProbe
    handlers: dict[str, Any]
    stream_arn: str
    streams: Any
    sqs: Any
    bus_queue: str
    connections: Any
    delivery: Delivery = field(default_factory=Delivery)
    late_events: list[dict[str, Any]] = field(default_factory=list)
    woken: list[tuple[str, str]] = field(default_factory=list)
    invocations: Counter[str] = field(default_factory=Counter)
    item_writes: int = 0
    _iterators: dict[str, str] = field(default_factory=dict)

    # -- the outside world ------------------------------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        server_id: str | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        params = {"serverId": server_id} if server_id else None
        self.invocations["api"] += 1
        result = self.handlers["api"].handler(
            api_event(method, path, body=body, query=query, path_parameters=params), FakeLambdaContext()
        )
        return result["statusCode"], response_json(result)

    def create(self, **overrides: Any) -> str:
        status, body = self.api("POST", "/mcp", CREATE | overrides)
        assert status in (200, 201), body
        assert body["status"] == "Creating"
        return str(body["id"])

    def update(self, server_id: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = self.api("PUT", f"/mcp/{server_id}", body, server_id)
        assert status == 200, answer
        return dict(answer)

    def delete(self, server_id: str) -> None:
        status, answer = self.api("DELETE", f"/mcp/{server_id}", None, server_id)
        assert status in (200, 202, 204), answer

    def record(self, server_id: str) -> ServerRecord | None:
        return aws.server_store().get(server_id)

    # -- the stream and EventBridge, as Lambda and the rule would deliver them ----------------------------------

    def _stream_records(self) -> list[dict[str, Any]]:
        if not self._iterators:
            shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
            for shard in shards:
                self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
        records = []
        for shard, iterator in list(self._iterators.items()):
            page = self.streams.get_records(ShardIterator=iterator)
            self._iterators[shard] = page["NextShardIterator"]
            records.extend(page["Records"])
        self.item_writes += len(records)
        return [self._as_lambda_record(r) for r in records]

    def _as_lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        lambda_record = json.loads(json.dumps(record, default=lambda d: int(d.timestamp())))
        lambda_record["eventSourceARN"] = self.stream_arn
        return lambda_record

    def _invoke_reaction(self, reaction: str, record: dict[str, Any]) -> None:
        """What the reaction's rule does with the change the pipe put on the bus: invoke its function with it."""
        self.invocations[reaction] += 1
        self.handlers[reaction].handler(record_changed_event(record), FakeLambdaContext())
        self.woken.append((reaction, record["dynamodb"].get("NewImage", {}).get("status", {}).get("S", "-")))

    def _deliver(self, event: dict[str, Any]) -> None:
        if matches(stack_rule_pattern(), event):
            self.invocations["settle"] += 1
            self.handlers["settle"].handler(event, FakeLambdaContext())

    def run(self, max_rounds: int = 30) -> None:
        """Deliver until nothing new happens: stream records to the functions they wake, then stack events."""
        for _ in range(max_rounds):
            records = self._stream_records()
            events = self.cfn.take_events()
            if not records and not events:
                return
            for record in records:
                for reaction, function in REACTIONS.items():
                    if wakes(function, record):
                        self._invoke_reaction(reaction, record)
                        if self.delivery.duplicate_records:
                            self._invoke_reaction(reaction, record)
            if self.delivery.drop_events:
                self.late_events.extend(events)
                continue
            if self.delivery.duplicate_events:
                events = events + events
            if self.delivery.shuffle_events:
                self.delivery.rng.shuffle(events)
            for event in events:
                self._deliver(event)
        raise AssertionError("the choreography did not come to rest")

    def redeliver_late(self) -> None:
        for event in self.late_events:
            self._deliver(event)
        self.late_events.clear()
        self.run()

    # -- what subscribers see -----------------------------------------------------------------------------------

    def bus_events(self) -> list[dict[str, Any]]:
        events = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.bus_queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return sorted(events, key=lambda e: e["detail"]["version"])
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.bus_queue, ReceiptHandle=message["ReceiptHandle"])

    def transitions(self, server_id: str) -> list[tuple[str | None, str | None]]:
        return [
            (e["detail"]["fromStatus"], e["detail"]["toStatus"])
            for e in self.bus_events()
            if e["detail"]["serverId"] == server_id
        ]

    def connection(self, server_id: str) -> dict[str, Any] | None:
        item = self.connections.get_item(Key={"id": server_id, "owner": "lisa:public"}).get("Item")
        return dict(item) if item else None

    def stack_resources(self, server_id: str) -> dict[str, Any]:
        (stack,) = [s for s in self.cfn.stacks.values() if server_id in s.name]
        return dict(json.loads(stack.template)["Resources"])


def start_choreography(
    servers_table: Any, monkeypatch: pytest.MonkeyPatch, handlers: dict[str, Any] | None = None
) -> Choreography:
    """The choreography around a servers table already created in moto (the fixture's, or a state machine's own);
    `handlers` reuses loaded handler modules (they read every port through the wiring at each invocation)."""
    for name, value in {
        "STACK_PREFIX": PLATFORM.stackPrefix,
        "STATUS_BUS_NAME": BUS,
        "CONNECTIONS_TABLE_NAME": CONNECTIONS_TABLE,
        "API_BASE_URL": API_URL,
        "POWERTOOLS_SERVICE_NAME": "hosted-mcp-test",
    }.items():
        monkeypatch.setenv(name, value)
    dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
    connections = dynamodb.create_table(
        TableName=CONNECTIONS_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "owner", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "owner", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    events, sqs = boto3.client("events", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    events.create_event_bus(Name=BUS)
    queue = sqs.create_queue(QueueName="bus-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all-status", EventBusName=BUS, EventPattern=json.dumps({"source": ["hosted-mcp"]}))
    events.put_targets(Rule="all-status", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])

    cfn, probe = FakeCloudFormation(), ScriptedProbe()
    aws.clear_factories()
    backend = CloudFormationBackend(cfn, PLATFORM)
    monkeypatch.setattr(aws.AwsReactionPorts, "backend", property(lambda _: backend))
    monkeypatch.setattr(aws, "cloudformation_client", lambda: cfn)
    monkeypatch.setattr(aws.AwsReactionPorts, "probe", property(lambda _: probe))
    handlers = handlers or {name: load_handler(name) for name in ("api", *REACTIONS, "settle", "reconcile", "follow")}
    return Choreography(
        cfn=cfn,
        probe=probe,
        handlers=handlers,
        stream_arn=servers_table.latest_stream_arn,
        # moto answers the regional endpoint, not the account-based one botocore picks from a stream ARN
        streams=boto3.client(
            "dynamodbstreams", region_name="us-east-1", config=Config(account_id_endpoint_mode="disabled")
        ),
        sqs=sqs,
        bus_queue=queue,
        connections=connections,
    )


@pytest.fixture
def choreography(servers_table: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Choreography]:
    yield start_choreography(servers_table, monkeypatch)
    aws.clear_factories()


def assert_at_rest(flow: Choreography, server_id: str) -> None:
    record = flow.record(server_id)
    if record is not None:
        assert not lifecycle().is_transitional(record.status), record.status


# -- the happy path, end to end ------------------------------------------------------------------------------------


def test_a_server_lives_its_whole_lifecycle(choreography: Choreography) -> None:
    flow = choreography
    # Given an admin creates a server
    server_id = flow.create()
    # When the choreography runs
    flow.run()
    # Then it is InService behind its own stack, verified by the MCP probe, and published as a connection
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.IN_SERVICE
    assert record.stackName
    assert record.stackName.startswith(f"hmcp-{server_id}-")
    assert record.deploymentId
    assert record.stackName in record.deploymentId
    assert flow.probe.checked == [server_id]
    connection = flow.connection(server_id)
    assert connection is not None
    assert connection["status"] == "active"
    assert connection["url"] == f"{API_URL}/mcp/docsmcpworkbench/mcp"
    assert connection["customHeaders"] == {"Authorization": "Bearer {LISA_BEARER_TOKEN}"}
    assert connection["groups"] == ["group:admins"]
    assert flow.transitions(server_id) == [(None, "Creating"), ("Creating", "InService")]
    assert ("deploy", "Creating") in flow.woken

    # When its environment is updated, Then the same stack carries the new config and it is back InService
    flow.update(server_id, {"environment": {"LOG_LEVEL": "debug"}})
    flow.run()
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.IN_SERVICE
    assert record.spec.environment == {"LOG_LEVEL": "debug"}
    server = flow.stack_resources(server_id)["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert {"Name": "LOG_LEVEL", "Value": "debug"} in next(c for c in server if c["Name"] == "server")["Environment"]

    # When it is stopped, Then the service and its scaling are at zero and the connection is inactive
    flow.update(server_id, {"enabled": False})
    flow.run()
    record = flow.record(server_id)
    assert record is not None
    assert (record.status, record.enabled) == (ServerStatus.STOPPED, False)
    resources = flow.stack_resources(server_id)
    assert resources["Service"]["Properties"]["DesiredCount"] == 0
    assert resources["ScalableTarget"]["Properties"]["MaxCapacity"] == 0
    assert (flow.connection(server_id) or {})["status"] == "inactive"

    # When it is started, Then scaling is restored
    flow.update(server_id, {"enabled": True})
    flow.run()
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.IN_SERVICE
    assert flow.stack_resources(server_id)["ScalableTarget"]["Properties"]["MinCapacity"] == 1
    assert (flow.connection(server_id) or {})["status"] == "active"

    # When it is deleted, Then the stack is gone, then the record, then the connection
    flow.delete(server_id)
    flow.run()
    assert flow.record(server_id) is None
    assert flow.api("GET", f"/mcp/{server_id}", server_id=server_id)[0] == 404
    assert flow.connection(server_id) is None
    (stack,) = flow.cfn.stacks.values()
    assert stack.status == "DELETE_COMPLETE"
    assert flow.transitions(server_id) == [
        ("InService", "Updating"),
        ("Updating", "InService"),
        ("InService", "Stopping"),
        ("Stopping", "Stopped"),
        ("Stopped", "Starting"),
        ("Starting", "InService"),
        ("InService", "Deleting"),
        ("Deleting", None),
    ]


def test_duplicated_and_reordered_deliveries_change_nothing(choreography: Choreography) -> None:
    flow = choreography
    # Given every stream record is delivered twice and every stack event twice, in random order
    flow.delivery = Delivery(duplicate_records=True, duplicate_events=True, shuffle_events=True)
    server_id = flow.create()
    flow.run()
    flow.update(server_id, {"enabled": False})
    flow.run()
    flow.update(server_id, {"enabled": True})
    flow.run()
    # Then the outcome is the one single deliveries give: one stack, one create, one update per change
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.IN_SERVICE
    assert [c for c, _ in flow.cfn.calls].count("CreateStack") == 2  # the duplicate is answered by its token
    assert len(flow.cfn.stacks) == 1
    # And every status change was announced (duplicates carry the same correlation id)
    bus = flow.bus_events()
    announced = {e["detail"]["correlationId"]: (e["detail"]["fromStatus"], e["detail"]["toStatus"]) for e in bus}
    assert sorted(announced.values(), key=str) == sorted(
        [
            (None, "Creating"),
            ("Creating", "InService"),
            ("InService", "Stopping"),
            ("Stopping", "Stopped"),
            ("Stopped", "Starting"),
            ("Starting", "InService"),
        ],
        key=str,
    )


def test_a_stale_stack_event_arriving_late_changes_nothing(choreography: Choreography) -> None:
    flow = choreography
    # Given a server created and updated, whose creation's CREATE_COMPLETE we hold back
    server_id = flow.create()
    flow.run()
    flow.update(server_id, {"environment": {"LOG_LEVEL": "debug"}})
    flow.cfn.script("update", Script("fail", "TaskDefinition", "image not found"))
    flow.delivery = Delivery(drop_events=True)
    flow.run()
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.UPDATING
    # When the old CREATE_COMPLETE (another operation's token) arrives before the update's rollback
    stale = {
        "version": "0",
        "id": "5f0e6c2a-late-create-complete",
        "detail-type": "CloudFormation Stack Status Change",
        "source": "aws.cloudformation",
        "account": "123456789012",
        "time": "2026-11-24T01:00:00Z",
        "region": "us-east-1",
        "resources": [record.deploymentId],
        "detail": {
            "stack-id": record.deploymentId,
            "status-details": {"status": "CREATE_COMPLETE", "status-reason": ""},
            "client-request-token": f"hmcp-{server_id}-1",
        },
    }
    flow.handlers["settle"].handler(stale, FakeLambdaContext())
    # Then the record still waits for its own outcome
    still = flow.record(server_id)
    assert still is not None
    assert still.status is ServerStatus.UPDATING
    # And when the rollback arrives it goes back to InService with the old config and the real reason
    flow.redeliver_late()
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.IN_SERVICE
    assert record.spec.environment == {"LOG_LEVEL": "info"}
    assert record.lastError == "TaskDefinition: image not found"


# -- every failure ends in the right status, with the real reason ------------------------------------------------


@dataclass(frozen=True)
class FailureCase:
    name: str
    arrange: Callable[[Choreography], None]
    act: Callable[[Choreography, str], None]
    status: ServerStatus | None
    reason: str


def _nothing(flow: Choreography, server_id: str) -> None:
    return None


def _update(flow: Choreography, server_id: str) -> None:
    flow.update(server_id, {"environment": {"LOG_LEVEL": "debug"}})


def _stop(flow: Choreography, server_id: str) -> None:
    flow.update(server_id, {"enabled": False})


def _delete(flow: Choreography, server_id: str) -> None:
    flow.delete(server_id)


FAILURES = [
    FailureCase(
        "create rolls back",
        lambda f: f.cfn.script("create", Script("fail", "Service", "ECS Deployment Circuit Breaker was triggered.")),
        _nothing,
        ServerStatus.FAILED,
        "Service: ECS Deployment Circuit Breaker was triggered.",
    ),
    FailureCase(
        "create rejected",
        lambda f: f.cfn.script("create", Script("reject", reason="Unresolved resource dependencies [X]")),
        _nothing,
        ServerStatus.FAILED,
        "Template format error: Unresolved resource dependencies [X]",
    ),
    FailureCase(
        "deployed but not answering MCP",
        lambda f: f.probe.problems.append("no answer within 5s"),
        _nothing,
        ServerStatus.FAILED,
        "deployed but does not answer MCP: no answer within 5s",
    ),
    FailureCase(
        "update rolls back",
        lambda f: f.cfn.script("update", Script("fail", "TaskDefinition", "image not found")),
        _update,
        ServerStatus.IN_SERVICE,
        "TaskDefinition: image not found",
    ),
    FailureCase(
        "stop rolls back",
        lambda f: f.cfn.script("update", Script("fail", "ScalableTarget", "Rate exceeded")),
        _stop,
        ServerStatus.IN_SERVICE,
        "ScalableTarget: Rate exceeded",
    ),
    FailureCase(
        "update rollback fails",
        lambda f: f.cfn.script("update", Script("fail-rollback", "Service", "Service did not stabilize")),
        _update,
        ServerStatus.FAILED,
        "Service: Service did not stabilize",
    ),
    FailureCase(
        "update rejected",
        lambda f: f.cfn.script("update", Script("reject", reason="Parameter DiscoveryNamespaceId is invalid")),
        _update,
        ServerStatus.IN_SERVICE,
        "Template format error: Parameter DiscoveryNamespaceId is invalid",
    ),
    FailureCase(
        "delete fails",
        lambda f: f.cfn.script("delete", Script("fail", "Discovery", "Service contains registered instances")),
        _delete,
        ServerStatus.FAILED,
        "Discovery: Service contains registered instances",
    ),
]


@pytest.mark.parametrize("case", FAILURES, ids=[c.name for c in FAILURES])
def test_every_failure_ends_in_the_right_status_with_the_real_reason(
    choreography: Choreography, case: FailureCase
) -> None:
    flow = choreography
    # Given a server (already InService unless the failure is in its creation)
    in_creation = case.act is _nothing
    if in_creation:
        case.arrange(flow)
    server_id = flow.create()
    flow.run()
    if not in_creation:
        case.arrange(flow)
        # When the action fails
        case.act(flow, server_id)
        flow.run()
    # Then the record is where the lifecycle says, with CloudFormation's own reason, and nothing is left transitional
    record = flow.record(server_id)
    assert record is not None
    assert (record.status, record.lastError) == (case.status, case.reason)
    assert_at_rest(flow, server_id)
    events = flow.bus_events()
    assert events[-1]["detail"]["lastError"] == case.reason
    # And a failed server can still be deleted cleanly
    if record.status is ServerStatus.FAILED:
        flow.delete(server_id)
        flow.run()
        assert flow.record(server_id) is None
        assert flow.connection(server_id) is None


def test_an_update_that_changes_nothing_settles_without_a_stack_operation(choreography: Choreography) -> None:
    flow = choreography
    server_id = flow.create()
    flow.run()
    flow.update(server_id, {"environment": {"LOG_LEVEL": "debug"}})
    flow.run()
    updates = [c for c, _ in flow.cfn.calls].count("UpdateStack")
    # When the update asks for what is already running
    flow.update(server_id, {"environment": {"LOG_LEVEL": "debug"}})
    flow.run()
    # Then CloudFormation said "no updates" and the record is back InService at once
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.IN_SERVICE
    assert [c for c, _ in flow.cfn.calls].count("UpdateStack") == updates + 1
    (stack,) = flow.cfn.stacks.values()
    assert stack.status == "UPDATE_COMPLETE"
    assert flow.transitions(server_id)[-2:] == [("InService", "Updating"), ("Updating", "InService")]


# -- the reconciler ----------------------------------------------------------------------------------------------


def test_the_reconciler_settles_a_record_whose_events_were_lost(
    choreography: Choreography, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = choreography
    # Given a creation whose stack completed but whose status events never arrived
    flow.delivery = Delivery(drop_events=True)
    server_id = flow.create()
    flow.run()
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.CREATING
    sweep = json.loads((EVENTS_DIR / "reconcile" / "scheduled.json").read_text(encoding="utf-8"))
    # When the reconciler runs before the deadline, Then it leaves the record alone
    assert flow.handlers["reconcile"].handler(sweep, FakeLambdaContext()) == {"repaired": []}
    # When it runs after the deadline, Then it settles the record from the stack itself
    later = datetime.now(UTC) + timedelta(hours=1)
    monkeypatch.setattr(aws, "utc_now", lambda: later)
    assert flow.handlers["reconcile"].handler(sweep, FakeLambdaContext()) == {"repaired": [server_id]}
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.IN_SERVICE
    # And the lost events, arriving at last, change nothing
    flow.redeliver_late()
    again = flow.record(server_id)
    assert again is not None
    assert again.version == record.version


def test_the_reconciler_fails_a_record_whose_deployment_never_started(
    choreography: Choreography, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = choreography
    # Given a record in Creating whose deploy never ran (its stream record was lost)
    server_id = flow.create()
    flow._stream_records()  # consumed, never delivered
    sweep = json.loads((EVENTS_DIR / "reconcile" / "scheduled.json").read_text(encoding="utf-8"))
    later = datetime.now(UTC) + timedelta(hours=1)
    monkeypatch.setattr(aws, "utc_now", lambda: later)
    # When the reconciler runs past the deadline
    flow.handlers["reconcile"].handler(sweep, FakeLambdaContext())
    # Then the record is Failed with the reason it is overdue
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.FAILED
    assert record.lastError is not None
    assert record.lastError.startswith("no outcome")


# -- servers follow the platform -----------------------------------------------------------------------------------


def test_a_platform_update_re_applies_every_running_and_stopped_server(choreography: Choreography) -> None:
    flow = choreography
    # Given one server running, one stopped, and one still being created
    running, stopped = flow.create(), flow.create(name="stopped-server")
    flow.run()
    flow.update(stopped, {"enabled": False})
    flow.run()
    creating = flow.create(name="late-server")
    flow.bus_events()
    updates_before = Counter(name for call, name in flow.cfn.calls if call == "UpdateStack")
    # When the platform stack's own UPDATE_COMPLETE reaches the follow-platform function
    event = json.loads((EVENTS_DIR / "follow" / "platform-updated.json").read_text(encoding="utf-8"))
    answer = flow.handlers["follow"].handler(event, FakeLambdaContext())
    flow.run()
    # Then the running and the stopped server each went through one update of their own stack and are back where
    # they were; the one being created was left to its own action
    assert sorted(answer["reapplied"]) == sorted([running, stopped])
    for server_id, status in ((running, ServerStatus.IN_SERVICE), (stopped, ServerStatus.STOPPED)):
        record = flow.record(server_id)
        assert record is not None
        assert record.status is status
        assert aws.server_store().audit_trail(server_id)[-2].reason == "platform changed: re-applied"
        name = record.stackName
        assert Counter(n for c, n in flow.cfn.calls if c == "UpdateStack")[name] == updates_before[name] + 1
    assert flow.transitions(stopped) == [("Stopped", "Updating"), ("Updating", "Stopped")]
    late = flow.record(creating)
    assert late is not None
    assert late.status is ServerStatus.IN_SERVICE
    assert aws.server_store().audit_trail(creating)[-1].reason != "platform changed: re-applied"


def test_the_sweep_fails_a_server_whose_stack_was_deleted_outside_the_platform(choreography: Choreography) -> None:
    flow = choreography
    # Given a server InService
    server_id = flow.create()
    flow.run()
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.IN_SERVICE
    flow.bus_events()
    # When someone deletes its stack in the console (its events carry a token that is not ours: settle ignores them)
    flow.cfn.delete_outside(record.deploymentId or "")
    flow.run()
    assert (flow.record(server_id) or record).status is ServerStatus.IN_SERVICE
    # And the scheduled sweep runs (no deadline involved: the record is in a stable status)
    sweep = json.loads((EVENTS_DIR / "reconcile" / "scheduled.json").read_text(encoding="utf-8"))
    assert flow.handlers["reconcile"].handler(sweep, FakeLambdaContext()) == {"repaired": [server_id]}
    flow.run()
    # Then the record says what is true: Failed, with the reason, audited, announced, its connection inactive
    failed = flow.record(server_id)
    assert failed is not None
    reason = f"stack {record.stackName} no longer exists (deleted outside the platform)"
    assert (failed.status, failed.lastError) == (ServerStatus.FAILED, reason)
    status, audit = flow.api("GET", f"/mcp/{server_id}/audit", server_id=server_id)
    assert status == 200
    assert audit["Items"][-1]["fromStatus"] == "InService"
    assert audit["Items"][-1]["toStatus"] == "Failed"
    assert audit["Items"][-1]["reason"] == reason
    assert flow.transitions(server_id) == [("InService", "Failed")]
    assert (flow.connection(server_id) or {})["status"] == "inactive"
    # And a second sweep changes nothing more
    assert flow.handlers["reconcile"].handler(sweep, FakeLambdaContext()) == {"repaired": []}


# -- a Failed server can be fixed ---------------------------------------------------------------------------------


def test_a_failed_creation_is_fixed_by_an_update_on_a_replacement_stack(choreography: Choreography) -> None:
    flow = choreography
    # Given a server whose creation rolled back (CloudFormation never updates such a stack)
    flow.cfn.script("create", Script("fail", "TaskDefinition", "image not found"))
    server_id = flow.create()
    flow.run()
    failed = flow.record(server_id)
    assert failed is not None
    assert (failed.status, failed.lastError) == (ServerStatus.FAILED, "TaskDefinition: image not found")
    flow.bus_events()
    # When an admin fixes its configuration
    answer = flow.update(server_id, {"environment": {"LOG_LEVEL": "info", "IMAGE_TAG": "v2"}})
    assert answer["status"] == "Creating"
    flow.run()
    # Then it runs on a replacement stack with the fix, the dead stack deleted, and it is published as usual
    record = flow.record(server_id)
    assert record is not None
    assert (record.status, record.lastError) == (ServerStatus.IN_SERVICE, None)
    assert record.spec.environment == {"LOG_LEVEL": "info", "IMAGE_TAG": "v2"}
    assert record.stackName == f"{failed.stackName}-r{failed.version + 1}"
    statuses = sorted((s.name, s.status) for s in flow.cfn.stacks.values())
    assert statuses == [(failed.stackName, "DELETE_COMPLETE"), (record.stackName, "CREATE_COMPLETE")]
    assert flow.transitions(server_id) == [("Failed", "Creating"), ("Creating", "InService")]
    assert (flow.connection(server_id) or {})["status"] == "active"
    # And the redeploy has its own audit entry
    status, audit = flow.api("GET", f"/mcp/{server_id}/audit", server_id=server_id)
    assert status == 200
    assert [(e["fromStatus"], e["toStatus"], e["reason"]) for e in audit["Items"][-2:]] == [
        ("Failed", "Creating", "redeploy requested"),
        ("Creating", "InService", "stack CREATE_COMPLETE"),
    ]
    # And deleting it later removes the stack it runs on
    flow.delete(server_id)
    flow.run()
    assert flow.record(server_id) is None
    assert {s.status for s in flow.cfn.stacks.values()} == {"DELETE_COMPLETE"}


def test_a_server_failed_by_its_mcp_check_is_retried_as_it_is(choreography: Choreography) -> None:
    flow = choreography
    # Given a server whose stack completed but which did not answer MCP
    flow.probe.problems.append("no answer within 5s")
    server_id = flow.create()
    flow.run()
    failed = flow.record(server_id)
    assert failed is not None
    assert failed.status is ServerStatus.FAILED
    calls = len(flow.cfn.calls)
    # When an admin retries it as it is (the cause was outside the stack, now fixed)
    flow.update(server_id, {"enabled": True})
    flow.run()
    # Then the stack already runs what is asked (no stack operation), the MCP check is made again, and it is InService
    record = flow.record(server_id)
    assert record is not None
    assert (record.status, record.deploymentId) == (ServerStatus.IN_SERVICE, failed.deploymentId)
    assert [c for c, _ in flow.cfn.calls[calls:] if c in ("CreateStack", "UpdateStack", "DeleteStack")] == [
        "UpdateStack"  # answered "No updates are to be performed"
    ]
    assert flow.probe.checked == [server_id, server_id]
    assert len(flow.cfn.stacks) == 1


def test_a_lost_server_is_redeployed_stopped_when_asked(choreography: Choreography) -> None:
    flow = choreography
    # Given a server whose stack was deleted outside the platform, which the sweep failed
    server_id = flow.create()
    flow.run()
    record = flow.record(server_id)
    assert record is not None
    flow.cfn.delete_outside(record.deploymentId or "")
    sweep = json.loads((EVENTS_DIR / "reconcile" / "scheduled.json").read_text(encoding="utf-8"))
    flow.handlers["reconcile"].handler(sweep, FakeLambdaContext())
    flow.run()
    assert (flow.record(server_id) or record).status is ServerStatus.FAILED
    # When it is redeployed, to be kept stopped for now
    flow.update(server_id, {"enabled": False})
    flow.run()
    # Then a new stack holds it, scaled to zero, and the record is Stopped
    stopped = flow.record(server_id)
    assert stopped is not None
    assert (stopped.status, stopped.enabled) == (ServerStatus.STOPPED, False)
    assert stopped.deploymentId != record.deploymentId
    replacement = next(s for s in flow.cfn.stacks.values() if s.status == "CREATE_COMPLETE")
    assert json.loads(replacement.template)["Resources"]["Service"]["Properties"]["DesiredCount"] == 0


def test_a_redeploy_whose_update_rolls_back_leaves_the_server_failed_with_the_reason(
    choreography: Choreography,
) -> None:
    flow = choreography
    # Given a server Failed by its MCP check (its stack complete)
    flow.probe.problems.append("no answer within 5s")
    server_id = flow.create()
    flow.run()
    failed = flow.record(server_id)
    assert failed is not None
    assert failed.status is ServerStatus.FAILED
    # When it is redeployed with a change whose stack update rolls back
    flow.cfn.script("update", Script("fail", "TaskDefinition", "image not found"))
    flow.update(server_id, {"environment": {"LOG_LEVEL": "warning"}})
    flow.run()
    # Then it is Failed again with CloudFormation's reason, the configuration that ran before kept
    record = flow.record(server_id)
    assert record is not None
    assert (record.status, record.lastError) == (ServerStatus.FAILED, "TaskDefinition: image not found")
    assert (record.spec, record.pending) == (failed.spec, None)


def test_a_stack_beyond_repair_is_not_redeployed_and_says_what_to_do(choreography: Choreography) -> None:
    flow = choreography
    # Given a server whose update failed and whose rollback failed too (UPDATE_ROLLBACK_FAILED)
    server_id = flow.create()
    flow.run()
    flow.cfn.script("update", Script("fail-rollback", "Service", "Service did not stabilize"))
    flow.update(server_id, {"environment": {"LOG_LEVEL": "debug"}})
    flow.run()
    broken = flow.record(server_id)
    assert broken is not None
    assert broken.status is ServerStatus.FAILED
    # When it is redeployed
    flow.update(server_id, {"enabled": True})
    flow.run()
    # Then no stack operation is attempted, and the reason says why and what to do instead
    record = flow.record(server_id)
    assert record is not None
    assert record.status is ServerStatus.FAILED
    assert record.lastError is not None
    assert "is UPDATE_ROLLBACK_FAILED: CloudFormation cannot redeploy it as it is" in record.lastError
    assert "delete the server and create it again" in record.lastError


# -- what one lifecycle costs ------------------------------------------------------------------------------------


def test_one_lifecycle_costs_what_the_benchmarks_page_says(choreography: Choreography) -> None:
    flow = choreography
    steps: dict[str, Callable[[str], object]] = {
        "update": lambda sid: flow.update(sid, {"environment": {"LOG_LEVEL": "debug"}}),
        "stop": lambda sid: flow.update(sid, {"enabled": False}),
        "start": lambda sid: flow.update(sid, {"enabled": True}),
        "delete": flow.delete,
    }
    measured: dict[str, Cost] = {}
    server_id = ""
    for operation in OPERATIONS:
        # Given the counters at rest, When one operation runs through the whole choreography
        flow.invocations.clear()
        flow.item_writes = 0
        flow.cfn.calls.clear()
        if operation == "create":
            server_id = flow.create()
        else:
            steps[operation](server_id)
        flow.run()
        measured[operation] = Cost(
            lambdas=sum(flow.invocations.values()),
            item_writes=flow.item_writes,
            cloudformation_calls=len(flow.cfn.calls),
        )
    # Then it costs exactly what the table in docs/benchmarks.md says
    assert measured == CHOREOGRAPHY
    page = (EVENTS_DIR.parent / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert cost_table() in page


# -- the sample events, through the real handlers ------------------------------------------------------------------

SETTLE_SAMPLES = {
    # sample: (the record it settles, as a stream sample's new image) -> (status after, lastError after)
    "create-complete": ("ignored/record-noted-its-stack", ServerStatus.IN_SERVICE, None),
    "rollback-complete": ("ignored/record-noted-its-stack", ServerStatus.FAILED, "stack ROLLBACK_COMPLETE"),
    "update-complete": ("apply/record-entered-updating", ServerStatus.IN_SERVICE, None),
    "update-rollback-complete": (
        "apply/record-entered-updating",
        ServerStatus.IN_SERVICE,
        "stack UPDATE_ROLLBACK_COMPLETE",
    ),
    "update-rollback-failed": (
        "apply/record-entered-updating",
        ServerStatus.FAILED,
        "The following resource(s) failed to update: [Service].",
    ),
    "delete-complete": ("teardown/record-entered-deleting", None, None),
    "delete-failed": (
        "teardown/record-entered-deleting",
        ServerStatus.FAILED,
        "The following resource(s) failed to delete: [Discovery].",
    ),
}


def seed(stream_sample: str) -> ServerRecord:
    """Store the record a stream sample's new image holds (with its audit entry and name guard)."""
    from hosted_mcp.adapters.dynamodb_streams import status_change
    from hosted_mcp.models.domain import AuditEntry

    record = json.loads((EVENTS_DIR / f"{stream_sample}.json").read_text(encoding="utf-8"))["detail"]
    change = status_change(record)
    assert change is not None
    assert change.new is not None
    audit = AuditEntry(
        serverId=change.new.id,
        version=change.new.version,
        at=change.new.updatedAt,
        actor="seed",
        fromStatus=None,
        toStatus=change.new.status,
        reason="seeded",
    )
    aws.server_store().create(change.new, audit)
    return change.new


@pytest.mark.parametrize("sample", list(SETTLE_SAMPLES))
def test_every_settle_sample_settles_its_record(choreography: Choreography, sample: str) -> None:
    stream_sample, status, last_error = SETTLE_SAMPLES[sample]
    # Given the record the sample's stack belongs to, in the status the stack's operation started from
    record = seed(stream_sample)
    event = json.loads((EVENTS_DIR / "settle" / f"{sample}.json").read_text(encoding="utf-8"))
    # When the sample is delivered to the settle function
    choreography.handlers["settle"].handler(event, FakeLambdaContext())
    # Then the record is where the outcome leads (the stack is unknown here, so the event's own reason stands)
    settled = choreography.record(record.id)
    if status is None:
        assert settled is None
        return
    assert settled is not None
    assert (settled.status, settled.lastError) == (status, last_error)


def test_the_deploy_sample_creates_the_stack_of_its_record(choreography: Choreography) -> None:
    record = seed("deploy/record-entered-creating")
    event = json.loads((EVENTS_DIR / "deploy" / "record-entered-creating.json").read_text(encoding="utf-8"))
    assert choreography.handlers["deploy"].handler(event, FakeLambdaContext()) is None
    (stack,) = choreography.cfn.stacks.values()
    assert stack.name == f"hmcp-{record.id}-docsmcpworkbench"
    noted = choreography.record(record.id)
    assert noted is not None
    assert noted.deploymentId == stack.stack_id


def test_a_busy_stack_fails_only_its_own_change_and_the_retry_applies_it(choreography: Choreography) -> None:
    flow = choreography
    busy_id, other_id = flow.create(), flow.create(name="other-server")
    flow.run()
    busy = next(s for s in flow.cfn.stacks.values() if busy_id in s.name)
    # Given one server's stack is busy with an operation someone else started
    busy.status = "UPDATE_IN_PROGRESS"
    flow.update(busy_id, {"environment": {"LOG_LEVEL": "debug"}})
    flow.update(other_id, {"enabled": False})
    changes = [r for r in flow._stream_records() if wakes("ApplyFunction", r)]
    assert len(changes) == 2
    failed = next(r for r in changes if busy_id in json.dumps(r["dynamodb"]["Keys"]))
    applied = next(r for r in changes if r is not failed)
    # When the apply function gets each change (one event each, as the rule delivers them)
    flow.handlers["apply"].handler(record_changed_event(applied), FakeLambdaContext())
    # Then the busy one raises (Lambda retries that invocation), and the other was applied
    with pytest.raises(ClientError, match="UPDATE_IN_PROGRESS"):
        flow.handlers["apply"].handler(record_changed_event(failed), FakeLambdaContext())
    # And when the retry comes after the other operation finished, the change is applied and everything settles
    busy.status = "UPDATE_COMPLETE"
    flow.handlers["apply"].handler(record_changed_event(failed), FakeLambdaContext())
    flow.run()
    record, other = flow.record(busy_id), flow.record(other_id)
    assert record is not None
    assert other is not None
    assert (record.status, record.spec.environment) == (ServerStatus.IN_SERVICE, {"LOG_LEVEL": "debug"})
    assert other.status is ServerStatus.STOPPED
