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

from hosted_mcp.adapters.stack_template import (
    StackPlatform,
    replacement_stack_name,
    server_id_of,
    stack_name,
    stack_tags,
    template_body,
)
from hosted_mcp.errors import DeploymentRejected
from hosted_mcp.lifecycle import Outcome
from hosted_mcp.models.domain import ServerRecord
from hosted_mcp.models.fields import ServerStatus
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
# A stable record's stack in one of these is serving what its last operation asked for (an update that rolled back
# keeps the previous configuration running). In any other terminal status it is gone or broken.
STACK_RUNNING = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"})
# A Failed server's stack in one of these cannot be updated: a replacement is created (the dead one is deleted).
REPLACES_TAG = "hosted-mcp:replaces"
STACK_DEAD = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"})
STACK_GONE = frozenset({"DELETE_COMPLETE", "DELETE_IN_PROGRESS"})


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
        """Create the record's stack; for a Failed server being redeployed, replace or update what is left."""
        if record.pending is not None and record.pending.returnStatus is ServerStatus.FAILED:
            return self._redeploy(record)
        return self._create(record, self.name_of(record))

    def apply(self, record: ServerRecord) -> ApplyResult:
        return self._update(record, record.deploymentId or self.name_of(record))

    def _create(self, record: ServerRecord, name: str, replaces: str | None = None) -> Deployment:
        params = self._common(record)
        if replaces is not None:  # the stack this one stands in for, to be deleted until it is gone
            params["Tags"] = [*params["Tags"], {"Key": REPLACES_TAG, "Value": replaces}]
        try:
            response = self._cfn.create_stack(StackName=name, OnFailure="ROLLBACK", **params)
            return Deployment(deploymentId=response["StackId"], stackName=name)
        except ClientError as error:
            code, message = _error(error)
            if code == "AlreadyExistsException":
                stack = self._cfn.describe_stacks(StackName=name)["Stacks"][0]
                return Deployment(deploymentId=stack["StackId"], stackName=name)
            if code in ("ValidationError", "InsufficientCapabilitiesException", "LimitExceededException"):
                raise DeploymentRejected(message) from error
            raise

    def _update(self, record: ServerRecord, stack: str) -> ApplyResult:
        try:
            self._cfn.update_stack(StackName=stack, **self._common(record))
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

    def _redeploy(self, record: ServerRecord) -> Deployment:
        """What redeploying a Failed server means for its stack. Idempotent for one record version: a repeated
        call finds its own operation (by token), or its own replacement (by name), and starts nothing new.

        - gone (deleted, by the platform or outside it), or a creation that rolled back (which CloudFormation
          never updates): a replacement stack `<name>-r<version>` is created, the dead one deleted;
        - complete (the deployment failed its MCP check, was lost, or its update failed and rolled back): it is
          updated to the record's configuration, `unchanged` when that is what it already runs;
        - anything else (a rollback or a deletion that failed): CloudFormation needs a hand first, the reason says.
        """
        stack = self._stack(record)
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if stack is not None and _latest_token(self._events(stack["StackId"])) == record.requestToken:
            return Deployment(deploymentId=stack["StackId"], stackName=stack["StackName"])
        replacement = self._describe(replacement_stack_name(self.prefix, record))
        if replacement is not None and replacement["StackStatus"] != "DELETE_COMPLETE":
            # This redeploy's own replacement, made by an attempt that crashed before the record knew it: finish
            # retiring what it replaces, and carry on with it.
            self._retire_predecessors(replacement)
            return Deployment(deploymentId=replacement["StackId"], stackName=replacement["StackName"])
        if status in STACK_DEAD or status in STACK_GONE:
            # The replacement first, naming the stack it stands in for; then the dead one is deleted (without a
            # token, like every retirement). A retry after a crash between the two finds the replacement by name.
            replaced = stack["StackId"] if stack is not None else None
            deployment = self._create(record, replacement_stack_name(self.prefix, record), replaces=replaced)
            if replaced is not None and status in STACK_DEAD:
                self._delete(replaced, None)
            return deployment
        assert stack is not None
        if status.endswith("_IN_PROGRESS"):
            raise DeploymentRejected(
                f"stack {stack['StackName']} is {status}: CloudFormation is still working on it; redeploy once it "
                "has finished, or delete the server"
            )
        if status in STACK_RUNNING:
            result = self._update(record, stack["StackId"])
            unchanged = result is ApplyResult.NO_CHANGE
            return Deployment(deploymentId=stack["StackId"], stackName=stack["StackName"], unchanged=unchanged)
        raise DeploymentRejected(
            f"stack {stack['StackName']} is {status}: CloudFormation cannot redeploy it as it is; continue its "
            "rollback or delete it in CloudFormation, or delete the server and create it again"
        )

    def teardown(self, record: ServerRecord) -> ApplyResult:
        stack = self._stack(record)
        if stack is not None:
            self._retire_predecessors(stack)
        if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
            return ApplyResult.NO_CHANGE
        self._delete(stack["StackId"], record.requestToken)
        return ApplyResult.STARTED

    def tidy(self, record: ServerRecord) -> None:
        stack = self._stack(record)
        if stack is not None:
            self._retire_predecessors(stack)

    def leftovers(self, record: ServerRecord) -> str | None:
        """Read only (teardown and the sweep delete): the stacks the record's replacement stack stands in for."""
        if not record.stackName or record.stackName == stack_name(self.prefix, record):
            return None  # the server's first stack replaced nothing
        stack = self._stack(record)
        if stack is None:
            return None
        for predecessor in self._predecessors(stack):
            if predecessor["StackStatus"] != "DELETE_COMPLETE":
                return (
                    f"stack {predecessor['StackName']}, which a redeploy replaced, is {predecessor['StackStatus']}: "
                    "the server is removed once it is gone (delete the server again then)"
                )
        return None

    def _retire_predecessors(self, stack: dict[str, Any]) -> None:
        """Delete, again if need be, the stacks a redeploy replaced (each names its predecessor in a tag), so a
        server never keeps two: a deletion that failed once is retried by every sweep until it is gone, and one
        still in progress is asked for again (CloudFormation takes that as the same deletion)."""
        for predecessor in self._predecessors(stack):
            if predecessor["StackStatus"] != "DELETE_COMPLETE":
                self._delete(predecessor["StackId"], None)

    def _predecessors(self, stack: dict[str, Any]) -> list[dict[str, Any]]:
        """The stacks `stack` replaced, newest first, as CloudFormation describes them now."""
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        current: dict[str, Any] | None = stack
        while current is not None:
            predecessor = next((t["Value"] for t in current.get("Tags", []) if t["Key"] == REPLACES_TAG), None)
            if predecessor is None or predecessor in seen:
                break
            seen.add(predecessor)
            current = self._describe(predecessor)
            if current is not None:
                found.append(current)
        return found

    def _delete(self, stack_id: str, token: str | None) -> None:
        params: dict[str, Any] = {"StackName": stack_id}
        if token:
            params["ClientRequestToken"] = token
        if self._role_arn:
            params["RoleARN"] = self._role_arn
        self._cfn.delete_stack(**params)

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
        if record.requestToken and _latest_token(events) != record.requestToken:
            return None
        reason = stack.get("StackStatusReason") or _default_reason(stack["StackStatus"])
        if outcome != "deployed":
            reason = real_failure_reason(events, record.requestToken, reason)
        return Settlement(serverId=record.id, deploymentId=stack["StackId"], outcome=outcome, reason=reason, token=None)

    def loss(self, record: ServerRecord) -> str | None:
        """Why a stable record's stack no longer serves it: deleted (by someone else), or left in a failed or
        rolled-back-creation state. None while it is complete, or while an operation is in progress. Whether the
        service's tasks are healthy is ECS's to repair (it replaces failing tasks), not a status change."""
        stack = self._stack(record)
        name = self.name_of(record)
        if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
            return f"stack {name} no longer exists (deleted outside the platform)"
        status = stack["StackStatus"]
        if status in STACK_RUNNING or status.endswith("_IN_PROGRESS"):
            return None
        events = self._events(stack["StackId"])
        reason = real_failure_reason(events, _latest_token(events), stack.get("StackStatusReason") or "")
        return f"stack {name} is {status}" + (f": {reason}" if reason else "")

    # -- reads --------------------------------------------------------------------------------------------------

    def _stack(self, record: ServerRecord) -> dict[str, Any] | None:
        return self._describe(record.deploymentId or self.name_of(record))

    def _describe(self, name_or_id: str) -> dict[str, Any] | None:
        try:
            stacks = self._cfn.describe_stacks(StackName=name_or_id)["Stacks"]
        except ClientError as error:
            code, message = _error(error)
            if code == "ValidationError" and "does not exist" in message:
                return None
            raise
        return stacks[0] if stacks else None

    def _events(self, stack_id: str) -> list[dict[str, Any]]:
        return stack_events(self._cfn, stack_id)


def _latest_token(events: list[dict[str, Any]]) -> str | None:
    """The request token of the stack's latest operation (its newest stack-level event)."""
    latest = next((e for e in events if e.get("LogicalResourceId") == e.get("StackName")), None)
    return latest.get("ClientRequestToken") if latest else None


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
