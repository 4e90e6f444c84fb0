"""The choreography under faults, as a Hypothesis state machine: the real handlers, moto's DynamoDB, stream and
EventBridge, and the scriptable CloudFormation, driven by API operations while the world misbehaves.

What the world may do, between any two steps:
- deliver each change of the servers table and each stack event 1-3 times, in any order, or drop it;
- crash a function right after one of its writes or side effects (a stack operation, a status write, a status
  event), so the invocation fails and is retried (three attempts, then the dead-letter queue, as Lambda does);
- deliver a poison record no handler can read;
- leave a stack operation hanging forever, fail it, roll it back, or refuse it; fail the MCP readiness probe;
- let two hours pass, so the scheduled reconciler finds what is past its deadline.

However it went, once the world delivers what it still holds and the reconciler has swept: every record is in a
stable status, no server has more than one live stack (a removed server has none), every stack operation was
started by an accepted command (its request token) and at most once, every status event on the bus is an audited
transition, and only poison ended in the dead-letter queue. The counts are printed.

Examples: HOSTED_MCP_CHOREOGRAPHY_EXAMPLES (default 6, for CI) and HOSTED_MCP_CHOREOGRAPHY_STEPS (default 30); the
test's time limit grows with them. 150 examples of 40 steps take about 10 minutes here.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from hosted_mcp.adapters.cloudformation import REPLACES_TAG, CloudFormationBackend
from hosted_mcp.lifecycle import lifecycle
from hosted_mcp.wiring import aws
from tests.integration.test_choreography import CREATE, PLATFORM, REACTIONS, Choreography, start_choreography
from tests.support.ddb import create_servers_table
from tests.support.events import EVENTS_DIR
from tests.support.fake_cloudformation import FakeCloudFormation, Script
from tests.support.filters import matches, record_changed_event, stack_rule_pattern, wakes
from tests.support.lambdas import FakeLambdaContext, load_handler

EXAMPLES = int(os.environ.get("HOSTED_MCP_CHOREOGRAPHY_EXAMPLES", "6"))
STEPS = int(os.environ.get("HOSTED_MCP_CHOREOGRAPHY_STEPS", "30"))
ATTEMPTS = 3  # Lambda's asynchronous invocation: the first and two retries, then the failure destination
CRASH_POINTS = ("CreateStack", "UpdateStack", "DeleteStack", "status write", "status event")
STATS: Counter[str] = Counter()
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "SERVERS_TABLE_NAME": "hosted-mcp-servers",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "HostedMcpTest",
}


@cache
def handlers() -> dict[str, Any]:
    """The functions' modules, loaded once for every example."""
    return {name: load_handler(name) for name in ("api", *REACTIONS, "settle", "reconcile", "follow")}


class Crash(Exception):
    """The function's process died right after a write or a side effect: the invocation fails, the effect stays."""


class Faults:
    """One-shot crashes armed at named points; they fire only while a function runs (never in the API)."""

    def __init__(self) -> None:
        self.armed: set[str] = set()
        self.active = False

    def after(self, point: str) -> None:
        if self.active and point in self.armed:
            self.armed.discard(point)
            STATS["crashes fired"] += 1
            raise Crash(point)


class CrashingCloudFormation:
    """The scriptable CloudFormation, crashing the caller after an operation took effect when armed to."""

    def __init__(self, inner: FakeCloudFormation, faults: Faults) -> None:
        self._inner, self._faults = inner, faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create_stack(self, **params: Any) -> Any:
        answer = self._inner.create_stack(**params)
        self._faults.after("CreateStack")
        return answer

    def update_stack(self, **params: Any) -> Any:
        answer = self._inner.update_stack(**params)
        self._faults.after("UpdateStack")
        return answer

    def delete_stack(self, **params: Any) -> Any:
        answer = self._inner.delete_stack(**params)
        self._faults.after("DeleteStack")
        return answer


class CrashingClient:
    """A boto3 client whose `operation` crashes its caller after it took effect, when armed at `point`."""

    def __init__(self, inner: Any, operation: str, point: str, faults: Faults) -> None:
        self._inner, self._operation, self._point, self._faults = inner, operation, point, faults

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name != self._operation:
            return attribute

        def call(**params: Any) -> Any:
            answer = attribute(**params)
            self._faults.after(self._point)
            return answer

        return call


@dataclass
class Delivery:
    """One delivery the world still holds: a stream record for a reaction, or a stack event for settle."""

    kind: str  # a reaction's name, or "settle"
    event: dict[str, Any]
    poison: bool = False
    attempts: int = 0


POISON_RECORD = {
    "eventID": "poison-1",
    "eventName": "INSERT",
    "eventSource": "aws:dynamodb",
    "dynamodb": {
        "Keys": {"pk": {"S": "SERVER#poison"}, "sk": {"S": "META"}},
        "NewImage": {"pk": {"S": "SERVER#poison"}, "sk": {"S": "META"}, "status": {"S": "Creating"}},
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    },
}


class ChoreographyUnderFaults(RuleBasedStateMachine):
    servers = Bundle("servers")

    def __init__(self) -> None:
        super().__init__()
        from moto import mock_aws

        self.patch = pytest.MonkeyPatch()
        for name, value in ENVIRONMENT.items():
            self.patch.setenv(name, value)
        self.patch.delenv("AWS_PROFILE", raising=False)
        self.mock = mock_aws()
        self.mock.start()
        table = create_servers_table(
            boto3.resource("dynamodb", region_name="us-east-1"), ENVIRONMENT["SERVERS_TABLE_NAME"]
        )
        self.flow: Choreography = start_choreography(table, self.patch)
        self.faults = Faults()
        backend = CloudFormationBackend(CrashingCloudFormation(self.flow.cfn, self.faults), PLATFORM)
        self.patch.setattr(aws.AwsReactionPorts, "backend", property(lambda _: backend))
        dynamodb, build = (
            CrashingClient(
                boto3.client("dynamodb", region_name="us-east-1"), "transact_write_items", "status write", self.faults
            ),
            aws._client,
        )
        self.patch.setattr(aws, "dynamodb_client", lambda: dynamodb)
        self.patch.setattr(
            aws,
            "_client",
            lambda service: (
                CrashingClient(build(service), "put_events", "status event", self.faults)
                if service == "events"
                else build(service)
            ),
        )
        self.now = datetime.now(UTC)
        self.patch.setattr(aws, "utc_now", lambda: self.now)
        self.pending: list[Delivery] = []
        self.dead_letters: list[Delivery] = []
        self.accepted_tokens: dict[str, set[str]] = {}
        self.names = 0
        self.lost_publish = False
        self.poisoned = False
        STATS["examples"] += 1

    # -- API operations ----------------------------------------------------------------------------------------

    def _command(self, method: str, server_id: str, body: Any = None) -> bool:
        status, _ = self.flow.api(method, f"/mcp/{server_id}", body, server_id)
        accepted = 200 <= status < 300
        STATS["commands accepted" if accepted else "commands refused"] += 1
        if accepted:
            record = self.flow.record(server_id)
            if record is not None and record.requestToken:
                self.accepted_tokens.setdefault(server_id, set()).add(record.requestToken)
        return accepted

    @initialize(target=servers)
    def first_server(self) -> str:
        return self.create()

    @rule(target=servers)
    def create(self) -> str:
        self.names += 1
        status, body = self.flow.api("POST", "/mcp", CREATE | {"name": f"server-{self.names}"})
        assert status == 201, body
        STATS["commands accepted"] += 1
        server_id = str(body["id"])
        record = self.flow.record(server_id)
        assert record is not None
        self.accepted_tokens[server_id] = {record.requestToken or ""}
        return server_id

    @rule(server=servers, level=st.sampled_from(["debug", "info", "warning"]))
    def update(self, server: str, level: str) -> None:
        self._command("PUT", server, {"environment": {"LOG_LEVEL": level}})

    @rule(server=servers, enabled=st.booleans())
    def stop_or_start(self, server: str, enabled: bool) -> None:
        self._command("PUT", server, {"enabled": enabled})

    @rule(server=servers)
    def delete(self, server: str) -> None:
        self._command("DELETE", server)

    # -- the world ---------------------------------------------------------------------------------------------

    @rule(data=st.data())
    def pull(self, data: st.DataObject) -> None:
        """What the stream and EventBridge now hold, each 1-3 times, each copy anywhere in the queue."""
        arrived = [
            Delivery(reaction, record_changed_event(record))
            for record in self.flow._stream_records()
            for reaction, function in REACTIONS.items()
            if wakes(function, record)
        ]
        arrived += [
            Delivery("settle", event) for event in self.flow.cfn.take_events() if matches(stack_rule_pattern(), event)
        ]
        for delivery in arrived:
            copies = data.draw(st.integers(1, 3), label="copies")
            STATS["deliveries"] += 1
            STATS["duplicates"] += copies - 1
            for _ in range(copies):
                position = data.draw(st.integers(0, len(self.pending)), label="position")
                STATS["reordered"] += position < len(self.pending)
                self.pending.insert(position, Delivery(delivery.kind, delivery.event))

    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        if self.pending:
            self._attempt(self.pending.pop(data.draw(st.integers(0, len(self.pending) - 1), label="which")))

    @rule(data=st.data())
    def drop(self, data: st.DataObject) -> None:
        if self.pending:
            lost = self.pending.pop(data.draw(st.integers(0, len(self.pending) - 1), label="which"))
            STATS["dropped"] += 1
            self.lost_publish |= lost.kind == "publish"

    @rule(point=st.sampled_from(CRASH_POINTS))
    def arm_crash(self, point: str) -> None:
        self.faults.armed.add(point)
        STATS["crashes armed"] += 1

    @precondition(lambda self: not self.poisoned)
    @rule()
    def poison(self) -> None:
        self.poisoned = True
        for reaction, function in REACTIONS.items():
            if wakes(function, POISON_RECORD):
                self.pending.append(Delivery(reaction, record_changed_event(POISON_RECORD), poison=True))
        STATS["poison records"] += 1

    @rule(
        operation=st.sampled_from(["create", "update", "delete"]),
        outcome=st.sampled_from(["hang", "fail", "fail-rollback"]),
    )
    def script_stack(self, operation: str, outcome: str) -> None:
        self.flow.cfn.script(operation, Script(outcome, "Service", f"scripted {outcome}"))  # type: ignore[arg-type]
        STATS[f"stacks scripted to {outcome}"] += 1

    @precondition(lambda self: not self.flow.probe.problems)
    @rule()
    def probe_fails(self) -> None:
        self.flow.probe.problems.append("no answer within 5s")
        STATS["probe failures"] += 1

    @rule()
    def quiet_spell(self) -> None:
        """For a while the world behaves: everything it holds is delivered, once, in order."""
        STATS["quiet spells"] += 1
        self._drain()

    @rule()
    def time_passes(self) -> None:
        self.now += timedelta(hours=1)
        self._reconcile()

    # -- delivering ---------------------------------------------------------------------------------------------

    def _attempt(self, delivery: Delivery) -> bool:
        delivery.attempts += 1
        STATS["invocations"] += 1
        self.faults.active = True
        try:
            handler = self.flow.handlers[delivery.kind].handler
            handler(delivery.event, FakeLambdaContext())
            return True
        except Exception:  # any failure is what Lambda sees: it retries, then keeps the event
            STATS["invocations failed"] += 1
            if delivery.attempts >= ATTEMPTS:
                self.dead_letters.append(delivery)
                self.lost_publish |= delivery.kind == "publish"
            else:
                self.pending.append(delivery)
            return False
        finally:
            self.faults.active = False

    def _reconcile(self) -> list[str]:
        sweep = json.loads((EVENTS_DIR / "reconcile" / "scheduled.json").read_text(encoding="utf-8"))
        STATS["reconciler sweeps"] += 1
        self.faults.active = True
        try:
            repaired = list(self.flow.handlers["reconcile"].handler(sweep, FakeLambdaContext())["repaired"])
        except Exception:  # a failed sweep is simply the next schedule's work
            STATS["reconciler sweeps failed"] += 1
            return ["(failed)"]
        finally:
            self.faults.active = False
        STATS["records repaired by the reconciler"] += len(repaired)
        return repaired

    def _drain(self) -> None:
        """The world delivers what it still holds, once each, in order, without new faults."""
        for _ in range(200):
            arrived = [
                Delivery(reaction, record_changed_event(record))
                for record in self.flow._stream_records()
                for reaction, function in REACTIONS.items()
                if wakes(function, record)
            ]
            arrived += [Delivery("settle", e) for e in self.flow.cfn.take_events() if matches(stack_rule_pattern(), e)]
            self.pending.extend(arrived)
            if not self.pending:
                return
            self._attempt(self.pending.pop(0))
        raise AssertionError("the world never ran out of deliveries")

    # -- the end ------------------------------------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            self.faults.armed.clear()
            for _ in range(10):  # drain, let the deadline pass, sweep; until a sweep repairs nothing
                self._drain()
                self.now += timedelta(hours=1)
                if not self._reconcile():
                    break
            self._drain()
            self._check()
        finally:
            self.mock.stop()
            self.patch.undo()
            aws.clear_factories()

    def _check(self) -> None:
        store = aws.server_store()
        records = {r.id: r for r in store.list_page(1000).records}
        # Every record is stable
        unstable = {i: r.status for i, r in records.items() if lifecycle().is_transitional(r.status)}
        assert unstable == {}, unstable
        for record in records.values():
            STATS[f"final {record.status}"] += 1
        # At most one live stack per server, none for a removed one
        live: Counter[str] = Counter()
        for stack in self.flow.cfn.stacks.values():
            if stack.status != "DELETE_COMPLETE":
                live[stack.name.split("-")[1]] += 1
        assert all(count <= 1 for count in live.values()), live
        assert not [s for s in live if s not in records], (live, sorted(records))
        STATS["stacks live at the end"] += sum(live.values())
        STATS["servers removed"] += len(set(self.accepted_tokens) - set(records))
        # Every stack operation was started by an accepted command, at most once per token
        # (a stack a redeploy replaced is deleted without a token, by the redeploy and by every sweep until it is
        # gone: it is named by its successor's `hosted-mcp:replaces` tag)
        retired = {
            tag["Value"] for stack in self.flow.cfn.stacks.values() for tag in stack.tags if tag["Key"] == REPLACES_TAG
        }
        operations = [(stack.name, token) for stack in self.flow.cfn.stacks.values() for token in stack.tokens if token]
        assert len(operations) == len(set(operations))
        for name, token in operations:
            assert token in self.accepted_tokens.get(name.split("-")[1], set()), (name, token)
        for stack in self.flow.cfn.stacks.values():
            assert all(stack.tokens) or stack.stack_id in retired, (stack.name, stack.tokens)
        STATS["stack operations"] += len(operations)
        # Every status event is an audited transition (duplicates share their correlation id)
        published = {
            e["detail"]["correlationId"]: (e["detail"]["serverId"], e["detail"]["fromStatus"], e["detail"]["toStatus"])
            for e in self.flow.bus_events()
        }
        audited = {
            f"{entry.serverId}:{entry.version}": (entry.serverId, entry.fromStatus, entry.toStatus)
            for server_id in self.accepted_tokens
            for entry in store.audit_trail(server_id)
        }
        for correlation, transition in published.items():
            assert audited.get(correlation) == transition, (correlation, transition)
        if not self.lost_publish:
            assert set(published) == set(audited)
        STATS["status events"] += len(published)
        # Only poison ended in the dead-letter queue
        assert all(d.poison for d in self.dead_letters), [(d.kind, d.attempts) for d in self.dead_letters]
        STATS["dead letters (poison)"] += len(self.dead_letters)


@pytest.mark.timeout(300 + EXAMPLES * STEPS)  # about 0.1 s a step on these machines; CI's default stays 300 s
def test_the_choreography_comes_to_rest_whatever_the_world_does(capsys: pytest.CaptureFixture[str]) -> None:
    STATS.clear()
    run_state_machine_as_test(
        ChoreographyUnderFaults,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    with capsys.disabled():
        print(f"\nchoreography under faults ({EXAMPLES} examples, up to {STEPS} steps each):")
        for name, count in sorted(STATS.items()):
            print(f"  {name:<40} {count}")
    assert STATS["examples"] >= EXAMPLES
    assert STATS["commands accepted"] > 0
