"""Servers as CloudFormation stacks: the AWS DeploymentBackend, and stack status events as Settlements.

Every call is idempotent for one record version: the stack name is deterministic and every create/update/delete
carries `ClientRequestToken = record.requestToken`, so a retried or duplicated reaction never starts a second
operation. Outcomes arrive as `CloudFormation Stack Status Change` events (EventBridge -> the settle function);
`settlement_from_stack_event` maps them, and `real_failure_reason` digs the first failed resource's reason out of
the stack's events (the stack-level reason of a rollback is rarely the cause).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from hosted_mcp.adapters.stack_template import StackPlatform, server_id_of, stack_name, stack_tags, template_body
from hosted_mcp.errors import DeploymentRejected
from hosted_mcp.lifecycle import Outcome
from hosted_mcp.models.domain import ServerRecord
from hosted_mcp.models.settlement import Deployment, Settlement
from hosted_mcp.ports import ApplyResult, DeploymentBackend

logger = Logger(service="hosted-mcp-cloudformation")
STACK_STATUS_CHANGE = "CloudFormation Stack Status Change"

# Terminal stack statuses and what they mean for the action the record asked for. Anything else (IN_PROGRESS,
# UPDATE_FAILED on its way to a rollback, imports, reviews) is not an outcome yet.
OUTCOME_BY_STACK_STATUS: dict[str, Outcome] = {
    "CREATE_COMPLETE": "deployed",
    "CREATE_FAILED": "failed",  # only when rollback is disabled; ours roll back and end in ROLLBACK_COMPLETE
    "ROLLBACK_COMPLETE": "failed",
    "ROLLBACK_FAILED": "failed",
    "UPDATE_COMPLETE": "deployed",
    "UPDATE_ROLLBACK_COMPLETE": "rolledBack",
    "UPDATE_ROLLBACK_FAILED": "failed",
    "DELETE_COMPLETE": "deployed",
    "DELETE_FAILED": "failed",
}
NO_UPDATES = "No updates are to be performed"


# -- the event --------------------------------------------------------------------------------------------------


class StackStatusDetails(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    status: str
    status_reason: str = Field("", alias="status-reason")


class StackStatusChangeDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    stack_id: str = Field(alias="stack-id")
    status_details: StackStatusDetails = Field(alias="status-details")
    client_request_token: str | None = Field(None, alias="client-request-token")


class StackStatusChanged(BaseModel):
    """The EventBridge envelope of a CloudFormation stack status change (only the fields we use are required)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    source: str
    detail_type: str = Field(alias="detail-type")
    account: str
    region: str
    time: datetime
    resources: list[str] = Field(default_factory=list)
    detail: StackStatusChangeDetail


def settlement_from_stack_event(event: StackStatusChanged, prefix: str) -> Settlement | None:
    """The Settlement a stack status change stands for; None for our stacks' intermediate statuses and for stacks
    that are not ours."""
    detail = event.detail
    outcome = OUTCOME_BY_STACK_STATUS.get(detail.status_details.status)
    server_id = server_id_of(prefix, detail.stack_id)
    if outcome is None or server_id is None:
        return None
    status = detail.status_details.status
    reason = detail.status_details.status_reason.strip() or _default_reason(status)
    return Settlement(
        serverId=server_id,
        deploymentId=detail.stack_id,
        outcome=outcome,
        reason=reason,
        token=detail.client_request_token or None,
    )


def _default_reason(status: str) -> str:
    return f"stack {status}"


def real_failure_reason(events: list[dict[str, Any]], token: str | None, fallback: str) -> str:
    """The first resource failure of the operation `token` started (`events` newest first, as CloudFormation
    lists them), as `<logical id>: <reason>`; `fallback` when none is found."""
    failures = [
        e
        for e in reversed(events)
        if str(e.get("ResourceStatus", "")).endswith("_FAILED")
        and e.get("ResourceStatusReason")
        and (token is None or e.get("ClientRequestToken") == token)
        and e.get("LogicalResourceId") != e.get("StackName")
        and "cancelled" not in str(e.get("ResourceStatusReason")).lower()
    ]
    if not failures:
        return fallback
    first = failures[0]
    return f"{first['LogicalResourceId']}: {first['ResourceStatusReason']}"


# -- the backend ------------------------------------------------------------------------------------------------


def _error(error: ClientError) -> tuple[str, str]:
    details = error.response.get("Error", {})
    return str(details.get("Code", "")), str(details.get("Message", ""))


class CloudFormationBackend(DeploymentBackend):
    """One CloudFormation stack per server, created and changed with a service role (`role_arn`) so the calling
    function itself holds no rights over ECS, IAM, Cloud Map or Secrets Manager."""

    def __init__(self, cloudformation: Any, platform: StackPlatform, *, role_arn: str | None = None) -> None:
        self._cfn = cloudformation
        self._platform = platform
        self._role_arn = role_arn

    @property
    def prefix(self) -> str:
        return self._platform.stackPrefix

    def name_of(self, record: ServerRecord) -> str:
        return record.stackName or stack_name(self.prefix, record)

    def _common(self, record: ServerRecord) -> dict[str, Any]:
        params: dict[str, Any] = {
            "TemplateBody": template_body(record, self._platform),
            "Capabilities": ["CAPABILITY_IAM"],
            "Tags": stack_tags(self.prefix, record),
        }
        if record.requestToken:
            params["ClientRequestToken"] = record.requestToken
        if self._role_arn:
            params["RoleARN"] = self._role_arn
        return params

    def deploy(self, record: ServerRecord) -> Deployment:
        name = self.name_of(record)
        try:
            response = self._cfn.create_stack(StackName=name, OnFailure="ROLLBACK", **self._common(record))
            return Deployment(deploymentId=response["StackId"], stackName=name)
        except ClientError as error:
            code, message = _error(error)
            if code == "AlreadyExistsException":
                stack = self._cfn.describe_stacks(StackName=name)["Stacks"][0]
                return Deployment(deploymentId=stack["StackId"], stackName=name)
            if code in ("ValidationError", "InsufficientCapabilitiesException", "LimitExceededException"):
                raise DeploymentRejected(message) from error
            raise

    def apply(self, record: ServerRecord) -> ApplyResult:
        try:
            self._cfn.update_stack(StackName=record.deploymentId or self.name_of(record), **self._common(record))
            return ApplyResult.STARTED
        except ClientError as error:
            code, message = _error(error)
            if code == "ValidationError" and NO_UPDATES in message:
                return ApplyResult.NO_CHANGE
            if code == "ValidationError" and "_IN_PROGRESS state" in message:
                raise  # another operation is still running: retry later (bounded stream retries, then the reconciler)
            if code in ("ValidationError", "InsufficientCapabilitiesException"):
                raise DeploymentRejected(message) from error
            raise

    def teardown(self, record: ServerRecord) -> ApplyResult:
        stack = self._stack(record)
        if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
            return ApplyResult.NO_CHANGE
        params: dict[str, Any] = {"StackName": stack["StackId"]}
        if record.requestToken:
            params["ClientRequestToken"] = record.requestToken
        if self._role_arn:
            params["RoleARN"] = self._role_arn
        self._cfn.delete_stack(**params)
        return ApplyResult.STARTED

    def describe(self, record: ServerRecord) -> Settlement | None:
        """The outcome of the record's current action, read from the stack (for the reconciler): None while it runs
        or when the stack's latest operation is not the one the record asked for."""
        stack = self._stack(record)
        if stack is None:
            if record.deploymentId or record.stackName:
                return Settlement(
                    serverId=record.id, deploymentId=record.deploymentId or "", outcome="deployed", reason="stack gone"
                )
            return None
        outcome = OUTCOME_BY_STACK_STATUS.get(stack["StackStatus"])
        if outcome is None:
            return None
        events = self._events(stack["StackId"])
        latest = next((e for e in events if e.get("LogicalResourceId") == e.get("StackName")), None)
        if record.requestToken and (latest is None or latest.get("ClientRequestToken") != record.requestToken):
            return None
        reason = stack.get("StackStatusReason") or _default_reason(stack["StackStatus"])
        if outcome != "deployed":
            reason = real_failure_reason(events, record.requestToken, reason)
        return Settlement(serverId=record.id, deploymentId=stack["StackId"], outcome=outcome, reason=reason, token=None)

    # -- reads --------------------------------------------------------------------------------------------------

    def _stack(self, record: ServerRecord) -> dict[str, Any] | None:
        try:
            stacks = self._cfn.describe_stacks(StackName=record.deploymentId or self.name_of(record))["Stacks"]
        except ClientError as error:
            code, message = _error(error)
            if code == "ValidationError" and "does not exist" in message:
                return None
            raise
        return stacks[0] if stacks else None

    def _events(self, stack_id: str) -> list[dict[str, Any]]:
        return stack_events(self._cfn, stack_id)


def stack_events(cloudformation: Any, stack_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """The stack's events, newest first (at most `limit`: the current operation's are the newest)."""
    events: list[dict[str, Any]] = []
    for page in cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        events.extend(page.get("StackEvents", []))
        if len(events) >= limit:
            break
    return events


def explain(cloudformation: Any, settlement: Settlement) -> Settlement:
    """`settlement` with the real reason of a failure or rollback (the first failed resource's own reason)."""
    if settlement.outcome == "deployed" or not settlement.deploymentId:
        return settlement
    try:
        events = stack_events(cloudformation, settlement.deploymentId)
    except ClientError as error:
        code, message = _error(error)
        logger.warning("stack events unreadable", stack_id=settlement.deploymentId, code=code, error=message)
        return settlement
    return settlement.model_copy(update={"reason": real_failure_reason(events, settlement.token, settlement.reason)})
