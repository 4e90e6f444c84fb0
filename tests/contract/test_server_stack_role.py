"""The role CloudFormation assumes for servers' stacks (`ServerStackRole` in template.yaml) is proven against the
resource schemas that ship with cfn-lint: for every resource type a server's stack holds, in every variant the
synthesizer makes, each permission a handler (create, read, update, delete, list) lists is granted, or is refused
here with the reason it can never be needed, and that reason is checked on every synthesized template. The other
way round, the role grants nothing no handler needs. Where a grant is scoped, the names CloudFormation and
Application Auto Scaling give the resources fall inside it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.iam import (
    CLUSTER,
    NAMESPACE_ARN,
    RESOLVED,
    allows,
    granted_actions,
    handler_permissions,
    resolve,
)
from tests.support.iam import role_statements as statements_of
from tests.support.server_stacks import all_templates

TEMPLATES = all_templates()
RESOURCE_TYPES = sorted({r["Type"] for t in TEMPLATES.values() for r in t["Resources"].values()})


def resources_of(resource_type: str) -> list[dict[str, Any]]:
    return [r for t in TEMPLATES.values() for r in t["Resources"].values() if r["Type"] == resource_type]


@dataclass(frozen=True)
class NeverNeeded:
    """A handler permission the role leaves out, why, and the check that keeps the reason true."""

    why: str
    holds: Callable[[], bool]


def _log_groups_hold_only_retention() -> bool:
    return all(set(r["Properties"]) == {"RetentionInDays"} for r in resources_of("AWS::Logs::LogGroup"))


def _secrets_stay_in_their_region() -> bool:
    return all("ReplicaRegions" not in r["Properties"] for r in resources_of("AWS::SecretsManager::Secret"))


def _targets_are_ecs_services() -> bool:
    targets = resources_of("AWS::ApplicationAutoScaling::ScalableTarget")
    return all(r["Properties"]["ServiceNamespace"] == "ecs" for r in targets)


LOG_GROUP_PROPERTIES = NeverNeeded(
    "a LogGroup property no server's log group sets (data protection and its audit destinations, field indexes, "
    "resource policies, KMS keys, bearer-token authentication, deletion protection)",
    _log_groups_hold_only_retention,
)
NEVER_NEEDED: dict[str, NeverNeeded] = {
    "s3:REST.PUT.OBJECT": NeverNeeded("not an IAM action (an S3 REST operation named in a schema)", lambda: True),
    "firehose:TagDeliveryStream": LOG_GROUP_PROPERTIES,
    "logs:CreateLogDelivery": LOG_GROUP_PROPERTIES,
    "logs:PutDataProtectionPolicy": LOG_GROUP_PROPERTIES,
    "logs:PutIndexPolicy": LOG_GROUP_PROPERTIES,
    "logs:DeleteIndexPolicy": LOG_GROUP_PROPERTIES,
    "logs:PutResourcePolicy": LOG_GROUP_PROPERTIES,
    "logs:DeleteResourcePolicy": LOG_GROUP_PROPERTIES,
    "logs:AssociateKmsKey": LOG_GROUP_PROPERTIES,
    "logs:DisassociateKmsKey": LOG_GROUP_PROPERTIES,
    "logs:PutBearerTokenAuthentication": LOG_GROUP_PROPERTIES,
    "logs:PutLogGroupDeletionProtection": LOG_GROUP_PROPERTIES,
    "secretsmanager:ReplicateSecretToRegions": NeverNeeded(
        "replicas of a secret in other regions; a server's key is read by its own tasks only, in its region",
        _secrets_stay_in_their_region,
    ),
    **{
        f"lambda:{action}ProvisionedConcurrencyConfig": NeverNeeded(
            "scalable targets of Lambda functions; a server scales its ECS service", _targets_are_ecs_services
        )
        for action in ("Get", "Put", "Delete")
    },
}
# Granted although no handler lists it, and why.
BEYOND_HANDLERS = {
    "ssm:GetParameters": "a server's template reads the platform's values through SSM parameter types",
}


def needed() -> dict[str, set[str]]:
    """permission -> `Type:handler` entries that need it, over every resource type the synthesizer emits."""
    result: dict[str, set[str]] = {}
    for resource_type in RESOURCE_TYPES:
        for permission, handlers in handler_permissions(resource_type).items():
            short = resource_type.split("::", 1)[1]
            result.setdefault(permission, set()).update(f"{short}:{h}" for h in handlers)
    return result


def test_the_synthesizer_emits_the_resource_types_this_proof_covers() -> None:
    assert RESOURCE_TYPES == [
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::ECS::Service",
        "AWS::ECS::TaskDefinition",
        "AWS::IAM::Role",
        "AWS::IAM::RolePolicy",
        "AWS::Logs::LogGroup",
        "AWS::SecretsManager::Secret",
        "AWS::ServiceDiscovery::Service",
    ]
    assert all(handler_permissions(t) for t in RESOURCE_TYPES)


@pytest.mark.parametrize("boundary", [True, False], ids=["with-boundary", "without-boundary"])
def test_every_handler_permission_of_every_emitted_type_is_granted(boundary: bool) -> None:
    # Given the role as deployed with and without a permissions boundary
    statements = statements_of("ServerStackRole", {"HasPermissionsBoundary": boundary})
    exempt = dict(NEVER_NEEDED)
    if boundary:  # removing a role's boundary would undo it; every generated role carries it (checked below)
        exempt["iam:DeleteRolePermissionsBoundary"] = NeverNeeded(
            "every role a server's stack creates carries the platform's boundary", lambda: True
        )
    # When each permission some handler lists is looked up
    missing = {p: sorted(by) for p, by in needed().items() if p not in exempt and not allows(statements, p)}
    # Then none is missing
    assert missing == {}, f"ServerStackRole lacks: {missing}"


@pytest.mark.parametrize("permission", sorted(NEVER_NEEDED))
def test_each_permission_left_out_can_never_be_needed(permission: str) -> None:
    reason = NEVER_NEEDED[permission]
    assert permission in needed(), f"{permission} is no longer listed by any handler: drop it from NEVER_NEEDED"
    assert not allows(statements_of("ServerStackRole"), permission)
    assert reason.holds(), f"{permission}: no longer true that it is {reason.why}"


def test_the_role_grants_nothing_no_handler_needs() -> None:
    for boundary in (True, False):
        granted = granted_actions(statements_of("ServerStackRole", {"HasPermissionsBoundary": boundary}))
        extra = {a for a in granted if a not in needed() and a not in BEYOND_HANDLERS}
        assert extra == set(), f"ServerStackRole grants what no handler needs: {sorted(extra)}"


# -- scopes: the names the resources really get fall inside the grants ------------------------------------------

STACK = "hmcp-3f5a9c0e1b2d4f6a8c0e1b2d4f6a8c0e-docsmcpworkbench"
ARN = "arn:aws:{service}:us-east-1:123456789012:{resource}"
NAMED = [
    # (what, actions, the ARN the resource gets)
    ("generated role", ["iam:CreateRole", "iam:DeleteRole", "iam:PutRolePolicy", "iam:ListRolePolicies",
                        "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy"],
     "arn:aws:iam::123456789012:role/hosted-mcp/hmcp-3f5a9c0e1b2d4f6a8c0e1b2d4f-TaskRole-1A2B3C4D5E6F"),
    ("log group", ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy"],
     ARN.format(service="logs", resource=f"log-group:{STACK}-LogGroup-1A2B3C4D5E6F")),
    ("service", ["ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:ListServiceDeployments"],
     ARN.format(service="ecs", resource=f"service/{CLUSTER}/{STACK}-Service-1A2B3C4D5E6F")),
    ("service deployment", ["ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment"],
     ARN.format(service="ecs", resource=f"service-deployment/{CLUSTER}/{STACK}-Service-1A2B/abcDEF123")),
    ("task definition", ["ecs:TagResource"], ARN.format(service="ecs", resource=f"task-definition/{STACK}:3")),
    ("custom-metric alarm", ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"],
     ARN.format(service="cloudwatch", resource=f"alarm:{STACK}-CustomMetricScaleOutAlarm-1A2B3C4D5E6F")),
    ("target-tracking alarm", ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"],
     ARN.format(service="cloudwatch", resource=f"alarm:TargetTracking-service/{CLUSTER}/{STACK}-Service-1A2B3C-"
                "AlarmHigh-0f1e2d3c-aaaa-bbbb-cccc-000011112222")),
    ("discovery service, created in the namespace", ["servicediscovery:CreateService"], NAMESPACE_ARN),
    ("discovery service", ["servicediscovery:GetService", "servicediscovery:DeleteService",
                           "servicediscovery:UpdateService"],
     ARN.format(service="servicediscovery", resource="service/srv-e4anhexw6ds6ty6q")),
    ("request-state key", ["secretsmanager:CreateSecret", "secretsmanager:GetSecretValue",
                           "secretsmanager:DeleteSecret"],
     ARN.format(service="secretsmanager", resource=f"secret:{STACK}-request-state-AbC123")),
    ("key grant of a given execution role", ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"],
     "arn:aws:iam::123456789012:role/hosted-mcp/custom-execution"),
    ("platform parameter", ["ssm:GetParameters"],
     ARN.format(service="ssm", resource="parameter/hosted-mcp/server-stacks/listener-arn")),
]  # fmt: skip


@pytest.mark.parametrize(("what", "actions", "arn"), NAMED, ids=[n[0] for n in NAMED])
def test_the_names_resources_get_fall_inside_the_scoped_grants(what: str, actions: list[str], arn: str) -> None:
    statements = statements_of("ServerStackRole")
    for action in actions:
        assert allows(statements, action, arn), (what, action, arn)


def test_another_stacks_resources_fall_outside() -> None:
    statements = statements_of("ServerStackRole")
    assert not allows(statements, "iam:DeleteRole", "arn:aws:iam::123456789012:role/admin")
    assert not allows(statements, "logs:DeleteLogGroup", ARN.format(service="logs", resource="log-group:payroll"))
    assert not allows(statements, "cloudwatch:DeleteAlarms", ARN.format(service="cloudwatch", resource="alarm:pager"))
    other_cluster = ARN.format(service="ecs", resource="service/payroll/api")
    assert not allows(statements, "ecs:DeleteService", other_cluster)
    payroll_secret = ARN.format(service="secretsmanager", resource="secret:payroll/db-password-AbC123")
    assert not allows(statements, "secretsmanager:GetSecretValue", payroll_secret)
    other_namespace = ARN.format(service="servicediscovery", resource="namespace/ns-payroll")
    assert not allows(statements, "servicediscovery:CreateService", other_namespace)


# -- the permissions boundary -------------------------------------------------------------------------------------


def test_with_a_boundary_roles_are_created_and_changed_only_with_it() -> None:
    statements = statements_of("ServerStackRole", {"HasPermissionsBoundary": True})
    writes = next(s for s in statements if s.get("Sid") == "ServerRolePolicies")
    assert "iam:CreateRole" in writes["Action"]
    assert writes["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": RESOLVED["PermissionsBoundaryArn"]}}
    assert not allows(statements, "iam:DeleteRolePermissionsBoundary")
    # And every role a server's stack creates carries the boundary the condition asks for
    roles = resources_of("AWS::IAM::Role")
    assert roles
    assert all(r["Properties"]["PermissionsBoundary"] == RESOLVED["PermissionsBoundaryArn"] for r in roles)


def test_every_role_the_platform_creates_takes_the_boundary_parameter() -> None:
    from tests.support.ddb import load_template

    template = load_template()
    boundary = {"Fn::If": ["HasPermissionsBoundary", {"Ref": "PermissionsBoundaryArn"}, {"Ref": "AWS::NoValue"}]}
    assert template["Globals"]["Function"]["PermissionsBoundary"] == boundary
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            assert resource["Properties"].get("PermissionsBoundary") == boundary, name
    assert resolve(template["Globals"]["Function"]["PermissionsBoundary"]) == RESOLVED["PermissionsBoundaryArn"]
