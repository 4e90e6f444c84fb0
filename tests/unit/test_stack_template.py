"""The per-server stack: what the template holds for each configuration, and that cfn-lint accepts every one."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.api import lint as cfn_lint

from hosted_mcp.adapters.stack_template import (
    HEALTH_CONTAINER,
    MAX_STACK_NAME,
    SERVER_CONTAINER,
    server_id_of,
    server_stack_template,
    stack_name,
    stack_tags,
)
from hosted_mcp.models.domain import PendingChange
from hosted_mcp.models.fields import REQUEST_STATE_KEY_VARIABLE, ServerStatus
from tests.support.server_stacks import (
    EXECUTION_ROLE,
    PLATFORM,
    SCALING,
    SOURCES,
    STATES,
    TASK_ROLE,
    a_record,
    a_spec,
    templates_of,
)


def container(template: dict[str, Any], name: str) -> dict[str, Any]:
    containers = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    return next(c for c in containers if c["Name"] == name)


def lint(template: dict[str, Any]) -> list[str]:
    matches = cfn_lint(json.dumps(template), regions=["us-east-1"])
    return [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches]


# -- names --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 28, 29, 60, 100])
def test_stack_names_are_valid_for_every_name_length(length: int) -> None:
    # Given a server whose name normalises to `length` characters
    record = a_record(a_spec(name="a" * length))
    # When its stack is named
    name = stack_name("hmcp", record)
    # Then the name is a valid CloudFormation stack name that leads back to the server, every time
    assert len(name) <= MAX_STACK_NAME
    assert name[0].isalpha()
    assert all(c.isalnum() or c == "-" for c in name)
    assert name == stack_name("hmcp", record)
    assert server_id_of("hmcp", name) == record.id
    stack_arn = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/0f1e2d3c-aaaa-bbbb-cccc-000011112222"
    assert server_id_of("hmcp", stack_arn) == record.id


def test_other_stacks_are_not_ours() -> None:
    assert server_id_of("hmcp", "hosted-mcp") is None
    assert server_id_of("hmcp", "arn:aws:cloudformation:us-east-1:123456789012:stack/other-x/1") is None


def test_stack_names_reject_a_prefix_that_does_not_start_with_a_letter() -> None:
    with pytest.raises(ValueError, match="start with a letter"):
        stack_name("1hmcp", a_record())


def test_tags_tie_the_stack_to_its_server() -> None:
    tags = {t["Key"]: t["Value"] for t in stack_tags("hmcp", a_record())}
    assert tags == {
        "hosted-mcp:server-id": "3f5a9c0e1b2d4f6a8c0e1b2d4f6a8c0e",
        "hosted-mcp:server-name": "docsmcpworkbench",
        "hosted-mcp:platform": "hmcp",
    }


# -- the container ----------------------------------------------------------------------------------------------


def test_stdio_is_wrapped_by_our_bridge_with_the_environment_and_no_shell() -> None:
    template = server_stack_template(a_record(), PLATFORM)
    server = container(template, SERVER_CONTAINER)
    argv = server["EntryPoint"] + server["Command"]
    assert argv == [
        "hosted-mcp-bridge", "--host", "0.0.0.0", "--port", "8080", "--child", "shared", "--max-sessions", "1000",
        "--", "python", "main.py", "--root", "my dir",
    ]  # fmt: skip
    assert "--allow-origin" not in argv
    assert server["Image"] == {"Ref": "StdioImage"}
    assert server["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp"}]
    assert server["Environment"] == [{"Name": "LOG_LEVEL", "Value": "info"}]


def test_http_runs_its_command_on_its_port_from_its_own_image() -> None:
    spec = a_spec(serverType="http", port=9000, image="ghcr.io/acme/tools:2", startCommand="node server.js")
    server = container(server_stack_template(a_record(spec), PLATFORM), SERVER_CONTAINER)
    assert server["EntryPoint"] + server["Command"] == ["node", "server.js"]
    assert server["Image"] == "ghcr.io/acme/tools:2"
    assert "WorkingDirectory" not in server  # the image decides where it runs


def test_artifacts_are_synced_into_app_server_before_the_start_command() -> None:
    spec = a_spec(s3Path="s3://hosting-bucket/servers/docs-mcp/")
    template = server_stack_template(a_record(spec), PLATFORM)
    sync = container(template, "artifacts")
    server = container(template, SERVER_CONTAINER)
    assert sync["Command"][-2:] == ["s3://hosting-bucket/servers/docs-mcp", "/opt/hosted-mcp/artifacts"]
    assert server["DependsOn"] == [{"ContainerName": "artifacts", "Condition": "SUCCESS"}]
    assert "cp -a /opt/hosted-mcp/artifacts/. /app/server/" in server["EntryPoint"][2]
    assert server["Command"][:2] == ["hosted-mcp-bridge", "--host"]
    assert server["WorkingDirectory"] == "/app/server"


def test_the_generated_task_role_reads_exactly_the_artifact_prefix() -> None:
    spec = a_spec(s3Path="hosting-bucket/servers/docs-mcp")
    role = server_stack_template(a_record(spec), PLATFORM)["Resources"]["TaskRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    get = next(s for s in statements if s["Action"] == "s3:GetObject")
    assert get["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::hosting-bucket/servers/docs-mcp/*"}
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["servers/docs-mcp", "servers/docs-mcp/*"]}}


def test_given_roles_are_used_and_none_are_generated() -> None:
    spec = a_spec(taskExecutionRoleArn=EXECUTION_ROLE, taskRoleArn=TASK_ROLE)
    template = server_stack_template(a_record(spec), PLATFORM)
    task = template["Resources"]["TaskDefinition"]["Properties"]
    assert (task["ExecutionRoleArn"], task["TaskRoleArn"]) == (EXECUTION_ROLE, TASK_ROLE)
    assert "ExecutionRole" not in template["Resources"]
    assert "TaskRole" not in template["Resources"]


def test_the_health_check_speaks_mcp_and_never_asks_for_status() -> None:
    spec = a_spec(serverType="sse", containerHealthCheckConfig={"interval": 20, "retries": 4, "timeout": 6})
    health = container(server_stack_template(a_record(spec), PLATFORM), HEALTH_CONTAINER)["HealthCheck"]
    command = health["Command"]
    assert command[:3] == ["CMD", "python3", "-c"]
    assert '"method": "initialize"' in command[3]
    assert command[4:] == ["http://127.0.0.1:8000/sse", "5", "sse"]
    assert "/status" not in json.dumps(command)
    assert (health["Interval"], health["Retries"], health["Timeout"]) == (20, 4, 6)


def test_a_user_health_command_runs_in_the_server_container_too() -> None:
    spec = a_spec(containerHealthCheckConfig={"command": "curl -f http://localhost:8080/healthz"})
    server = container(server_stack_template(a_record(spec), PLATFORM), SERVER_CONTAINER)
    assert server["HealthCheck"]["Command"] == ["CMD-SHELL", "curl -f http://localhost:8080/healthz"]


# -- service, routing, scaling -----------------------------------------------------------------------------------


def test_the_service_rolls_back_failed_deployments_and_registers_its_tasks_by_the_servers_id() -> None:
    spec = a_spec(cpu=512, memoryLimitMiB=2048)
    record = a_record(spec)
    resources = server_stack_template(record, PLATFORM)["Resources"]
    service = resources["Service"]["Properties"]
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    task = resources["TaskDefinition"]["Properties"]
    assert (task["Cpu"], task["Memory"]) == ("512", "2048")
    # Each task is an A record of <server id>.<namespace>, which is what the router resolves
    assert service["ServiceRegistries"] == [{"RegistryArn": {"Fn::GetAtt": ["Discovery", "Arn"]}}]
    discovery = resources["Discovery"]["Properties"]
    assert discovery["Name"] == record.id
    assert discovery["NamespaceId"] == {"Ref": "DiscoveryNamespaceId"}
    assert discovery["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]
    assert "HealthCheckCustomConfig" in discovery  # ECS reports the tasks' health: only healthy ones resolve


def test_no_server_stack_holds_a_load_balancer_resource_so_servers_are_not_capped_by_the_alb() -> None:
    # Given every variant the synthesizer makes, of every server type
    templates = {**templates_of("stdio"), **templates_of("http"), **templates_of("sse")}
    # Then none holds a target group, a listener rule or any other ELB resource (an ALB takes at most 100 target
    # groups and, by default, 100 rules: one per server would cap a platform at about 100 servers)
    types = {r["Type"] for t in templates.values() for r in t["Resources"].values()}
    assert not [t for t in types if t.startswith("AWS::ElasticLoadBalancing")]
    assert all("LoadBalancers" not in t["Resources"]["Service"]["Properties"] for t in templates.values())
    assert "elasticloadbalancing" not in json.dumps(list(templates.values())).lower()


def test_every_task_gets_the_servers_own_request_state_key_from_secrets_manager() -> None:
    for spec in (a_spec(), a_spec(taskExecutionRoleArn=EXECUTION_ROLE, taskRoleArn=TASK_ROLE)):
        template = server_stack_template(a_record(spec), PLATFORM)
        resources = template["Resources"]
        # Given the server's generated secret
        key = resources["RequestStateKey"]
        assert key["Type"] == "AWS::SecretsManager::Secret"
        assert key["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
        assert key["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-request-state"}
        # Then the server container gets it as a secret (never as a plain value), and only it
        server = container(template, SERVER_CONTAINER)
        assert server["Secrets"] == [{"Name": REQUEST_STATE_KEY_VARIABLE, "ValueFrom": {"Ref": "RequestStateKey"}}]
        assert REQUEST_STATE_KEY_VARIABLE not in json.dumps(server["Environment"])
        others = [c for c in resources["TaskDefinition"]["Properties"]["ContainerDefinitions"] if c is not server]
        assert all("Secrets" not in c for c in others)
        # And it is never an output
        assert "RequestStateKey" not in json.dumps(template["Outputs"])


def test_only_the_servers_execution_role_is_granted_its_key() -> None:
    # Given a server with a generated execution role
    resources = server_stack_template(a_record(), PLATFORM)["Resources"]
    read = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "RequestStateKey"}}
    (policy,) = resources["ExecutionRole"]["Properties"]["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [read]
    # Then its task role (what server code runs as) may not read it
    assert "secretsmanager" not in json.dumps(resources["TaskRole"])
    # And a given execution role gets the same grant as a policy named after the server (a role may serve several)
    spec = a_spec(taskExecutionRoleArn=EXECUTION_ROLE)
    record = a_record(spec)
    given = server_stack_template(record, PLATFORM)["Resources"]
    reader = given["KeyReader"]["Properties"]
    assert reader["RoleName"] == "custom-execution"
    assert reader["PolicyName"] == f"hosted-mcp-request-state-{record.id}"
    assert reader["PolicyDocument"]["Statement"] == [read]
    assert given["Service"]["DependsOn"] == ["KeyReader"]


def test_stop_is_desired_zero_and_scaling_zero_and_start_restores_it() -> None:
    spec = a_spec(autoScalingConfig={"minCapacity": 2, "maxCapacity": 5})
    running = a_record(spec, status=ServerStatus.IN_SERVICE)
    stopping = running.evolve(
        status=ServerStatus.STOPPING, pending=PendingChange(spec=spec, enabled=False, returnStatus="InService")
    )
    stopped = server_stack_template(stopping, PLATFORM)["Resources"]
    assert stopped["Service"]["Properties"]["DesiredCount"] == 0
    assert (
        stopped["ScalableTarget"]["Properties"]["MinCapacity"],
        stopped["ScalableTarget"]["Properties"]["MaxCapacity"],
    ) == (0, 0)
    starting = running.evolve(
        enabled=False,
        status=ServerStatus.STARTING,
        pending=PendingChange(spec=spec, enabled=True, returnStatus="Stopped"),
    )
    started = server_stack_template(starting, PLATFORM)["Resources"]
    assert started["Service"]["Properties"]["DesiredCount"] == 2
    assert (
        started["ScalableTarget"]["Properties"]["MinCapacity"],
        started["ScalableTarget"]["Properties"]["MaxCapacity"],
    ) == (2, 5)


@pytest.mark.parametrize(
    ("status", "enabled", "count"),
    [
        (ServerStatus.CREATING, True, 3),
        (ServerStatus.STARTING, True, 3),
        (ServerStatus.STOPPING, False, 0),
        (ServerStatus.UPDATING, True, None),
        (ServerStatus.UPDATING, False, None),
    ],
)
def test_the_desired_count_is_written_only_where_it_must_be(
    status: ServerStatus, enabled: bool, count: int | None
) -> None:
    # Given a server scaling between 3 and 8 tasks, driven to `status`
    spec = a_spec(autoScalingConfig={"minCapacity": 3, "maxCapacity": 8})
    record = a_record(spec, status=status, pending=PendingChange(spec=spec, enabled=enabled, returnStatus="InService"))
    # When its template is synthesized
    service = server_stack_template(record, PLATFORM)["Resources"]["Service"]["Properties"]
    # Then creation, stop and start set the count; an update leaves what autoscaling chose
    assert service.get("DesiredCount") == count


def test_platform_values_are_read_from_the_platforms_ssm_parameters_at_deploy_time() -> None:
    # Given a server of each kind of image source
    for spec in (a_spec(), a_spec(serverType="http", s3Path="bucket-a/x"), a_spec(image="ghcr.io/acme/tools:2")):
        template = server_stack_template(a_record(spec), PLATFORM)
        parameters = template["Parameters"]
        # Then every platform value is an SSM parameter under the platform's path, and none is written literally
        assert all(p["Type"].startswith("AWS::SSM::Parameter::Value<") for p in parameters.values())
        assert all(p["Default"].startswith("/hosted-mcp/server-stacks/") for p in parameters.values())
        assert "ns-" not in json.dumps(template["Resources"])
        # And every parameter is used (a server with its own image reads no base image but the health sidecar's)
        body = json.dumps(template["Resources"])
        for name in parameters:
            assert f'"Ref": "{name}"' in body or f"${{{name}}}" in body, name


def test_generated_roles_carry_the_platforms_permissions_boundary() -> None:
    boundary = "arn:aws:iam::123456789012:policy/hosted-mcp-boundary"
    platform = PLATFORM.model_copy(update={"permissionsBoundaryArn": boundary})
    resources = server_stack_template(a_record(), platform)["Resources"]
    assert resources["TaskRole"]["Properties"]["PermissionsBoundary"] == boundary
    assert resources["ExecutionRole"]["Properties"]["PermissionsBoundary"] == boundary
    unbounded = PLATFORM.model_copy(update={"permissionsBoundaryArn": None})
    assert (
        "PermissionsBoundary" not in server_stack_template(a_record(), unbounded)["Resources"]["TaskRole"]["Properties"]
    )


def test_an_update_synthesizes_the_pending_configuration() -> None:
    old = a_spec()
    new = a_spec(environment={"LOG_LEVEL": "debug"})
    record = a_record(old, status=ServerStatus.UPDATING).evolve(
        pending=PendingChange(spec=new, enabled=True, returnStatus="InService")
    )
    server = container(server_stack_template(record, PLATFORM), SERVER_CONTAINER)
    assert server["Environment"] == [{"Name": "LOG_LEVEL", "Value": "debug"}]


def test_cpu_target_tracking_and_an_optional_custom_metric() -> None:
    plain = server_stack_template(a_record(a_spec(autoScalingConfig={"targetValue": 55})), PLATFORM)["Resources"]
    assert plain["CpuScalingPolicy"]["Properties"]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 55
    assert "CustomMetricScaleOutAlarm" not in plain
    scaling = {
        "minCapacity": 1,
        "maxCapacity": 4,
        "metricName": "ActiveSessions",
        "targetValue": 20,
        "duration": 120,
        "cooldown": 90,
    }
    custom = server_stack_template(a_record(a_spec(autoScalingConfig=scaling)), PLATFORM)["Resources"]
    alarm = custom["CustomMetricScaleOutAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["Period"]) == ("ActiveSessions", 20, 120)
    policy = custom["CustomMetricScaleOutPolicy"]["Properties"]["StepScalingPolicyConfiguration"]
    assert policy["Cooldown"] == 90


# -- cfn-lint over the matrix ------------------------------------------------------------------------------------


def _combined(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One template holding every variant's resources under a variant prefix (cfn-lint once instead of per variant:
    its cost is mostly per call). References (Ref, GetAtt, Sub, DependsOn) are renamed along."""
    combined: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": {}, "Resources": {}}
    for prefix, template in templates.items():
        names = set(template["Resources"]) | set(template["Parameters"])

        def rename(value: Any, prefix: str = prefix, names: set[str] = names) -> Any:
            if isinstance(value, list):
                return [rename(v) for v in value]
            if not isinstance(value, dict):
                return value
            if set(value) == {"Ref"} and value["Ref"] in names:
                return {"Ref": prefix + value["Ref"]}
            if set(value) == {"Fn::GetAtt"}:
                return {"Fn::GetAtt": [prefix + value["Fn::GetAtt"][0], value["Fn::GetAtt"][1]]}
            if set(value) == {"Fn::Sub"}:
                return {
                    "Fn::Sub": re.sub(
                        r"\$\{([A-Za-z0-9]+)",
                        lambda m: "${" + (prefix + m[1] if m[1] in names else m[1]),
                        value["Fn::Sub"],
                    )
                }
            return {k: rename(v) for k, v in value.items()}

        for name, parameter in template["Parameters"].items():
            combined["Parameters"][prefix + name] = parameter
        for name, resource in template["Resources"].items():
            renamed = rename(resource)
            if "DependsOn" in renamed:
                renamed["DependsOn"] = [prefix + d for d in renamed["DependsOn"]]
            combined["Resources"][prefix + name] = renamed
    return combined


@pytest.mark.parametrize("server_type", ["stdio", "http", "sse"])
def test_every_synthesized_template_is_cfn_lint_clean(server_type: str) -> None:
    # Given every source (image/artifacts/both/neither) x scaling variant x running/stopped of one server type
    variants = templates_of(server_type)
    assert len(variants) == len(SOURCES) * len(SCALING) * len(STATES)
    # When cfn-lint checks them all, Then it finds nothing
    assert lint(_combined(variants)) == []


def test_a_single_template_is_cfn_lint_clean_and_the_lint_would_catch_a_broken_one() -> None:
    template = server_stack_template(a_record(), PLATFORM)
    assert lint(template) == []
    template["Resources"]["TaskDefinition"]["Properties"]["NetworkMode"] = "vpc"
    assert lint(template) != []
