"""The data-plane router as template.yaml deploys it: the ALB's only action forwards to it, its tasks get every
setting `RouterSettings` reads (the sealing key as an ECS secret), the network lets exactly one hop reach the next,
and everyone who resolves a server's tasks uses the one namespace servers register in. Tables come from the
template, so they cannot drift."""

from __future__ import annotations

from typing import Any

from hosted_mcp.adapters.stack_template import DISCOVERY_TTL_SECONDS
from hosted_mcp_gateway.router import HEALTH_PATH, RouterSettings
from tests.support.ddb import load_template
from tests.support.iam import RESOLVED, allows, resolve, role_statements

ROUTER_PORT = 8080
ANY_PORT = (1, 65535)


def resources() -> dict[str, Any]:
    return dict(load_template()["Resources"])


def container() -> dict[str, Any]:
    (router,) = resources()["RouterTaskDefinition"]["Properties"]["ContainerDefinitions"]
    return dict(router)


# -- the ALB sends everything to the router ------------------------------------------------------------------------


def test_every_data_plane_request_goes_to_the_router() -> None:
    listener = resources()["DataPlaneListener"]["Properties"]
    assert listener["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "RouterTargetGroup"}}]
    assert not [r for r in resources().values() if r["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule"]
    group = resources()["RouterTargetGroup"]["Properties"]
    assert (group["TargetType"], group["Port"], group["HealthCheckPath"]) == ("ip", ROUTER_PORT, HEALTH_PATH)
    service = resources()["RouterService"]["Properties"]
    assert service["LoadBalancers"] == [
        {"ContainerName": "router", "ContainerPort": ROUTER_PORT, "TargetGroupArn": {"Ref": "RouterTargetGroup"}}
    ]


def test_the_router_scales_between_its_bounds_and_runs_nothing_before_its_image_is_pinned() -> None:
    target = resources()["RouterScalableTarget"]["Properties"]
    assert target["ResourceId"] == {"Fn::Sub": "service/${ServersCluster}/${RouterService.Name}"}
    assert target["MinCapacity"] == {"Fn::If": ["HasRouterImage", {"Ref": "RouterMinTasks"}, 0]}
    assert target["MaxCapacity"] == {"Fn::If": ["HasRouterImage", {"Ref": "RouterMaxTasks"}, 0]}
    count = resources()["RouterService"]["Properties"]["DesiredCount"]
    assert count == {"Fn::If": ["HasRouterImage", {"Ref": "RouterMinTasks"}, 0]}
    policy = resources()["RouterCpuScaling"]["Properties"]
    assert policy["ScalingTargetId"] == {"Ref": "RouterScalableTarget"}


# -- its settings ------------------------------------------------------------------------------------------------


def test_the_task_gets_every_setting_the_router_reads_and_they_validate() -> None:
    router = container()
    environment = {e["Name"]: resolve(e["Value"]) for e in router["Environment"]}
    secrets = {s["Name"]: s["ValueFrom"] for s in router["Secrets"]}
    aliases = {str(f.alias) for f in RouterSettings.model_fields.values()}
    # Every variable set is one the router reads, and every one it needs is set
    assert set(environment) | set(secrets) == aliases
    assert secrets == {"ROUTER_SEALING_KEY": {"Ref": "RouterSealingKey"}}
    assert "ROUTER_SEALING_KEY" not in environment  # never a plain value in the task definition
    # And the values as deployed are valid settings (the secret as Secrets Manager generates it: 64 characters)
    settings = RouterSettings.from_environ({**environment, "ROUTER_SEALING_KEY": "k" * 64})
    assert settings.port == ROUTER_PORT
    # The router keeps a server's task addresses as long as its Cloud Map records say they may be kept
    assert settings.dns_ttl_seconds == DISCOVERY_TTL_SECONDS
    assert router["PortMappings"] == [{"ContainerPort": ROUTER_PORT, "Protocol": "tcp"}]


def test_the_sealing_key_is_generated_and_read_only_by_the_routers_execution_role() -> None:
    key = resources()["RouterSealingKey"]
    assert key["Type"] == "AWS::SecretsManager::Secret"
    assert key["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    arn = RESOLVED["RouterSealingKey"]
    readers = [
        name
        for name, resource in resources().items()
        if resource["Type"] == "AWS::IAM::Role" and allows(role_statements(name), "secretsmanager:GetSecretValue", arn)
    ]
    assert readers == ["RouterExecutionRole"]
    assert "RouterSealingKey" not in str(load_template()["Outputs"])


def test_everyone_who_resolves_a_servers_tasks_uses_the_namespace_servers_register_in() -> None:
    namespace = resources()["DiscoveryNamespace"]["Properties"]
    assert namespace["Name"] == {"Ref": "DiscoveryNamespaceName"}
    assert namespace["Vpc"] == {"Ref": "VpcId"}
    router = {e["Name"]: e["Value"] for e in container()["Environment"]}
    assert router["DISCOVERY_NAMESPACE"] == {"Ref": "DiscoveryNamespaceName"}
    for probe in ("SettleFunction", "ReconcileFunction"):
        variables = resources()[probe]["Properties"]["Environment"]["Variables"]
        assert variables["DISCOVERY_NAMESPACE"] == {"Ref": "DiscoveryNamespaceName"}, probe
    published = resources()["ServerStackDiscoveryNamespaceId"]["Properties"]
    assert published["Value"] == {"Fn::GetAtt": ["DiscoveryNamespace", "Id"]}


# -- who reaches whom ------------------------------------------------------------------------------------------------

# (from, to, ports): every path the template opens between the platform's groups. Nothing else is open: no group
# takes traffic from an address range, and each hop reaches only the next.
REACHES = {
    ("VpcLinkSecurityGroup", "LoadBalancerSecurityGroup", (80, 80)),
    ("LoadBalancerSecurityGroup", "RouterSecurityGroup", (ROUTER_PORT, ROUTER_PORT)),
    ("RouterSecurityGroup", "ServerTaskSecurityGroup", ANY_PORT),
    ("ProbeSecurityGroup", "ServerTaskSecurityGroup", ANY_PORT),
}


def _ref(value: Any) -> str:
    assert isinstance(value, dict)
    assert set(value) == {"Ref"}, value
    return str(value["Ref"])


def security_rules() -> tuple[set[tuple[str, str, tuple[int, int]]], set[tuple[str, str, tuple[int, int]]], list[str]]:
    """(ingress, egress between groups, groups open to an address range) as the template writes them."""
    ingress, egress, open_to_ranges = set(), set(), []
    for name, resource in resources().items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            for rule in properties.get("SecurityGroupIngress", []):
                if "SourceSecurityGroupId" not in rule:
                    open_to_ranges.append(name)
                    continue
                ingress.add((_ref(rule["SourceSecurityGroupId"]), name, (rule["FromPort"], rule["ToPort"])))
            for rule in properties.get("SecurityGroupEgress", []):
                if "DestinationSecurityGroupId" in rule:
                    egress.add((name, _ref(rule["DestinationSecurityGroupId"]), (rule["FromPort"], rule["ToPort"])))
        elif resource["Type"] == "AWS::EC2::SecurityGroupEgress":
            rule = properties
            egress.add(
                (_ref(rule["GroupId"]), _ref(rule["DestinationSecurityGroupId"]), (rule["FromPort"], rule["ToPort"]))
            )
        elif resource["Type"] == "AWS::EC2::SecurityGroupIngress":
            rule = properties
            ingress.add(
                (_ref(rule["SourceSecurityGroupId"]), _ref(rule["GroupId"]), (rule["FromPort"], rule["ToPort"]))
            )
    return ingress, egress, open_to_ranges


def test_only_the_vpc_link_reaches_the_alb_only_the_alb_the_router_only_the_router_the_servers() -> None:
    ingress, egress, open_to_ranges = security_rules()
    # Every hop is allowed both ways (ingress at the target, egress at the source), and nothing more
    assert ingress == REACHES
    assert egress == REACHES
    assert open_to_ranges == []


def test_each_piece_sits_in_its_own_group() -> None:
    template = resources()
    assert template["DataPlaneVpcLink"]["Properties"]["SecurityGroupIds"] == [{"Ref": "VpcLinkSecurityGroup"}]
    assert template["DataPlaneLoadBalancer"]["Properties"]["SecurityGroups"] == [{"Ref": "LoadBalancerSecurityGroup"}]
    network = template["RouterService"]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["SecurityGroups"] == [{"Ref": "RouterSecurityGroup"}]
    for probe in ("SettleFunction", "ReconcileFunction"):
        assert template[probe]["Properties"]["VpcConfig"]["SecurityGroupIds"] == [{"Ref": "ProbeSecurityGroup"}]
    published = template["ServerStackTaskSecurityGroupId"]["Properties"]["Value"]
    assert published == {"Ref": "ServerTaskSecurityGroup"}
    assert template["DataPlaneLoadBalancer"]["Properties"]["Scheme"] == "internal"
