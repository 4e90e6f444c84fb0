"""What a server's stack reads from the platform (SSM parameter types, `PLATFORM_PARAMETERS`) is exactly what the
platform stack publishes under `/<stack>/server-stacks/`, with the SSM type each parameter type needs, and the
functions that synthesize server stacks are told where that path is."""

from __future__ import annotations

from typing import Any

from hosted_mcp.adapters.stack_template import PLATFORM_PARAMETERS
from tests.support.ddb import load_template

PATH = "/${AWS::StackName}/server-stacks"
SYNTHESIZERS = ["DeployFunction", "ApplyFunction", "TeardownFunction", "ReconcileFunction"]


def published() -> dict[str, dict[str, Any]]:
    """SSM parameter name (under the path) -> its properties, for every parameter the platform publishes there."""
    result = {}
    for resource in load_template()["Resources"].values():
        if resource["Type"] != "AWS::SSM::Parameter":
            continue
        name = resource["Properties"]["Name"]
        if isinstance(name, dict) and name.get("Fn::Sub", "").startswith(PATH + "/"):
            result[name["Fn::Sub"].removeprefix(PATH + "/")] = resource["Properties"]
    return result


def test_every_value_a_server_stack_reads_is_published_with_a_matching_type() -> None:
    platform = published()
    for logical_id, (name, parameter_type) in PLATFORM_PARAMETERS.items():
        assert name in platform, f"{logical_id}: the platform publishes no {PATH}/{name}"
        expected = "StringList" if "List<" in parameter_type else "String"
        assert platform[name]["Type"] == expected, (logical_id, platform[name]["Type"])
    assert set(platform) == {name for name, _ in PLATFORM_PARAMETERS.values()}


def test_the_synthesizing_functions_know_the_path() -> None:
    resources = load_template()["Resources"]
    for function in SYNTHESIZERS:
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["SERVER_STACK_PARAMETERS"] == {"Fn::Sub": PATH}, function
