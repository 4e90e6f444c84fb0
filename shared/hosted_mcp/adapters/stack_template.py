"""The per-server CloudFormation stack, synthesized from a record: pure data in, a template dict out.

One module: one template whose parts name each other's logical ids, and which is bounded whole.

A server's stack holds only what is per server: log group, roles (when not given), the key its replicas seal MCP
`requestState` with (a generated Secrets Manager secret), task definition, ECS service registered in the platform's
Cloud Map namespace (`<server id>.<namespace>`, one A record per task), and autoscaling. No load-balancer resource:
the platform's router finds the tasks by that name, so the number of servers is not bound by an ALB's target groups
or rules. The shared pieces (cluster, namespace, security groups, images) live in the platform stack, which
publishes them as SSM parameters under one path; a server's template names those parameters (SSM parameter types),
so CloudFormation reads the platform's current values at every create and update of the stack, and re-applying a
server after the platform changed is enough to follow it.

Stop and start are stack updates of the same template with `enabled` false/true (desired count 0 and scaling
0/0; restored), so nothing is ever changed outside CloudFormation. The desired count is written only where it must
be (creation, stop, start): a plain update leaves the count autoscaling chose.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hosted_mcp.endpoints import route_prefix, upstream_path
from hosted_mcp.models.domain import ServerRecord, ServerSpec
from hosted_mcp.models.fields import REQUEST_STATE_KEY_VARIABLE, ServerStatus, ServerType
from hosted_mcp.stdio import bridge_arguments

MAX_STACK_NAME = 128
ARTIFACTS_MOUNT = "/opt/hosted-mcp/artifacts"
SERVER_DIR = "/app/server"
SERVER_CONTAINER = "server"
ARTIFACTS_CONTAINER = "artifacts"
HEALTH_CONTAINER = "mcp-health"
CUSTOM_METRIC_NAMESPACE = "HostedMcp/Servers"
KEY = "RequestStateKey"  # the logical id of the server's requestState secret
# How a stdio server is served over HTTP: images/stdio-base/Dockerfile's entry point, the port appended.
STDIO_BRIDGE = "hosted-mcp-bridge"  # the stdio base image has it on PATH
DEFAULT_CPU_TARGET = 70.0
# How long a resolver may keep a server's task addresses (Cloud Map A records): the router and the readiness probe
# see a new or stopped task within this many seconds.
DISCOVERY_TTL_SECONDS = 10
TAG_SERVER_ID = "hosted-mcp:server-id"
TAG_SERVER_NAME = "hosted-mcp:server-name"
TAG_PLATFORM = "hosted-mcp:platform"

_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,31}$")
_ID = re.compile(r"^[A-Za-z0-9]{1,63}$")  # a DNS label: the server's Cloud Map service is named after it

# Run by the health sidecar: a real MCP `initialize` against the server on localhost (streamable HTTP, or SSE:
# open the stream, post to the announced endpoint, read the answer from the stream). Exit 0 only when the
# answer carries serverInfo; a listening socket or a `/status` page is not enough.
MCP_HEALTH_SCRIPT = """
import json, sys, urllib.parse as p, urllib.request as r
url, timeout, transport = sys.argv[1], float(sys.argv[2]), sys.argv[3]
init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-03-26",
    "capabilities": {}, "clientInfo": {"name": "hosted-mcp-health", "version": "1"}}}).encode()
headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
if transport == "sse":
    stream = r.urlopen(r.Request(url, headers={"Accept": "text/event-stream"}), timeout=timeout)
    endpoint = next(line[5:].strip() for line in map(bytes.decode, stream) if line.startswith("data:"))
    r.urlopen(r.Request(p.urljoin(url, endpoint), init, headers), timeout=timeout).read()
    ok = any(b'"serverInfo"' in line for line in stream)
else:
    ok = b'"serverInfo"' in r.urlopen(r.Request(url, init, headers), timeout=timeout).read()
sys.exit(0 if ok else 1)
""".strip()


SSM_STRING = "AWS::SSM::Parameter::Value<String>"
# What a server's stack reads from the platform: template parameter -> (SSM parameter under the platform's path, type).
PLATFORM_PARAMETERS: dict[str, tuple[str, str]] = {
    "ClusterName": ("cluster-name", SSM_STRING),
    "SubnetIds": ("subnet-ids", "AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>"),
    "TaskSecurityGroupId": ("task-security-group-id", "AWS::SSM::Parameter::Value<AWS::EC2::SecurityGroup::Id>"),
    "DiscoveryNamespaceId": ("discovery-namespace-id", SSM_STRING),
    "LogRetentionDays": ("log-retention-days", SSM_STRING),
    "StdioImage": ("stdio-image", SSM_STRING),
    "HttpImage": ("http-image", SSM_STRING),
    "ArtifactSyncImage": ("artifact-sync-image", SSM_STRING),
}


class StackPlatform(BaseModel):
    """What the platform shares with every server's stack. Network, cluster, discovery namespace, images and log
    retention are read by the stack itself from SSM under `parameterPrefix`; the rest is written into the template."""

    model_config = ConfigDict(frozen=True)

    stackPrefix: str = Field("hmcp", pattern=_PREFIX.pattern)
    parameterPrefix: str = Field(
        pattern=r"^/[A-Za-z0-9_.\-/]{1,900}[^/]$",
        description="SSM path the platform publishes server-stack values under (`/<platform stack>/server-stacks`).",
    )
    rolePath: str = "/hosted-mcp/"
    permissionsBoundaryArn: str | None = Field(None, description="Applied to every role a server's stack creates.")
    cpuArchitecture: str = "X86_64"

    def parameter_name(self, logical_id: str) -> str:
        return f"{self.parameterPrefix}/{PLATFORM_PARAMETERS[logical_id][0]}"


# -- names -------------------------------------------------------------------------------------------------------


def stack_name(prefix: str, record: ServerRecord) -> str:
    """`<prefix>-<server id>-<normalized name, truncated>`: deterministic, starts with a letter, <= 128 chars.

    The id comes right after the prefix so a stack event can be traced back to its server (`server_id_of`).
    """
    if not _PREFIX.match(prefix):
        raise ValueError(f"stack prefix {prefix!r} must start with a letter and use only letters, digits and -")
    if not _ID.match(record.id):
        raise ValueError(f"server id {record.id!r} is not alphanumeric")
    base = f"{prefix}-{record.id}"
    room = MAX_STACK_NAME - len(base) - 1
    name_part = record.normalizedName[:room]
    return f"{base}-{name_part}" if name_part else base


def replacement_stack_name(prefix: str, record: ServerRecord) -> str:
    """The name of the stack that replaces one a Failed server cannot reuse (a creation that rolled back keeps its
    name until it is deleted): the usual name with `-r<record version>`, deterministic per redeploy."""
    suffix = f"-r{record.version}"
    return stack_name(prefix, record)[: MAX_STACK_NAME - len(suffix)] + suffix


def server_id_of(prefix: str, stack_name_or_id: str) -> str | None:
    """The server id a stack name (or stack id ARN) of ours belongs to; None for anybody else's stack."""
    name = stack_name_or_id
    if name.startswith("arn:"):
        parts = name.split(":", 5)
        name = parts[5].split("/")[1] if len(parts) == 6 and parts[5].count("/") >= 1 else ""
    if not name.startswith(prefix + "-"):
        return None
    server_id = name[len(prefix) + 1 :].split("-", 1)[0]
    return server_id if _ID.match(server_id) else None


def stack_tags(prefix: str, record: ServerRecord) -> list[dict[str, str]]:
    """Tags on the stack (CloudFormation propagates them to every resource that takes tags)."""
    return [
        {"Key": TAG_SERVER_ID, "Value": record.id},
        {"Key": TAG_SERVER_NAME, "Value": record.normalizedName or record.id},
        {"Key": TAG_PLATFORM, "Value": prefix},
    ]


def artifact_location(s3_path: str) -> tuple[str, str]:
    """(`bucket`, `key prefix` without leading/trailing slashes) of an `s3Path` (`bucket/path` or `s3://...`)."""
    path = s3_path.removeprefix("s3://").strip("/")
    bucket, _, prefix = path.partition("/")
    return bucket, prefix.strip("/")


# -- the container ----------------------------------------------------------------------------------------------


def server_command(spec: ServerSpec) -> list[str]:
    """argv of the server process. stdio is wrapped by our bridge (the stdio base image's entry point; it passes the
    environment to the command after `--`); no shell interprets the start command."""
    if spec.serverType is ServerType.STDIO:
        return [STDIO_BRIDGE, *bridge_arguments(spec, host="0.0.0.0", port=spec.port)]  # noqa: S104 - the task's own
    return shlex.split(spec.startCommand)


def _log_configuration(stream_prefix: str) -> dict[str, Any]:
    return {
        "LogDriver": "awslogs",
        "Options": {
            "awslogs-group": {"Ref": "LogGroup"},
            "awslogs-region": {"Ref": "AWS::Region"},
            "awslogs-stream-prefix": stream_prefix,
        },
    }


def _health_check(spec: ServerSpec, command: list[str]) -> dict[str, Any]:
    check = spec.containerHealthCheckConfig
    return {
        "Command": command,
        "Interval": check.interval,
        "Timeout": check.timeout,
        "Retries": check.retries,
        "StartPeriod": check.startPeriod,
    }


def _user_health_command(spec: ServerSpec) -> list[str] | None:
    command = spec.containerHealthCheckConfig.command
    if command is None:
        return None
    if isinstance(command, str):
        return ["CMD-SHELL", command]
    return command if command[0] in ("CMD", "CMD-SHELL") else ["CMD", *command]


def base_image_parameter(spec: ServerSpec) -> str | None:
    """The platform image a server without an image of its own runs in (a template parameter), or None."""
    if spec.image:
        return None
    return "StdioImage" if spec.serverType is ServerType.STDIO else "HttpImage"


def _containers(spec: ServerSpec) -> list[dict[str, Any]]:
    argv = server_command(spec)
    base = base_image_parameter(spec)
    image: Any = {"Ref": base} if base else spec.image
    server: dict[str, Any] = {
        "Name": SERVER_CONTAINER,
        "Image": image,
        "Essential": True,
        "PortMappings": [{"ContainerPort": spec.port, "Protocol": "tcp"}],
        "Environment": [{"Name": k, "Value": v} for k, v in sorted(spec.environment.items())],
        "LogConfiguration": _log_configuration("server"),
    }
    if spec.image is None or spec.s3Path:
        server["WorkingDirectory"] = SERVER_DIR
    containers = []
    if spec.s3Path:
        bucket, prefix = artifact_location(spec.s3Path)
        source = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        containers.append(
            {
                "Name": ARTIFACTS_CONTAINER,
                "Image": {"Ref": "ArtifactSyncImage"},
                "Essential": False,
                "EntryPoint": ["aws"],
                "Command": ["s3", "sync", "--only-show-errors", source, ARTIFACTS_MOUNT],
                "MountPoints": [{"SourceVolume": "artifacts", "ContainerPath": ARTIFACTS_MOUNT}],
                "LogConfiguration": _log_configuration("artifacts"),
            }
        )
        # Copy the synced artifacts over /app/server (they add to or overwrite an image's files), then exec the
        # command; the command's words are positional arguments, never parsed by the shell.
        script = f'mkdir -p {SERVER_DIR} && cp -a {ARTIFACTS_MOUNT}/. {SERVER_DIR}/ && exec "$@"'
        server["EntryPoint"] = ["/bin/sh", "-c", script, "hosted-mcp-start"]
        server["Command"] = argv
        server["MountPoints"] = [{"SourceVolume": "artifacts", "ContainerPath": ARTIFACTS_MOUNT, "ReadOnly": True}]
        server["DependsOn"] = [{"ContainerName": ARTIFACTS_CONTAINER, "Condition": "SUCCESS"}]
    else:
        server["EntryPoint"] = argv[:1]
        server["Command"] = argv[1:]
    user_check = _user_health_command(spec)
    if user_check:
        server["HealthCheck"] = _health_check(spec, user_check)
    containers.append(server)
    timeout = spec.containerHealthCheckConfig.timeout
    url = f"http://127.0.0.1:{spec.port}{upstream_path(spec)}"
    transport = "sse" if spec.serverType is ServerType.SSE else "http"
    containers.append(
        {
            "Name": HEALTH_CONTAINER,
            "Image": {"Ref": "StdioImage"},  # has python3: runs the MCP health script
            "Essential": True,
            "EntryPoint": ["python3", "-c", "import time\nwhile True: time.sleep(3600)"],
            "HealthCheck": _health_check(
                spec, ["CMD", "python3", "-c", MCP_HEALTH_SCRIPT, url, str(max(1, timeout - 1)), transport]
            ),
            "DependsOn": [{"ContainerName": SERVER_CONTAINER, "Condition": "START"}],
            "LogConfiguration": _log_configuration("health"),
        }
    )
    return containers


# -- roles ------------------------------------------------------------------------------------------------------


def _ecs_tasks_trust() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
            }
        ],
    }


def _role_properties(platform: StackPlatform) -> dict[str, Any]:
    properties: dict[str, Any] = {"Path": platform.rolePath, "AssumeRolePolicyDocument": _ecs_tasks_trust()}
    if platform.permissionsBoundaryArn:
        properties["PermissionsBoundary"] = platform.permissionsBoundaryArn
    return properties


def _read_request_state_key() -> dict[str, Any]:
    """The one grant on the server's key: its execution role reads it, so ECS can hand it to the containers."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": KEY}}],
    }


def _execution_role(platform: StackPlatform) -> dict[str, Any]:
    properties = _role_properties(platform)
    properties["ManagedPolicyArns"] = [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}
    ]
    properties["Policies"] = [{"PolicyName": "request-state-key", "PolicyDocument": _read_request_state_key()}]
    return {"Type": "AWS::IAM::Role", "Properties": properties}


def _given_execution_role_reads_the_key(record: ServerRecord, role_arn: str) -> dict[str, Any]:
    """A given execution role gets the grant as a policy of its own, named after the server (a role may be shared
    by several servers, each adding its own)."""
    return {
        "Type": "AWS::IAM::RolePolicy",
        "Properties": {
            "RoleName": role_arn.rsplit("/", 1)[-1],
            "PolicyName": f"hosted-mcp-request-state-{record.id}",
            "PolicyDocument": _read_request_state_key(),
        },
    }


def _request_state_key() -> dict[str, Any]:
    """A generated secret every task of the server gets as REQUEST_STATE_KEY_VARIABLE. Named after the stack (the
    stack role's grants are scoped to that prefix); CloudFormation deletes it without a recovery window."""
    return {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Name": {"Fn::Sub": "${AWS::StackName}-request-state"},
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
        },
    }


def _task_role(spec: ServerSpec, platform: StackPlatform) -> dict[str, Any]:
    properties = _role_properties(platform)
    if spec.s3Path:
        bucket, prefix = artifact_location(spec.s3Path)
        objects = f"{prefix}/*" if prefix else "*"
        statements: list[dict[str, Any]] = [
            {
                "Sid": "ReadArtifacts",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}/{objects}"},
            },
            {
                "Sid": "ListArtifacts",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}"},
                "Condition": {"StringLike": {"s3:prefix": [prefix, objects] if prefix else ["*"]}},
            },
        ]
        properties["Policies"] = [
            {"PolicyName": "artifacts", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}
        ]
    return {"Type": "AWS::IAM::Role", "Properties": properties}


# -- scaling ----------------------------------------------------------------------------------------------------


def _scaling(record: ServerRecord, spec: ServerSpec, enabled: bool) -> dict[str, Any]:
    scaling = spec.autoScalingConfig
    cooldown = scaling.cooldown
    resources: dict[str, Any] = {
        "ScalableTarget": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "ServiceNamespace": "ecs",
                "ScalableDimension": "ecs:service:DesiredCount",
                "ResourceId": {"Fn::Sub": "service/${ClusterName}/${Service.Name}"},
                "MinCapacity": scaling.minCapacity if enabled else 0,
                "MaxCapacity": scaling.maxCapacity if enabled else 0,
            },
        },
    }
    cpu_target = scaling.targetValue if scaling.targetValue and not scaling.metricName else DEFAULT_CPU_TARGET
    tracking: dict[str, Any] = {
        "TargetValue": cpu_target,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
    }
    if cooldown is not None:
        tracking |= {"ScaleInCooldown": cooldown, "ScaleOutCooldown": cooldown}
    resources["CpuScalingPolicy"] = {
        "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
        "Properties": {
            "PolicyName": {"Fn::Sub": "${AWS::StackName}-cpu"},
            "PolicyType": "TargetTrackingScaling",
            "ScalingTargetId": {"Ref": "ScalableTarget"},
            "TargetTrackingScalingPolicyConfiguration": tracking,
        },
    }
    if scaling.metricName:
        resources |= _custom_metric_scaling(record, spec)
    return resources


def _metric_period(duration: int | None) -> int:
    """A CloudWatch alarm period from `duration`: 10, 30 or a multiple of 60 seconds (default 60)."""
    if duration is None:
        return 60
    if duration < 60:
        return 10 if duration < 30 else 30
    return duration - duration % 60


def _custom_metric_scaling(record: ServerRecord, spec: ServerSpec) -> dict[str, Any]:
    """Step scaling on the server's own metric: one task out when at/above target for `duration`, one in when
    below it for three periods; `cooldown` between actions."""
    scaling = spec.autoScalingConfig
    period = _metric_period(scaling.duration)
    target = scaling.targetValue or DEFAULT_CPU_TARGET
    resources: dict[str, Any] = {}
    for direction, adjustment, operator, periods in (
        ("Out", 1, "GreaterThanOrEqualToThreshold", 1),
        ("In", -1, "LessThanThreshold", 3),
    ):
        step: dict[str, Any] = {"ScalingAdjustment": adjustment}
        step["MetricIntervalLowerBound" if adjustment > 0 else "MetricIntervalUpperBound"] = 0
        configuration: dict[str, Any] = {
            "AdjustmentType": "ChangeInCapacity",
            "MetricAggregationType": "Average",
            "StepAdjustments": [step],
        }
        if scaling.cooldown is not None:
            configuration["Cooldown"] = scaling.cooldown
        resources[f"CustomMetricScale{direction}Policy"] = {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": {"Fn::Sub": f"${{AWS::StackName}}-{direction.lower()}"},
                "PolicyType": "StepScaling",
                "ScalingTargetId": {"Ref": "ScalableTarget"},
                "StepScalingPolicyConfiguration": configuration,
            },
        }
        resources[f"CustomMetricScale{direction}Alarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": f"Scale {direction.lower()} {record.normalizedName} on {scaling.metricName}",
                "Namespace": CUSTOM_METRIC_NAMESPACE,
                "MetricName": scaling.metricName,
                "Dimensions": [{"Name": "ServerName", "Value": record.normalizedName or record.id}],
                "Statistic": "Average",
                "Period": period,
                "EvaluationPeriods": periods,
                "Threshold": target,
                "ComparisonOperator": operator,
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": f"CustomMetricScale{direction}Policy"}],
            },
        }
    return resources


# -- the template -----------------------------------------------------------------------------------------------


def desired_count(record: ServerRecord, spec: ServerSpec, enabled: bool) -> int | None:
    """The service's desired count where it must be written, else None (left out of the template).

    Creation starts `minCapacity` tasks, stop takes the service to 0 and start brings `minCapacity` back; any other
    update leaves the count out, so ECS keeps what autoscaling chose instead of resetting a scaled-out service.
    """
    if record.status in (ServerStatus.CREATING, ServerStatus.STOPPING, ServerStatus.STARTING):
        return spec.autoScalingConfig.minCapacity if enabled else 0
    return None


def _platform_parameters(spec: ServerSpec, platform: StackPlatform) -> dict[str, Any]:
    used = ["ClusterName", "SubnetIds", "TaskSecurityGroupId", "DiscoveryNamespaceId", "LogRetentionDays", "StdioImage"]
    base = base_image_parameter(spec)
    if base and base not in used:
        used.append(base)
    if spec.s3Path:
        used.append("ArtifactSyncImage")
    return {
        logical_id: {"Type": PLATFORM_PARAMETERS[logical_id][1], "Default": platform.parameter_name(logical_id)}
        for logical_id in used
    }


def server_stack_template(
    record: ServerRecord, platform: StackPlatform, *, spec: ServerSpec | None = None, enabled: bool | None = None
) -> dict[str, Any]:
    """The server's stack for `spec`/`enabled` (default: where the record is being driven, its desired config)."""
    spec = spec or record.desired_spec
    enabled = record.desired_enabled if enabled is None else enabled
    if not _ID.match(record.id):
        raise ValueError(f"server id {record.id!r} is not a DNS label")
    service: dict[str, Any] = {
        "Cluster": {"Ref": "ClusterName"},
        "LaunchType": "FARGATE",
        "TaskDefinition": {"Ref": "TaskDefinition"},
        "DeploymentConfiguration": {
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
            "MinimumHealthyPercent": 100,
            "MaximumPercent": 200,
        },
        "HealthCheckGracePeriodSeconds": max(60, spec.containerHealthCheckConfig.startPeriod * 2),
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                "AssignPublicIp": "DISABLED",
                "Subnets": {"Ref": "SubnetIds"},
                "SecurityGroups": [{"Ref": "TaskSecurityGroupId"}],
            }
        },
        # Each task is registered as an A record of <server id>.<namespace> while ECS finds it healthy (the MCP
        # health sidecar); the router resolves that name. No target group, no listener rule.
        "ServiceRegistries": [{"RegistryArn": {"Fn::GetAtt": ["Discovery", "Arn"]}}],
        "PropagateTags": "SERVICE",
        "EnableECSManagedTags": True,
    }
    count = desired_count(record, spec, enabled)
    if count is not None:
        service["DesiredCount"] = count
    containers = _containers(spec)
    server = next(c for c in containers if c["Name"] == SERVER_CONTAINER)
    server["Secrets"] = [{"Name": REQUEST_STATE_KEY_VARIABLE, "ValueFrom": {"Ref": KEY}}]
    resources: dict[str, Any] = {
        "LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"RetentionInDays": {"Ref": "LogRetentionDays"}},
        },
        "Discovery": {
            "Type": "AWS::ServiceDiscovery::Service",
            "Properties": {
                "Name": record.id,
                "NamespaceId": {"Ref": "DiscoveryNamespaceId"},
                "DnsConfig": {
                    "RoutingPolicy": "MULTIVALUE",
                    "DnsRecords": [{"Type": "A", "TTL": DISCOVERY_TTL_SECONDS}],
                },
                "HealthCheckCustomConfig": {"FailureThreshold": 1},
            },
        },
        KEY: _request_state_key(),
        "TaskDefinition": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": {"Ref": "AWS::StackName"},
                "RequiresCompatibilities": ["FARGATE"],
                "NetworkMode": "awsvpc",
                "Cpu": str(spec.cpu),
                "Memory": str(spec.memoryLimitMiB),
                "RuntimePlatform": {"OperatingSystemFamily": "LINUX", "CpuArchitecture": platform.cpuArchitecture},
                "ExecutionRoleArn": spec.taskExecutionRoleArn or {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
                "TaskRoleArn": spec.taskRoleArn or {"Fn::GetAtt": ["TaskRole", "Arn"]},
                "ContainerDefinitions": containers,
                "Volumes": [{"Name": "artifacts"}] if spec.s3Path else [],
            },
        },
        "Service": {"Type": "AWS::ECS::Service", "Properties": service},
    }
    if spec.taskExecutionRoleArn:
        resources["KeyReader"] = _given_execution_role_reads_the_key(record, spec.taskExecutionRoleArn)
        resources["Service"]["DependsOn"] = ["KeyReader"]  # no task starts before it may read its key
    else:
        resources["ExecutionRole"] = _execution_role(platform)
    if not spec.taskRoleArn:
        resources["TaskRole"] = _task_role(spec, platform)
    resources |= _scaling(record, spec, enabled)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Hosted MCP server {record.normalizedName or record.id} ({record.id})",
        "Parameters": _platform_parameters(spec, platform),
        "Resources": resources,
        "Outputs": {
            "ServiceName": {"Value": {"Fn::GetAtt": ["Service", "Name"]}},
            "DiscoveryName": {"Value": record.id},
            "RoutePrefix": {"Value": route_prefix(record.normalizedName)},
        },
    }


def template_body(record: ServerRecord, platform: StackPlatform) -> str:
    """The TemplateBody sent to CloudFormation (compact JSON: what the 51,200-byte limit counts)."""
    return json.dumps(server_stack_template(record, platform), separators=(",", ":"))
