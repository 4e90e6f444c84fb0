"""The AWS adapters without AWS: stack events as settlements, the real failure reason, the CloudFormation backend's
idempotency rules, connection items, status-event entries and transition metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hosted_mcp.adapters.cloudformation import (
    OUTCOME_BY_STACK_STATUS,
    CloudFormationBackend,
    StackStatusChanged,
    real_failure_reason,
    settlement_from_stack_event,
)
from hosted_mcp.adapters.connections import connection_item
from hosted_mcp.adapters.dynamodb import AuditItem, ServerItem
from hosted_mcp.adapters.dynamodb_streams import status_change
from hosted_mcp.adapters.metrics import transition_metrics
from hosted_mcp.adapters.stack_template import stack_name
from hosted_mcp.endpoints import server_urls
from hosted_mcp.errors import DeploymentRejected
from hosted_mcp.models.domain import AuditEntry, PendingChange, ServerRecord, ServerSpec, StatusChange
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.models.settlement import Deployment
from hosted_mcp.ports import ApplyResult
from tests.support.fake_cloudformation import FakeCloudFormation, Script
from tests.unit.test_stack_template import PLATFORM, a_record

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
SERVER_ID = "3f5a9c0e1b2d4f6a8c0e1b2d4f6a8c0e"
STACK_ID = f"arn:aws:cloudformation:us-east-1:123456789012:stack/hmcp-{SERVER_ID}-x/5b6e0d30"


def stack_event(
    status: str,
    reason: str = "",
    token: str = "hmcp-t-1",  # noqa: S107 - a request token, not a secret
    stack_id: str = STACK_ID,
) -> StackStatusChanged:
    return StackStatusChanged.model_validate(
        {
            "id": "e1",
            "source": "aws.cloudformation",
            "detail-type": "CloudFormation Stack Status Change",
            "account": "123456789012",
            "region": "us-east-1",
            "time": "2026-11-24T01:00:00Z",
            "resources": [stack_id],
            "detail": {
                "stack-id": stack_id,
                "status-details": {"status": status, "status-reason": reason},
                "client-request-token": token,
            },
        }
    )


# -- stack events ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "outcome"), sorted(OUTCOME_BY_STACK_STATUS.items()))
def test_every_terminal_stack_status_is_an_outcome_of_our_server(status: str, outcome: str) -> None:
    settlement = settlement_from_stack_event(stack_event(status, token="hmcp-x-3"), "hmcp")
    assert settlement is not None
    assert (settlement.serverId, settlement.deploymentId, settlement.outcome) == (SERVER_ID, STACK_ID, outcome)
    assert settlement.token == "hmcp-x-3"
    assert settlement.reason == f"stack {status}"  # no stack-level reason given: the status says what happened


@pytest.mark.parametrize("status", ["CREATE_IN_PROGRESS", "UPDATE_FAILED", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"])
def test_intermediate_statuses_are_no_outcome(status: str) -> None:
    assert settlement_from_stack_event(stack_event(status), "hmcp") is None


def test_other_stacks_are_not_ours() -> None:
    other = "arn:aws:cloudformation:us-east-1:123456789012:stack/payroll/1"
    assert settlement_from_stack_event(stack_event("CREATE_COMPLETE", stack_id=other), "hmcp") is None


def test_the_real_reason_is_the_first_failed_resource_of_the_operation() -> None:
    events = [  # newest first, as DescribeStackEvents lists them
        {"LogicalResourceId": "s", "StackName": "s", "ResourceStatus": "ROLLBACK_COMPLETE", "ClientRequestToken": "t2"},
        {
            "LogicalResourceId": "TaskDefinition",
            "StackName": "s",
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": "Resource creation cancelled",
            "ClientRequestToken": "t2",
        },
        {
            "LogicalResourceId": "Service",
            "StackName": "s",
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": "ECS Deployment Circuit Breaker was triggered.",
            "ClientRequestToken": "t2",
        },
        {
            "LogicalResourceId": "Old",
            "StackName": "s",
            "ResourceStatus": "UPDATE_FAILED",
            "ResourceStatusReason": "an earlier operation",
            "ClientRequestToken": "t1",
        },
    ]
    assert real_failure_reason(events, "t2", "fallback") == "Service: ECS Deployment Circuit Breaker was triggered."
    assert real_failure_reason(events, "t9", "fallback") == "fallback"


# -- the backend ------------------------------------------------------------------------------------------------


def creating(**changes: Any) -> ServerRecord:
    defaults: dict[str, Any] = {"status": ServerStatus.CREATING, "requestToken": f"hmcp-{SERVER_ID}-1"}
    return a_record(**(defaults | changes))


def test_deploy_is_idempotent_by_name_and_token() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM, role_arn="arn:aws:iam::123456789012:role/stacks")
    first = backend.deploy(creating())
    again = backend.deploy(creating())
    assert first == again
    assert first.stackName == stack_name("hmcp", creating())
    assert len(cfn.stacks) == 1
    (stack,) = cfn.stacks.values()
    assert {"Key": "hosted-mcp:server-id", "Value": SERVER_ID} in stack.tags
    assert stack.parameters == {}  # every platform value is read from SSM; nothing is chosen per call


def test_a_second_create_with_another_token_finds_the_existing_stack() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    first = backend.deploy(creating())
    assert backend.deploy(creating(requestToken="hmcp-other-9")) == first  # AlreadyExists is success


def test_a_rejected_template_is_a_rejection_with_the_message() -> None:
    cfn = FakeCloudFormation()
    cfn.script("create", Script("reject", reason="bad"))
    with pytest.raises(DeploymentRejected, match="Template format error: bad"):
        CloudFormationBackend(cfn, PLATFORM).deploy(creating())


def test_an_update_that_changes_nothing_is_no_change_and_teardown_of_nothing_too() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    deployment = backend.deploy(creating())
    record = creating(deploymentId=deployment.deploymentId, status=ServerStatus.UPDATING, requestToken="hmcp-x-4")
    # the first update leaves the desired count creation wrote to autoscaling: a real change, once
    assert backend.apply(record) is ApplyResult.STARTED
    assert backend.apply(record.evolve(requestToken="hmcp-x-5")) is ApplyResult.NO_CHANGE
    never_deployed = a_record(server_id="ffffffffffffffffffffffffffffffff", status=ServerStatus.DELETING)
    assert backend.teardown(never_deployed) is ApplyResult.NO_CHANGE


def test_describe_reads_the_outcome_only_of_the_records_own_operation() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    record = creating()
    deployment = backend.deploy(record)
    record = record.evolve(deploymentId=deployment.deploymentId)
    settled = backend.describe(record)
    assert settled is not None
    assert (settled.outcome, settled.deploymentId) == ("deployed", deployment.deploymentId)
    assert backend.describe(record.evolve(requestToken="hmcp-x-7")) is None  # that operation never started


def in_service(cfn: FakeCloudFormation, backend: CloudFormationBackend) -> ServerRecord:
    record = creating()
    deployment = backend.deploy(record)
    return record.evolve(
        status=ServerStatus.IN_SERVICE, deploymentId=deployment.deploymentId, stackName=deployment.stackName
    )


def redeploying(record: ServerRecord, version: int) -> ServerRecord:
    """`record`, Failed, redeployed by an admin: Creating with the change pending (what update_server writes)."""
    return record.evolve(
        status=ServerStatus.CREATING,
        version=version,
        requestToken=f"hmcp-{SERVER_ID}-{version}",
        pending=PendingChange(spec=record.spec, enabled=True, returnStatus=ServerStatus.FAILED),
    )


def failed_creation(
    cfn: FakeCloudFormation, backend: CloudFormationBackend, outcome: str
) -> tuple[Deployment, ServerRecord]:
    """A server whose creation ended `outcome` ("fail": rolled back; "hang": never finished), its record Failed."""
    cfn.script("create", Script(outcome))  # type: ignore[arg-type]
    first = creating()
    stack = backend.deploy(first)
    return stack, first.evolve(status=ServerStatus.FAILED, deploymentId=stack.deploymentId, stackName=stack.stackName)


def test_a_redeploy_replaces_a_rolled_back_creation_once_however_often_it_is_asked() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    # Given a creation that rolled back (a stack CloudFormation will never update)
    dead, failed = failed_creation(cfn, backend, "fail")
    # When it is redeployed, and the reaction runs again before and after the record noted the new stack
    record = redeploying(failed, version=4)
    replacement = backend.deploy(record)
    again = backend.deploy(record)
    noted = backend.deploy(record.evolve(deploymentId=replacement.deploymentId, stackName=replacement.stackName))
    # Then one replacement exists, named after the record version that asked for it, and the dead stack is deleted
    assert replacement == again == noted
    assert replacement.stackName == f"{dead.stackName}-r4"
    assert sorted(s.status for s in cfn.stacks.values()) == ["CREATE_COMPLETE", "DELETE_COMPLETE"]
    assert [c for c, _ in cfn.calls].count("DeleteStack") == 1


def test_a_redeploy_that_crashed_between_replacing_and_deleting_carries_on_with_its_replacement() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    # Given a creation that rolled back, redeployed, and the dead stack's deletion failing once
    dead, failed = failed_creation(cfn, backend, "fail")
    record = redeploying(failed, version=4)
    cfn.script("delete", Script("fail"))
    replacement = backend.deploy(record)
    # When the reaction runs again before the record noted the replacement (its stack still the dead one)
    again = backend.deploy(record)
    # Then it carries on with the same replacement, and asks again for the dead stack to go
    assert again == replacement
    assert cfn.stacks[dead.deploymentId].status == "DELETE_COMPLETE"
    assert sorted(s.status for s in cfn.stacks.values()) == ["CREATE_COMPLETE", "DELETE_COMPLETE"]


def test_a_redeploy_of_a_stack_still_in_progress_is_refused_with_the_reason() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    # Given a creation that never finished (the record failed past its deadline)
    _, failed = failed_creation(cfn, backend, "hang")
    # When it is redeployed, Then the redeploy is refused with what CloudFormation is still doing
    with pytest.raises(DeploymentRejected, match="is CREATE_IN_PROGRESS: CloudFormation is still working on it"):
        backend.deploy(redeploying(failed, version=3))


def test_a_server_is_not_removed_while_a_stack_it_replaced_is_still_there() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    # Given a server redeployed onto a replacement stack, whose predecessor's deletion hangs
    dead, failed = failed_creation(cfn, backend, "fail")
    cfn.script("delete", Script("hang"))
    replacement = backend.deploy(redeploying(failed, version=4))
    record = failed.evolve(
        status=ServerStatus.DELETING, deploymentId=replacement.deploymentId, stackName=replacement.stackName
    )
    # When its own stack is gone, Then what is left is named; once that is gone too, nothing is left
    left = backend.leftovers(record)
    assert left is not None
    assert left.startswith(f"stack {dead.stackName}, which a redeploy replaced, is DELETE_IN_PROGRESS")
    assert backend.teardown(record) is ApplyResult.STARTED  # asks again for the predecessor, then its own
    assert backend.leftovers(record) is None
    # and a server on its first stack never asks CloudFormation
    calls = len(cfn.calls)
    assert backend.leftovers(failed) is None
    assert len(cfn.calls) == calls


def test_a_redeploy_of_a_complete_stack_that_runs_what_is_asked_changes_nothing() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    record = creating()
    deployment = backend.deploy(record)
    failed = record.evolve(status=ServerStatus.FAILED, deploymentId=deployment.deploymentId)
    redeployed = backend.deploy(redeploying(failed, version=3))
    assert (redeployed.deploymentId, redeployed.unchanged) == (deployment.deploymentId, True)
    assert len(cfn.stacks) == 1


def test_a_complete_stack_or_one_busy_with_an_operation_has_lost_nothing() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    record = in_service(cfn, backend)
    # Given the stack created, When the sweep asks, Then nothing is lost
    assert backend.loss(record) is None
    # Given an update that rolled back (the previous configuration keeps running), Then nothing is lost either
    cfn.script("update", Script("fail", "TaskDefinition", "image not found"))
    backend.apply(
        record.evolve(spec=record.spec.model_copy(update={"environment": {"LEVEL": "v2"}}), requestToken="hmcp-x-2")
    )
    assert cfn.find(record.deploymentId or "", "test").status == "UPDATE_ROLLBACK_COMPLETE"
    assert backend.loss(record) is None
    # Given an operation in progress, Then it is not judged now
    cfn.find(record.deploymentId or "", "test").status = "UPDATE_IN_PROGRESS"
    assert backend.loss(record) is None


def test_a_stack_deleted_outside_the_platform_is_a_loss_that_names_it() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    record = in_service(cfn, backend)
    # When someone deletes the stack in the console
    cfn.delete_outside(record.stackName or "")
    # Then the sweep learns the record's deployment is gone, by name
    assert backend.loss(record) == f"stack {record.stackName} no longer exists (deleted outside the platform)"


def test_a_stack_left_broken_is_a_loss_with_the_failed_resources_own_reason() -> None:
    cfn = FakeCloudFormation()
    backend = CloudFormationBackend(cfn, PLATFORM)
    record = in_service(cfn, backend)
    # When an update's rollback fails (the stack is UPDATE_ROLLBACK_FAILED: nothing CloudFormation repairs alone)
    cfn.script("update", Script("fail-rollback", "Service", "Service did not stabilize"))
    backend.apply(
        record.evolve(spec=record.spec.model_copy(update={"environment": {"LEVEL": "v2"}}), requestToken="hmcp-x-2")
    )
    # Then the loss says which status and which resource, in CloudFormation's words
    assert (
        backend.loss(record)
        == f"stack {record.stackName} is UPDATE_ROLLBACK_FAILED: Service: Service did not stabilize"
    )


# -- items and events -----------------------------------------------------------------------------------------------


def test_a_connection_carries_the_placeholder_and_the_streamable_url_whatever_the_type() -> None:
    sse = a_record(ServerSpec.model_validate({"name": "n", "serverType": "sse", "startCommand": "x", "port": 8000}))
    item = connection_item(sse, server_urls("https://api/prod", sse).primary, active=False)
    assert item["url"] == "https://api/prod/mcp/n/mcp"  # the gateway serves /mcp for SSE servers too
    assert item["status"] == "inactive"
    assert item["customHeaders"] == {"Authorization": "Bearer {LISA_BEARER_TOKEN}"}
    assert (item["id"], item["owner"]) == (sse.id, "lisa:public")


def test_stream_records_of_other_items_are_no_change() -> None:
    audit = AuditEntry(
        serverId=SERVER_ID, version=2, at=NOW, actor="a", fromStatus=None, toStatus=ServerStatus.CREATING, reason="r"
    )
    assert status_change({"dynamodb": {"NewImage": AuditItem.of(audit).to_attributes()}}) is None
    image = ServerItem.of(creating()).to_attributes()
    change = status_change({"dynamodb": {"NewImage": image}})
    assert change is not None
    assert change.new == creating()


def test_transition_metrics_count_the_change_and_the_time_to_in_service() -> None:
    old = creating()
    new = old.evolve(status=ServerStatus.IN_SERVICE, updatedAt=NOW + timedelta(minutes=4))
    points = {p.name: p for p in transition_metrics(StatusChange(old=old, new=new))}
    assert points["StatusTransition"].dimensions == (("From", "Creating"), ("To", "InService"))
    assert points["TimeToInService"].value == 240
    failed = new.evolve(status=ServerStatus.FAILED, lastError="x")
    assert "DeploymentFailed" in {p.name for p in transition_metrics(StatusChange(old=old, new=failed))}
    assert transition_metrics(StatusChange(old=old, new=old.evolve(version=2))) == []


def test_status_event_entries_are_json_with_the_correlation_id() -> None:
    from hosted_mcp.adapters.eventbridge import put_events_entry
    from hosted_mcp.logic.reactions import status_event

    entry = put_events_entry(status_event(StatusChange(old=None, new=creating())), "bus")
    detail = json.loads(entry["Detail"])
    assert entry["EventBusName"] == "bus"
    assert detail["correlationId"] == f"{SERVER_ID}:1"
    assert detail["toStatus"] == "Creating"


def test_the_platform_for_server_stacks_comes_from_the_functions_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from hosted_mcp.wiring import aws

    for name, value in {
        "SERVERS_TABLE_NAME": "servers",
        "STACK_PREFIX": "hmcp",
        "SERVER_STACK_PARAMETERS": "/hosted-mcp/server-stacks",
        "SERVER_ROLE_PATH": "/servers/",
        "PERMISSIONS_BOUNDARY_ARN": "arn:aws:iam::123456789012:policy/boundary",
    }.items():
        monkeypatch.setenv(name, value)
    aws.clear_factories()
    try:
        platform = aws.stack_platform()
    finally:
        aws.clear_factories()
    assert platform.parameter_name("SubnetIds") == "/hosted-mcp/server-stacks/subnet-ids"
    assert platform.rolePath == "/servers/"
    assert platform.permissionsBoundaryArn == "arn:aws:iam::123456789012:policy/boundary"


def test_a_missing_platform_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from hosted_mcp.wiring import aws

    monkeypatch.setenv("SERVERS_TABLE_NAME", "servers")
    monkeypatch.delenv("SERVER_STACK_PARAMETERS", raising=False)
    monkeypatch.delenv("DISCOVERY_NAMESPACE", raising=False)
    aws.clear_factories()
    try:
        with pytest.raises(aws.SettingsError, match="SERVER_STACK_PARAMETERS"):
            aws.stack_platform()
        with pytest.raises(aws.SettingsError, match="DISCOVERY_NAMESPACE"):
            _ = aws.AwsReactionPorts().probe
    finally:
        aws.clear_factories()
