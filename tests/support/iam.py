"""Enough of IAM to prove the template's roles suffice, offline.

- `role_statements` / `function_statements`: a role's (or a SAM function's) policy statements from template.yaml, with
  `!Ref`, `!GetAtt` and `!Sub` resolved to the concrete names the tests use (`RESOLVED`).
- `allows`: whether some Allow statement grants an action on a resource (wildcards as IAM matches them; conditions
  only narrow a grant, so they are ignored here and asserted separately where they matter).
- `handler_permissions`: what CloudFormation's handlers for a resource type need, from the resource schemas that
  ship with cfn-lint.
- `RecordingClient` and `iam_requirements`: the AWS API calls a function's code really makes (recorded around a
  boto3 client or one of the test fakes), and the IAM actions and resources each call needs.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from tests.support.ddb import load_template

ACCOUNT = "123456789012"
REGION = "us-east-1"
PLATFORM_STACK = "hosted-mcp"
SERVERS_TABLE = "hosted-mcp-servers"
API_KEYS_TABLE = "hosted-mcp-api-keys"
CALL_AUDIT_TABLE = "hosted-mcp-calls"
CONNECTIONS_TABLE = "lisa-mcp-connections"
STATUS_BUS = "hosted-mcp-status"
CLUSTER = "hosted-mcp-ServersCluster-1a2B3c4D5e6F"
NAMESPACE_ID = "ns-4w2kq3x7yqz5abcd"
NAMESPACE_ARN = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:namespace/{NAMESPACE_ID}"
ROUTER_SEALING_KEY_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{PLATFORM_STACK}-router-sealing-key-AbC123"
SERVER_STACK_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{PLATFORM_STACK}-ServerStackRole-1A2B3C4D5E6F"

# What `!Ref X` / `!GetAtt X.Y` / `${X}` stand for in the tests (one deployment of the platform stack).
RESOLVED: dict[str, str] = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": PLATFORM_STACK,
    "AWS::URLSuffix": "amazonaws.com",
    "StackNamePrefix": "hmcp",
    "PassableRolePath": "hosted-mcp/",
    "ConnectionsTableName": CONNECTIONS_TABLE,
    "ServersTable": SERVERS_TABLE,
    "ServersTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{SERVERS_TABLE}",
    "ServersTable.StreamArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{SERVERS_TABLE}/stream/2026-11-24T00:00",
    "ApiKeysTable": API_KEYS_TABLE,
    "ApiKeysTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{API_KEYS_TABLE}",
    "CallAuditTable": CALL_AUDIT_TABLE,
    "CallAuditTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{CALL_AUDIT_TABLE}",
    "StatusBus": STATUS_BUS,
    "StatusBus.Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{STATUS_BUS}",
    "RecordChangesBus.Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{PLATFORM_STACK}-record-changes",
    "ReactionsFailureQueue.Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PLATFORM_STACK}-ReactionsFailureQueue-1A2B3C",
    "ServersCluster": CLUSTER,
    "DiscoveryNamespace.Arn": NAMESPACE_ARN,
    "DiscoveryNamespace.Id": NAMESPACE_ID,
    "DiscoveryNamespaceName": "hosted-mcp.internal",
    "RouterSealingKey": ROUTER_SEALING_KEY_ARN,
    "AllowedOrigins": "",
    "ServerStackRole.Arn": SERVER_STACK_ROLE_ARN,
}


NO_VALUE = object()
# The template's conditions as the tests deploy it: a permissions boundary and a connections table are given.
CONDITIONS = {"HasPermissionsBoundary": True, "HasConnectionsTable": True}
RESOLVED["PermissionsBoundaryArn"] = f"arn:aws:iam::{ACCOUNT}:policy/hosted-mcp-boundary"


def resolve(value: Any, conditions: dict[str, bool] | None = None) -> Any:
    """A template value with intrinsic functions replaced by the names in RESOLVED; `Fn::If` takes the branch
    `conditions` (default CONDITIONS) gives, and `AWS::NoValue` disappears."""
    conditions = CONDITIONS if conditions is None else conditions
    if isinstance(value, list):
        items = [resolve(v, conditions) for v in value]
        return [v for v in items if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if value == {"Ref": "AWS::NoValue"}:
        return NO_VALUE
    if set(value) == {"Ref"}:
        return RESOLVED[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        return RESOLVED[".".join(value["Fn::GetAtt"])]
    if set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: RESOLVED[m[1]], value["Fn::Sub"])
    if set(value) == {"Fn::If"}:
        name, when_true, when_false = value["Fn::If"]
        return resolve(when_true if conditions.get(name, True) else when_false, conditions)
    items = {k: resolve(v, conditions) for k, v in value.items()}
    return {k: v for k, v in items.items() if v is not NO_VALUE}


# -- statements ----------------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(role: str, conditions: dict[str, bool] | None = None) -> list[dict[str, Any]]:
    """Every statement of an AWS::IAM::Role's inline policies in template.yaml."""
    properties = load_template()["Resources"][role]["Properties"]
    statements = []
    for policy in properties.get("Policies", []):
        statements += resolve(policy["PolicyDocument"]["Statement"], conditions)
    return statements


def function_statements(function: str) -> list[dict[str, Any]]:
    """Every statement a SAM function's `Policies` grant (each entry must be an explicit `Statement` list)."""
    statements = []
    for entry in resolve(load_template()["Resources"][function]["Properties"].get("Policies", [])):
        assert set(entry) == {"Statement"}, f"{function}: a SAM policy template grants what nobody reviewed: {entry}"
        statements += entry["Statement"]
    return statements


def _matches(patterns: Any, value: str, *, case_sensitive: bool) -> bool:
    for pattern in _as_list(patterns):
        if case_sensitive and fnmatch.fnmatchcase(value, pattern):
            return True
        if not case_sensitive and fnmatch.fnmatchcase(value.lower(), str(pattern).lower()):
            return True
    return False


def allows(statements: list[dict[str, Any]], action: str, resource: str | None = None) -> bool:
    """Some Allow statement grants `action` (on `resource`, or on some resource when None)."""
    for statement in statements:
        if statement.get("Effect") != "Allow" or not _matches(statement["Action"], action, case_sensitive=False):
            continue
        if resource is None or _matches(statement["Resource"], resource, case_sensitive=True):
            return True
    return False


def granted_actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements if s.get("Effect") == "Allow" for action in _as_list(s["Action"])}


# -- CloudFormation handlers -------------------------------------------------------------------------------------


@cache
def _schema_index() -> dict[str, str]:
    data = resources.files("cfnlint") / "data" / "schemas" / "providers" / f"{REGION}.json"
    return dict(json.loads(data.read_text(encoding="utf-8")))


@cache
def resource_schema(resource_type: str) -> dict[str, Any]:
    digest = _schema_index()[resource_type]
    path = resources.files("cfnlint") / "data" / "schemas" / "resources" / f"{digest}.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


HANDLERS = ("create", "read", "update", "delete", "list")


def handler_permissions(resource_type: str) -> dict[str, set[str]]:
    """permission -> the handlers (create/read/update/delete/list) that need it, for one resource type."""
    needed: dict[str, set[str]] = {}
    for handler, spec in resource_schema(resource_type).get("handlers", {}).items():
        if handler in HANDLERS:
            for permission in spec.get("permissions", []):
                needed.setdefault(permission, set()).add(handler)
    return needed


# -- the calls code makes ----------------------------------------------------------------------------------------

current_function: ContextVar[str] = ContextVar("current_function", default="(none)")


@dataclass(frozen=True)
class Call:
    function: str
    service: str
    operation: str  # botocore's name, e.g. TransactWriteItems
    params: dict[str, Any]


class CallLog:
    def __init__(self) -> None:
        self.calls: list[Call] = []

    @contextmanager
    def acting_as(self, function: str) -> Iterator[None]:
        token = current_function.set(function)
        try:
            yield
        finally:
            current_function.reset(token)

    def by_function(self) -> dict[str, list[Call]]:
        result: dict[str, list[Call]] = {}
        for call in self.calls:
            result.setdefault(call.function, []).append(call)
        return result


def operation_name(service: str, method: str) -> str:
    """botocore's operation name for a client method (`describe_stack_events` -> `DescribeStackEvents`)."""
    return _operations(service)[method]


@cache
def _operations(service: str) -> dict[str, str]:
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


class RecordingClient:
    """Wraps a boto3 client (or a fake with the same methods) and logs every API call it makes, paginators too."""

    def __init__(self, inner: Any, service: str, log: CallLog) -> None:
        self._inner, self._service, self._log = inner, service, log

    def _record(self, method: str, params: dict[str, Any]) -> None:
        self._log.calls.append(
            Call(current_function.get(), self._service, operation_name(self._service, method), params)
        )

    def get_paginator(self, method: str) -> Any:
        inner = self._inner.get_paginator(method)
        recorder = self

        class Paginator:
            def paginate(self, **params: Any) -> Any:
                recorder._record(method, params)
                return inner.paginate(**params)

        return Paginator()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in _operations(self._service):
            return attribute

        def call(**params: Any) -> Any:
            self._record(name, params)
            return attribute(**params)

        return call


IAM_PREFIX = {"elbv2": "elasticloadbalancing"}
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def _stack_arn(name_or_id: str) -> str:
    if name_or_id.startswith("arn:"):
        return name_or_id
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name_or_id}/00000000-0000-4000-8000-000000000000"


def iam_requirements(call: Call) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs one API call needs, including what CloudFormation checks on the caller."""
    prefix = IAM_PREFIX.get(call.service, call.service)
    params = call.params
    if call.service == "dynamodb":
        if call.operation == "TransactWriteItems":
            needed = []
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                needed.append((f"dynamodb:{TRANSACT_ACTIONS[kind]}", _table_arn(body["TableName"])))
            return needed
        if call.operation == "BatchWriteItem":  # one action, on every table the batch names
            return [(f"dynamodb:{call.operation}", _table_arn(name)) for name in params["RequestItems"]]
        arn = _table_arn(params["TableName"])
        if params.get("IndexName"):
            arn += f"/index/{params['IndexName']}"
        return [(f"dynamodb:{call.operation}", arn)]
    if call.service == "cloudformation":
        arn = _stack_arn(params["StackName"])
        needed = [(f"cloudformation:{call.operation}", arn)]
        if params.get("Tags"):
            needed.append(("cloudformation:TagResource", arn))
        if params.get("RoleARN"):
            needed.append(("iam:PassRole", params["RoleARN"]))
        body = json.loads(params.get("TemplateBody") or "{}")
        for parameter in body.get("Parameters", {}).values():  # SSM parameter types are read for the caller
            if parameter["Type"].startswith("AWS::SSM::Parameter::Value<"):
                needed.append(("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{parameter['Default']}"))
        return needed
    if call.service == "events" and call.operation == "PutEvents":
        return [
            ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{entry['EventBusName']}")
            for entry in params["Entries"]
        ]
    return [(f"{prefix}:{call.operation}", "*")]


# -- the calls code could make -----------------------------------------------------------------------------------

ADAPTER_SERVICES = ("dynamodb", "cloudformation", "elbv2", "events", "ssm", "ecs", "sqs", "iam", "sts", "ecr")


def static_calls(paths: list[Path]) -> dict[tuple[str, str], set[str]]:
    """(service, operation) -> the modules whose code calls it, found by reading the source: every `x.<method>(...)`
    and `x.get_paginator("<method>")` whose method is an operation of one of ADAPTER_SERVICES."""
    by_method: dict[str, list[str]] = {}
    for service in ADAPTER_SERVICES:
        for method in _operations(service):
            by_method.setdefault(method, []).append(service)
    found: dict[tuple[str, str], set[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            method = node.func.attr
            if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                method = str(node.args[0].value)
            for service in by_method.get(method, []):
                found.setdefault((service, operation_name(service, method)), set()).add(path.name)
    return found
