"""The management API Lambda in-process on moto: tool policies and limits on the record, and the call audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from hosted_mcp.adapters.dynamodb import DynamoDbServerStore
from hosted_mcp.adapters.dynamodb_calls import DynamoDbCallAudit
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.calls import CallOutcome, CallRecord
from hosted_mcp.models.fields import ServerStatus
from tests.conftest import SERVERS_TABLE
from tests.integration.test_api_handler import MINIMAL, Invoke, assert_bad_request, create, items
from tests.support.ddb import create_call_audit_table
from tests.support.events import api_event, response_json
from tests.support.lambdas import FakeLambdaContext, load_handler

CALLS_TABLE = "hosted-mcp-calls"
POLICY = {"analysts": {"tools": ["search"], "prompts": []}, "*": {"tools": []}}


@pytest.fixture
def client(servers_table: Any) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def api(client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    from hosted_mcp.wiring import aws

    monkeypatch.setenv("CALL_AUDIT_TABLE_NAME", create_call_audit_table(client, CALLS_TABLE))
    aws.clear_factories()
    module = load_handler("api")
    yield lambda event: module.handler(event, FakeLambdaContext())
    aws.clear_factories()


def in_service(client: Any, server_id: str) -> None:
    store = DynamoDbServerStore(client, SERVERS_TABLE)
    record = store.get(server_id)
    assert record is not None
    move(store, record, ServerStatus.IN_SERVICE, actor="deployer", reason="test setup", now=record.updatedAt)


def test_a_policy_is_stored_normalised_and_shown_as_written(api: Invoke) -> None:
    # When an admin creates a server for a group with a tool policy and limits
    body = {**MINIMAL, "groups": ["analysts"], "toolPolicy": POLICY, "callLimits": {"ratePerSecond": 5, "burst": 10}}
    created = create(api, body)

    # Then the record shows the policy under the groups' stored names, kinds left out staying left out
    assert created["toolPolicy"] == {"group:analysts": {"tools": ["search"], "prompts": []}, "*": {"tools": []}}
    assert created["callLimits"] == {"ratePerSecond": 5.0, "burst": 10, "maxConcurrentPerReplica": None}
    assert created["auditCalls"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"groups": ["ops"], "toolPolicy": {"analysts": {}}}, "toolPolicy.group:analysts"),
        ({"toolPolicy": {"*": {"tools": [""]}}}, "toolPolicy.*.tools.0"),
        ({"callLimits": {"burst": 3}}, "callLimits.burst"),
    ],
)
def test_a_bad_policy_is_a_400_naming_the_field_and_writes_nothing(
    api: Invoke, client: Any, body: dict[str, Any], field: str
) -> None:
    result = api(api_event("POST", "/mcp", body={**MINIMAL, **body}))
    assert_bad_request(result, field)
    assert items(client) == []


def test_a_policy_update_applies_at_once_and_is_audited(api: Invoke, client: Any) -> None:
    # Given a running server
    created = create(api, {**MINIMAL, "groups": ["analysts"]})
    in_service(client, created["id"])

    # When an admin sets its tool policy
    path = f"/mcp/{created['id']}"
    result = api(api_event("PUT", path, body={"toolPolicy": POLICY}, path_parameters={"serverId": created["id"]}))

    # Then the server keeps running with the policy in force, and the status trail says who changed what
    assert result["statusCode"] == 200, result["body"]
    updated = response_json(result)
    assert (updated["status"], updated["pendingChanges"]) == ("InService", None)
    assert updated["toolPolicy"]["group:analysts"] == {"tools": ["search"], "prompts": []}
    trail = response_json(api(api_event("GET", f"{path}/audit", path_parameters={"serverId": created["id"]})))
    assert trail["Items"][-1]["kind"] == "status"
    assert (trail["Items"][-1]["toStatus"], trail["Items"][-1]["reason"]) == ("InService", "toolPolicy changed")


def test_calls_are_read_next_to_the_status_trail_newest_first_in_pages(api: Invoke, client: Any) -> None:
    # Given a server and three calls the router recorded for it
    created = create(api)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    recorded = [
        CallRecord(
            id=f"call{n}",
            serverId=created["id"],
            at=start + timedelta(seconds=n),
            caller="ada",
            credentialType="jwt",
            method="tools/call",
            name="search",
            outcome=CallOutcome.DENIED if n == 2 else CallOutcome.OK,
            durationMs=0.5,
            requestBytes=80,
            responseBytes=120,
        )
        for n in range(3)
    ]
    DynamoDbCallAudit(client, CALLS_TABLE).record(recorded)
    path = f"/mcp/{created['id']}/audit"
    params = {"serverId": created["id"]}

    # When an admin reads the calls two at a time
    first = response_json(api(api_event("GET", path, query={"kind": "call", "limit": "2"}, path_parameters=params)))
    query = {"kind": "call", "limit": "2", "nextToken": first["nextToken"]}
    second = response_json(api(api_event("GET", path, query=query, path_parameters=params)))

    # Then the calls come newest first with their outcomes, the status trail stays where it was
    calls = first["Items"] + second["Items"]
    assert [(c["kind"], c["id"], c["outcome"]) for c in calls] == [
        ("call", "call2", "denied"),
        ("call", "call1", "ok"),
        ("call", "call0", "ok"),
    ]
    assert second["nextToken"] is None
    status = response_json(api(api_event("GET", path, path_parameters=params)))
    assert [e["kind"] for e in status["Items"]] == ["status"]


@pytest.mark.parametrize(
    ("query", "field"), [({"kind": "everything"}, "kind"), ({"kind": "call", "limit": "0"}, "limit")]
)
def test_bad_audit_parameters_name_the_parameter(api: Invoke, query: dict[str, str], field: str) -> None:
    created = create(api)
    path = f"/mcp/{created['id']}/audit"
    assert_bad_request(api(api_event("GET", path, query=query, path_parameters={"serverId": created["id"]})), field)


def test_the_calls_of_an_unknown_server_are_404(api: Invoke) -> None:
    result = api(api_event("GET", "/mcp/nosuch/audit", query={"kind": "call"}, path_parameters={"serverId": "nosuch"}))
    assert result["statusCode"] == 404
