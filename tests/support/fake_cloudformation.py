"""A scriptable stand-in for the CloudFormation API (the boto3 client calls our backend makes) that also produces the
`CloudFormation Stack Status Change` events EventBridge would deliver.

Operations finish at once (their stack status is final when the call returns) but their events wait in `outbox`
until the test delivers them, so it can duplicate, reorder, hold back or drop them. What an operation does is
scripted per stack operation: succeed (default), fail a resource (a create rolls back to ROLLBACK_COMPLETE, an
update to UPDATE_ROLLBACK_COMPLETE, a delete ends DELETE_FAILED), fail its rollback, reject the call outright, or
hang (the stack stays *_IN_PROGRESS and no terminal event ever comes; a delete may still be asked of it).
ClientRequestToken is honoured like the real service: a call repeated with the same token does nothing new.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"

Operation = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class Script:
    """What the next operation of a kind does. `resource`/`reason` describe the failing resource."""

    outcome: Literal["succeed", "fail", "fail-rollback", "reject", "hang"] = "succeed"
    resource: str = "Service"
    reason: str = "ECS Deployment Circuit Breaker was triggered."


@dataclass
class Stack:
    name: str
    stack_id: str
    status: str
    template: str
    parameters: dict[str, str]
    tags: list[dict[str, str]]
    tokens: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)  # newest first, like DescribeStackEvents


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message, "Type": "Sender"}}, operation)


class _EventsPaginator:
    def __init__(self, fake: FakeCloudFormation) -> None:
        self._fake = fake

    def paginate(self, StackName: str) -> Iterator[dict[str, Any]]:
        self._fake.calls.append(("DescribeStackEvents", StackName))
        stack = self._fake.find(StackName, "DescribeStackEvents")
        events = stack.events
        for start in range(0, max(len(events), 1), 100):
            yield {"StackEvents": [dict(e) for e in events[start : start + 100]]}


class FakeCloudFormation:
    def __init__(self) -> None:
        self.stacks: dict[str, Stack] = {}  # by stack id (deleted ones stay, like the real service)
        self.outbox: list[dict[str, Any]] = []  # EventBridge events not delivered yet
        self.calls: list[tuple[str, str]] = []  # (operation, stack name or id)
        self._scripts: dict[Operation, deque[Script]] = {"create": deque(), "update": deque(), "delete": deque()}
        self._clock = itertools.count()

    # -- scripting ---------------------------------------------------------------------------------------------

    def script(self, operation: Operation, *scripts: Script) -> None:
        self._scripts[operation].extend(scripts)

    def delete_outside(self, name_or_id: str) -> None:
        """Someone deletes the stack without the platform (the console, another tool): its events carry a token
        that is not ours."""
        stack = self.find(name_or_id, "DeleteStack")
        token = f"Console-DeleteStack-{uuid.uuid4()}"
        self._stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated", token)
        self._settle(stack, "DELETE_COMPLETE", "", token)

    def take_events(self) -> list[dict[str, Any]]:
        events, self.outbox = self.outbox, []
        return events

    # -- the API our backend calls -----------------------------------------------------------------------------

    def create_stack(self, **params: Any) -> dict[str, Any]:
        name, token = params["StackName"], params.get("ClientRequestToken", "")
        self.calls.append(("CreateStack", name))
        live = self._live(name)
        if live is not None:
            if token and token in live.tokens:
                return {"StackId": live.stack_id}
            raise _error("AlreadyExistsException", f"Stack [{name}] already exists", "CreateStack")
        script = self._next("create")
        if script.outcome == "reject":
            raise _error("ValidationError", f"Template format error: {script.reason}", "CreateStack")
        json.loads(params["TemplateBody"])
        stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{uuid.uuid4()}"
        stack = Stack(
            name=name,
            stack_id=stack_id,
            status="CREATE_IN_PROGRESS",
            template=params["TemplateBody"],
            parameters={p["ParameterKey"]: p["ParameterValue"] for p in params.get("Parameters", [])},
            tags=params.get("Tags", []),
        )
        self.stacks[stack_id] = stack
        stack.tokens.add(token)
        self._stack_event(stack, "CREATE_IN_PROGRESS", "User Initiated", token)
        if script.outcome == "hang":
            return {"StackId": stack_id}
        if script.outcome == "succeed":
            self._settle(stack, "CREATE_COMPLETE", "", token)
        else:
            self._resource_failure(stack, "CREATE_FAILED", script, token)
            self._stack_event(
                stack,
                "ROLLBACK_IN_PROGRESS",
                f"The following resource(s) failed to create: [{script.resource}].",
                token,
            )
            final = "ROLLBACK_FAILED" if script.outcome == "fail-rollback" else "ROLLBACK_COMPLETE"
            self._settle(stack, final, "", token)
        return {"StackId": stack_id}

    def update_stack(self, **params: Any) -> dict[str, Any]:
        stack = self.find(params["StackName"], "UpdateStack")
        token = params.get("ClientRequestToken", "")
        self.calls.append(("UpdateStack", stack.name))
        if token and token in stack.tokens:
            return {"StackId": stack.stack_id}
        if stack.status.endswith("_IN_PROGRESS") or stack.status in ("ROLLBACK_COMPLETE", "DELETE_COMPLETE"):
            raise _error(
                "ValidationError",
                f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.",
                "UpdateStack",
            )
        if params["TemplateBody"] == stack.template:
            raise _error("ValidationError", "No updates are to be performed.", "UpdateStack")
        script = self._next("update")
        if script.outcome == "reject":
            raise _error("ValidationError", f"Template format error: {script.reason}", "UpdateStack")
        stack.tokens.add(token)
        self._stack_event(stack, "UPDATE_IN_PROGRESS", "User Initiated", token)
        if script.outcome == "hang":
            return {"StackId": stack.stack_id}
        if script.outcome == "succeed":
            stack.template = params["TemplateBody"]
            self._settle(stack, "UPDATE_COMPLETE", "", token)
        else:
            self._resource_failure(stack, "UPDATE_FAILED", script, token)
            self._stack_event(
                stack,
                "UPDATE_ROLLBACK_IN_PROGRESS",
                f"The following resource(s) failed to update: [{script.resource}].",
                token,
            )
            if script.outcome == "fail-rollback":
                self._settle(stack, "UPDATE_ROLLBACK_FAILED", "", token)
            else:
                self._settle(stack, "UPDATE_ROLLBACK_COMPLETE", "", token)
        return {"StackId": stack.stack_id}

    def delete_stack(self, **params: Any) -> None:
        token = params.get("ClientRequestToken", "")
        self.calls.append(("DeleteStack", params["StackName"]))
        try:
            stack = self.find(params["StackName"], "DeleteStack")
        except ClientError:
            return  # deleting a stack that does not exist succeeds and changes nothing
        if stack.status == "DELETE_COMPLETE" or (token and token in stack.tokens):
            return
        script = self._next("delete")
        stack.tokens.add(token)
        self._stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated", token)
        if script.outcome == "hang":
            return
        if script.outcome == "succeed":
            self._settle(stack, "DELETE_COMPLETE", "", token)
        else:
            self._resource_failure(stack, "DELETE_FAILED", script, token)
            self._settle(
                stack, "DELETE_FAILED", f"The following resource(s) failed to delete: [{script.resource}].", token
            )

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.calls.append(("DescribeStacks", StackName))
        stack = self.find(StackName, "DescribeStacks")
        return {
            "Stacks": [
                {
                    "StackId": stack.stack_id,
                    "StackName": stack.name,
                    "StackStatus": stack.status,
                    "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in stack.parameters.items()],
                    "Tags": stack.tags,
                }
            ]
        }

    def get_paginator(self, operation: str) -> _EventsPaginator:
        assert operation == "describe_stack_events", operation
        return _EventsPaginator(self)

    # -- internals ---------------------------------------------------------------------------------------------

    def find(self, name_or_id: str, operation: str) -> Stack:
        """By id: any stack, deleted ones included. By name: only a live one (as the real service)."""
        if name_or_id in self.stacks:
            return self.stacks[name_or_id]
        live = self._live(name_or_id)
        if live is None:
            raise _error("ValidationError", f"Stack with id {name_or_id} does not exist", operation)
        return live

    def _live(self, name: str) -> Stack | None:
        return next((s for s in self.stacks.values() if s.name == name and s.status != "DELETE_COMPLETE"), None)

    def _next(self, operation: Operation) -> Script:
        scripts = self._scripts[operation]
        return scripts.popleft() if scripts else Script()

    def _now(self) -> datetime:
        return datetime(2026, 11, 24, 1, 0, tzinfo=UTC) + timedelta(seconds=next(self._clock))

    def _event(self, stack: Stack, logical_id: str, status: str, reason: str, token: str) -> None:
        stack.events.insert(
            0,
            {
                "StackId": stack.stack_id,
                "EventId": str(uuid.uuid4()),
                "StackName": stack.name,
                "LogicalResourceId": logical_id,
                "ResourceStatus": status,
                "ResourceStatusReason": reason,
                "ClientRequestToken": token,
                "Timestamp": self._now(),
            },
        )

    def _resource_failure(self, stack: Stack, status: str, script: Script, token: str) -> None:
        self._event(stack, "TaskDefinition", status, "Resource creation cancelled", token)
        self._event(stack, script.resource, status, script.reason, token)

    def _stack_event(self, stack: Stack, status: str, reason: str, token: str) -> None:
        stack.status = status
        self._event(stack, stack.name, status, reason, token)
        self.outbox.append(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "CloudFormation Stack Status Change",
                "source": "aws.cloudformation",
                "account": ACCOUNT,
                "time": self._now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "resources": [stack.stack_id],
                "detail": {
                    "stack-id": stack.stack_id,
                    "status-details": {"status": status, "status-reason": reason},
                    "client-request-token": token,
                },
            }
        )

    def _settle(self, stack: Stack, status: str, reason: str, token: str) -> None:
        self._stack_event(stack, status, reason, token)
