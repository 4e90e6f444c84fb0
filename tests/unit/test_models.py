"""API input models: every documented rule, enforced with an error that names the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hosted_mcp.errors import invalid_request_from
from hosted_mcp.models.api import READ_ONLY_FIELDS, CreateServerRequest, UpdateServerRequest
from hosted_mcp.models.domain import Caller, ServerSpec
from hosted_mcp.models.fields import (
    FARGATE_MEMORY_BY_CPU,
    ServerType,
    fargate_memory_problem,
    normalize_groups,
    normalize_name,
)

MINIMAL: dict[str, Any] = {"name": "docs-mcp", "serverType": "stdio", "startCommand": "python main.py"}


def problem_field(model: type, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(data)
    return invalid_request_from(raised.value, READ_ONLY_FIELDS).problems[0].field


@pytest.mark.parametrize(
    ("name", "normalized"),
    [("docs_mcp", "docsmcp"), ("Docs-MCP", "docsmcp"), ("Docs MCP 2", "docsmcp2"), ("ÄBC-1", "bc1"), ("---", "")],
)
def test_names_normalise_to_lower_case_alphanumerics(name: str, normalized: str) -> None:
    assert normalize_name(name) == normalized


def test_a_name_without_letters_or_digits_is_refused() -> None:
    assert problem_field(CreateServerRequest, {**MINIMAL, "name": "-_-"}) == "name"


@pytest.mark.parametrize("cpu", [0, 128, 300, 8192])
def test_cpu_outside_the_fargate_set_is_refused(cpu: int) -> None:
    assert problem_field(CreateServerRequest, {**MINIMAL, "cpu": cpu}) == "cpu"


@pytest.mark.parametrize(("cpu", "allowed"), FARGATE_MEMORY_BY_CPU.items())
def test_every_fargate_pair_is_accepted_and_nothing_else(cpu: int, allowed: tuple[int, ...]) -> None:
    for memory in range(512, 30720 + 1, 512):
        problem = fargate_memory_problem(cpu, memory)
        assert (problem is None) == (memory in allowed), (cpu, memory)
    for memory in allowed:
        CreateServerRequest.model_validate({**MINIMAL, "cpu": cpu, "memoryLimitMiB": memory})


@pytest.mark.parametrize(("cpu", "memory"), [(256, 4096), (512, 512), (4096, 4096), (2048, 2500)])
def test_an_invalid_fargate_pair_names_memory(cpu: int, memory: int) -> None:
    assert problem_field(CreateServerRequest, {**MINIMAL, "cpu": cpu, "memoryLimitMiB": memory}) == "memoryLimitMiB"


@pytest.mark.parametrize("memory", [0, 511, 30721, 65536])
def test_memory_outside_512_to_30720_is_refused(memory: int) -> None:
    assert problem_field(CreateServerRequest, {**MINIMAL, "memoryLimitMiB": memory}) == "memoryLimitMiB"


@pytest.mark.parametrize(
    ("scaling", "field"),
    [
        ({"minCapacity": 0, "maxCapacity": 1}, "autoScalingConfig.minCapacity"),
        ({"minCapacity": -1, "maxCapacity": 1}, "autoScalingConfig.minCapacity"),
        ({"minCapacity": 3, "maxCapacity": 2}, "autoScalingConfig.maxCapacity"),
    ],
)
def test_capacity_rules(scaling: dict[str, int], field: str) -> None:
    assert problem_field(CreateServerRequest, {**MINIMAL, "autoScalingConfig": scaling}) == field
    assert problem_field(UpdateServerRequest, {"autoScalingConfig": scaling}) == field


def test_equal_min_and_max_capacity_is_fine() -> None:
    request = CreateServerRequest.model_validate({**MINIMAL, "autoScalingConfig": {"minCapacity": 2, "maxCapacity": 2}})
    assert request.autoScalingConfig.maxCapacity == 2


@pytest.mark.parametrize(
    ("server_type", "port", "expected"),
    [("stdio", None, 8080), ("stdio", 8080, 8080), ("http", None, 8000), ("sse", None, 8000), ("http", 3000, 3000)],
)
def test_ports_default_by_server_type(server_type: str, port: int | None, expected: int) -> None:
    body = {**MINIMAL, "serverType": server_type, **({"port": port} if port else {})}
    assert CreateServerRequest.model_validate(body).to_spec().port == expected


def test_a_stdio_server_cannot_listen_elsewhere_than_8080() -> None:
    assert problem_field(CreateServerRequest, {**MINIMAL, "port": 9000}) == "port"


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (None, ["lisa:public"]),
        ([], ["lisa:public"]),
        (["finance"], ["group:finance"]),
        (["group:finance"], ["group:finance"]),
        (["lisa:public", "ops"], ["lisa:public", "group:ops"]),
        (["a", "group:a"], ["group:a"]),
    ],
)
def test_groups_are_prefixed_and_empty_means_public(groups: list[str] | None, expected: list[str]) -> None:
    assert normalize_groups(groups) == expected
    body = {**MINIMAL, **({"groups": groups} if groups is not None else {})}
    assert CreateServerRequest.model_validate(body).to_spec().groups == expected


@pytest.mark.parametrize("field", ["replicas", "Name", "server_type"])
def test_unknown_fields_are_refused_not_dropped(field: str) -> None:
    assert problem_field(CreateServerRequest, {**MINIMAL, field: 1}) == field
    assert problem_field(UpdateServerRequest, {field: 1}) == field


@pytest.mark.parametrize("field", ["id", "status", "owner", "stack_name", "createdAt", "updatedAt", "version"])
def test_read_only_fields_are_refused_as_read_only(field: str) -> None:
    for model, body in ((CreateServerRequest, MINIMAL), (UpdateServerRequest, {"description": "x"})):
        with pytest.raises(ValidationError) as raised:
            model.model_validate({**body, field: "x"})
        problem = invalid_request_from(raised.value, READ_ONLY_FIELDS).problems[0]
        assert (problem.field, problem.message) == (field, "is read-only")


@pytest.mark.parametrize("body", [{}, {"description": None}, {"enabled": None, "cpu": None}])
def test_an_update_needs_at_least_one_field(body: dict[str, Any]) -> None:
    assert problem_field(UpdateServerRequest, body) == "body"


@pytest.mark.parametrize("enabled", [True, False])
def test_enabled_is_not_combined_with_scaling(enabled: bool) -> None:
    body = {"enabled": enabled, "autoScalingConfig": {"minCapacity": 1, "maxCapacity": 2}}
    assert problem_field(UpdateServerRequest, body) == "enabled"


def test_enabled_may_come_with_other_changes() -> None:
    request = UpdateServerRequest.model_validate({"enabled": True, "environment": {"A": "1"}})
    assert request.config_changes() == {"environment": {"A": "1"}}


def test_update_groups_are_normalised_too() -> None:
    assert UpdateServerRequest(groups=["finance"]).config_changes() == {"groups": ["group:finance"]}


def test_the_create_model_carries_every_configuration_reference_field() -> None:
    documented = {
        "name", "description", "serverType", "startCommand", "s3Path", "image", "port", "cpu", "memoryLimitMiB",
        "autoScalingConfig", "loadBalancerConfig", "containerHealthCheckConfig", "environment",
        "taskExecutionRoleArn", "taskRoleArn", "groups",
    }  # fmt: skip
    assert documented <= set(CreateServerRequest.model_fields)


def test_spec_rules_hold_for_stored_configurations_too() -> None:
    spec = CreateServerRequest.model_validate(MINIMAL).to_spec()
    with pytest.raises(ValidationError):
        ServerSpec.model_validate(spec.model_dump() | {"cpu": 256, "memoryLimitMiB": 8192})
    assert spec.serverType is ServerType.STDIO


def test_caller_round_trips_through_the_authorizer_context() -> None:
    caller = Caller(username="alice", groups=("admins", "ops"), isAdmin=True, credentialType="apiKey")
    context = caller.to_authorizer_context()
    assert all(isinstance(v, str) for v in context.values())
    assert Caller.from_authorizer_context(context) == caller
    assert Caller.from_authorizer_context({}) is None
    assert Caller.from_authorizer_context(None) is None
