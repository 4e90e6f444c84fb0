"""Every function's role in template.yaml grants every AWS call its code makes, and nothing the code needs is left to
a SAM policy template nobody reviewed.

The calls are recorded, not guessed: every AWS client the functions build is wrapped while the real handlers run
through whole lifecycles in process (the choreography under moto and the scripted CloudFormation, failures,
duplicate deliveries, the reconciler, a platform update, API keys and the authorizer). Each call becomes the IAM
actions and resources it needs (TransactWriteItems: one item action per item; CreateStack with a role: iam:PassRole;
a template with SSM parameter types: ssm:GetParameters on each), checked against the function's statements. A
reading of the source then finds every client call the code can make; each must have been recorded, so a call on a
path this test never takes cannot hide.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from hosted_mcp.adapters.cloudformation import CloudFormationBackend
from hosted_mcp.wiring import aws
from tests.integration.test_choreography import PLATFORM, Choreography, Delivery
from tests.support.ddb import create_call_audit_table, load_template
from tests.support.events import EVENTS_DIR
from tests.support.fake_cloudformation import Script
from tests.support.gateway import authorizer_event
from tests.support.iam import (
    API_KEYS_TABLE,
    CALL_AUDIT_TABLE,
    SERVER_STACK_ROLE_ARN,
    CallLog,
    RecordingClient,
    allows,
    function_statements,
    iam_requirements,
    static_calls,
)
from tests.support.lambdas import REPO_ROOT, FakeLambdaContext, load_handler

FUNCTION_OF = {
    "api": "ApiFunction",
    "authorizer": "AuthorizerFunction",
    "deploy": "DeployFunction",
    "apply": "ApplyFunction",
    "teardown": "TeardownFunction",
    "publish": "PublishFunction",
    "settle": "SettleFunction",
    "reconcile": "ReconcileFunction",
    "follow": "FollowPlatformFunction",
}
SHARED = REPO_ROOT / "shared" / "hosted_mcp"
# Calls the shared code makes from the AWS router task, not from a function: the router writes the call audit trail
# (RouterTaskRole's grant of it is proven by tests/integration/test_router_role.py).
ROUTER_CALLS = {("dynamodb", "BatchWriteItem")}


def attributed(log: CallLog, function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    def run(event: Any, context: Any) -> Any:
        with log.acting_as(function):
            return handler(event, context)

    return run


@pytest.fixture
def recorded(choreography: Choreography, monkeypatch: pytest.MonkeyPatch) -> tuple[Choreography, CallLog, Any]:
    """The choreography with every AWS client recording, and the authorizer beside it (API keys)."""
    flow, log = choreography, CallLog()
    monkeypatch.setenv("API_KEYS_TABLE_NAME", API_KEYS_TABLE)
    monkeypatch.setenv("CALL_AUDIT_TABLE_NAME", create_call_audit_table(boto3.client("dynamodb"), CALL_AUDIT_TABLE))
    monkeypatch.setenv("AUTH_ISSUER", "https://idp.example.test")
    monkeypatch.setenv("AUTH_AUDIENCE", "hosted-mcp")
    keys = load_template()["Resources"]["ApiKeysTable"]["Properties"]
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=API_KEYS_TABLE,
        AttributeDefinitions=keys["AttributeDefinitions"],
        KeySchema=keys["KeySchema"],
        BillingMode=keys["BillingMode"],
    )
    dynamodb = RecordingClient(boto3.client("dynamodb", region_name="us-east-1"), "dynamodb", log)
    build = aws._client
    cfn = RecordingClient(flow.cfn, "cloudformation", log)
    monkeypatch.setattr(aws, "dynamodb_client", lambda: dynamodb)
    monkeypatch.setattr(aws, "_client", lambda service: RecordingClient(build(service), service, log))
    monkeypatch.setattr(aws, "cloudformation_client", lambda: cfn)
    backend = CloudFormationBackend(cfn, PLATFORM, role_arn=SERVER_STACK_ROLE_ARN)
    monkeypatch.setattr(aws.AwsReactionPorts, "backend", property(lambda _: backend))
    aws.clear_factories()
    flow.handlers["authorizer"] = load_handler("authorizer")
    for name, module in flow.handlers.items():
        monkeypatch.setattr(module, "handler", attributed(log, FUNCTION_OF[name], module.handler))
    return flow, log, monkeypatch


def exercise(flow: Choreography, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every path the functions have: a lifecycle, failures, duplicates, lost events, a platform update, keys."""
    # a whole lifecycle, delivered twice and out of order
    flow.delivery = Delivery(duplicate_records=True, duplicate_events=True, shuffle_events=True)
    server_id = flow.create()
    flow.run()
    flow.update(server_id, {"environment": {"LOG_LEVEL": "debug"}})
    flow.run()
    flow.update(server_id, {"enabled": False})
    flow.run()
    flow.update(server_id, {"enabled": True})
    flow.run()
    flow.delivery = Delivery()
    # an update that rolls back (settle reads the stack's events for the real reason) and one refused
    flow.cfn.script("update", Script("fail", "TaskDefinition", "image not found"), Script("reject", reason="bad"))
    flow.update(server_id, {"environment": {"LOG_LEVEL": "warning"}})
    flow.run()
    flow.update(server_id, {"environment": {"LOG_LEVEL": "error"}})
    flow.run()
    # the platform changed
    platform_updated = json.loads((EVENTS_DIR / "follow" / "platform-updated.json").read_text(encoding="utf-8"))
    flow.handlers["follow"].handler(platform_updated, FakeLambdaContext())
    flow.run()
    # API keys, the management reads, and a data-plane call through the authorizer with a key
    status, issued = flow.api("POST", "/api-keys", {"name": "bot", "groups": ["admins"], "expiresInDays": 1})
    assert status == 201, issued
    assert flow.api("GET", "/api-keys")[0] == 200
    assert flow.api("GET", "/connections")[0] == 200
    assert flow.api("GET", "/mcp")[0] == 200
    assert flow.api("GET", f"/mcp/{server_id}/audit", server_id=server_id)[0] == 200
    assert flow.api("GET", f"/mcp/{server_id}/audit", server_id=server_id, query={"kind": "call"})[0] == 200
    record = flow.record(server_id)
    assert record is not None
    call = authorizer_event(
        "POST", f"/mcp/{record.normalizedName}/mcp", {"Authorization": f"Bearer {issued['apiKey']}"}
    )
    answer = flow.handlers["authorizer"].handler(call, FakeLambdaContext())
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    status, _ = flow.api("DELETE", f"/api-keys/{issued['keyId']}", server_id=None)
    assert status == 200
    # a creation whose events were lost, settled by the reconciler past its deadline; then deletions
    flow.delivery = Delivery(drop_events=True)
    lost = flow.create(name="lost-events")
    flow.run()
    later = datetime.now(UTC) + timedelta(hours=1)
    monkeypatch.setattr(aws, "utc_now", lambda: later)
    sweep = json.loads((EVENTS_DIR / "reconcile" / "scheduled.json").read_text(encoding="utf-8"))
    assert flow.handlers["reconcile"].handler(sweep, FakeLambdaContext()) == {"repaired": [lost]}
    flow.delivery = Delivery()
    flow.late_events.clear()
    flow.cfn.script("delete", Script("fail", "Discovery", "Service contains registered instances"))
    flow.delete(server_id)
    flow.run()
    flow.delete(server_id)
    flow.delete(lost)
    flow.run()


def test_every_function_role_grants_every_call_its_code_makes(recorded: tuple[Choreography, CallLog, Any]) -> None:
    flow, log, monkeypatch = recorded
    # Given every function ran through every path above, each AWS call logged under the function that made it
    exercise(flow, monkeypatch)
    by_function = log.by_function()
    assert set(by_function) - {"(none)"} == set(FUNCTION_OF.values())
    # When each call is turned into the IAM actions and resources it needs
    missing: dict[str, set[tuple[str, str]]] = {}
    for function, calls in by_function.items():
        if function == "(none)":
            continue  # the test's own reads
        statements = function_statements(function)
        for call in calls:
            for action, resource in iam_requirements(call):
                if not allows(statements, action, resource):
                    missing.setdefault(function, set()).add((action, resource))
    # Then the function's role grants every one
    assert missing == {}, json.dumps({k: sorted(v) for k, v in missing.items()}, indent=1)

    # And every AWS call the shared code can make was made by some function above
    made = {(c.service, c.operation) for c in log.calls if c.function != "(none)"}
    possible = static_calls(sorted(SHARED.rglob("*.py")))
    assert possible, "the source scan found no AWS calls at all"
    never = {f"{service}:{operation}": sorted(where) for (service, operation), where in possible.items()}
    never = {call: where for call, where in never.items() if tuple(call.split(":")) not in made | ROUTER_CALLS}
    assert never == {}, f"calls the code can make that this test never exercised: {never}"


def test_the_source_scan_finds_client_calls_and_paginators() -> None:
    found = static_calls([SHARED / "adapters" / "cloudformation.py", SHARED / "adapters" / "dynamodb.py"])
    assert ("cloudformation", "CreateStack") in found
    assert ("cloudformation", "DescribeStackEvents") in found  # through a paginator
    assert ("dynamodb", "TransactWriteItems") in found
    assert found[("cloudformation", "DeleteStack")] == {"cloudformation.py"}


def test_no_function_relies_on_a_sam_policy_template() -> None:
    for name in FUNCTION_OF.values():
        function_statements(name)  # raises on anything but explicit statements


def test_the_roles_paths_are_distinct_where_they_must_be() -> None:
    # apply may only update, teardown only delete the servers' stacks; deploy creates them, and redeploys a Failed
    # server (an update of a complete stack, or a new stack in place of one whose creation rolled back)
    stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/hmcp-x-y/1"
    create, update, delete = (f"cloudformation:{a}Stack" for a in ("Create", "Update", "Delete"))
    expected = {"DeployFunction": {create, update, delete}, "ApplyFunction": {update}, "TeardownFunction": {delete}}
    for function, own in expected.items():
        statements = function_statements(function)
        for action in (create, update, delete):
            assert allows(statements, action, stack) == (action in own), (function, action)
        for action in own:
            assert not allows(statements, action, "arn:aws:cloudformation:us-east-1:123456789012:stack/payroll/1")
