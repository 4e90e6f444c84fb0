"""The template-size bound the API refuses with is never below the body CloudFormation would get, and not far above.

`FIXED_BYTES` is the synthesizer's own text at most: measured here on every variant (every source, scaling and
state, each server type) with the smallest client values, the widest numbers and the longest names a platform can
have. Each client value then grows the body by no more than `stack_size` counts for it.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hosted_mcp.adapters.stack_template import StackPlatform, template_body
from hosted_mcp.models.domain import ServerSpec
from hosted_mcp.models.fields import ServerStatus, ServerType
from hosted_mcp.models.limits import spec_problems
from hosted_mcp.models.stack_size import (
    FIXED_BYTES,
    TEMPLATE_BODY_MAX_BYTES,
    contributions,
    stack_template_bytes,
    template_size_problem,
)
from tests.support.server_stacks import a_record, a_spec

# The longest names a platform can have: a 128-character stack name in the SSM path, the longest role path and
# boundary the template's parameters allow, a 64-character server id.
WIDEST_PLATFORM = StackPlatform(
    stackPrefix="h" * 32,
    parameterPrefix="/" + "p" * 128 + "/server-stacks",
    rolePath="/" + "r" * 62 + "/",
    permissionsBoundaryArn="arn:aws:iam::123456789012:policy/" + "b" * 200,
    cpuArchitecture="ARM64",
)
LONGEST_ID = "f" * 63  # a DNS label: the Cloud Map service is named after the id
STATUSES = (ServerStatus.CREATING, ServerStatus.UPDATING, ServerStatus.STOPPING)


def smallest_of_every_variant() -> list[ServerSpec]:
    """Every optional part present or absent, each client value as short as it can be, every number at its widest."""
    specs = []
    for server_type, image, s3, roles, metric, command in itertools.product(
        ServerType, [None, "a"], [None, "aaa/b"], [False, True], [None, "m"], [None, "x"]
    ):
        scaling = {"minCapacity": 100, "maxCapacity": 100, "targetValue": 1.2345678901234567e-300}
        scaling |= {"cooldown": 86400, "duration": 86400, **({"metricName": metric} if metric else {})}
        values: dict[str, Any] = {
            "serverType": server_type.value,
            "name": "a",
            "startCommand": "x",
            "environment": {},
            "cpu": 4096,
            "memoryLimitMiB": 30720,
            "autoScalingConfig": scaling,
            "containerHealthCheckConfig": {"interval": 300, "timeout": 60, "retries": 10, "startPeriod": 300}
            | ({"command": command} if command else {}),
            "loadBalancerConfig": {"healthCheckConfig": {"path": "/", "interval": 300, "timeout": 120}},
        }
        if server_type is not ServerType.STDIO:
            values["port"] = 65535
        if image:
            values["image"] = image
        if s3:
            values["s3Path"] = s3
        if roles:
            values |= {
                "taskRoleArn": "arn:aws:iam::123456789012:role/a",
                "taskExecutionRoleArn": "arn:aws:iam::123456789012:role/b",
            }
        specs.append(a_spec(**values))
    return specs


def body_bytes(spec: ServerSpec, status: ServerStatus = ServerStatus.CREATING) -> int:
    return len(template_body(a_record(spec, status=status, server_id=LONGEST_ID), WIDEST_PLATFORM).encode())


def test_the_fixed_part_covers_the_synthesizers_own_text_and_wastes_little() -> None:
    # Given every variant with the smallest client values and the widest platform
    residuals = [
        body_bytes(spec, status) - sum(contributions(spec).values())
        for spec in smallest_of_every_variant()
        for status in STATUSES
    ]
    # Then what the synthesizer writes by itself fits FIXED_BYTES, with less than 1.5 KB to spare
    assert max(residuals) <= FIXED_BYTES
    assert FIXED_BYTES - max(residuals) < 1500


GROWTH = {
    "name": lambda n: {"name": "a" * n},
    "startCommand": lambda n: {"startCommand": "run " + "x" * n},
    "environment": lambda n: {"environment": {"K": "\u00e9" * n}},  # escaped: 6 bytes per character
    "containerHealthCheckConfig.command": lambda n: {"containerHealthCheckConfig": {"command": "x" * n}},
    "image": lambda n: {"image": "a" * n},
    "taskRoleArn": lambda n: {"taskRoleArn": "arn:aws:iam::123456789012:role/" + "a" * n},
    "taskExecutionRoleArn": lambda n: {"taskExecutionRoleArn": "arn:aws:iam::123456789012:role/" + "a" * n},
    "s3Path": lambda n: {"s3Path": "bucket/" + "p" * n},
    "autoScalingConfig.metricName": lambda n: {"autoScalingConfig": {"metricName": "m" * n}},
}  # fmt: skip


@pytest.mark.parametrize("field", list(GROWTH))
def test_each_client_value_grows_the_body_no_more_than_it_is_counted(field: str) -> None:
    # Given a server whose `field` is short, and the same server with it 100 characters longer
    short, long = a_spec(**GROWTH[field](1)), a_spec(**GROWTH[field](101))
    # Then the body grows no more than the bound does
    grown = body_bytes(long) - body_bytes(short)
    counted = stack_template_bytes(long) - stack_template_bytes(short)
    assert 0 < grown <= counted, (field, grown, counted)
    assert set(contributions(short)) == set(GROWTH)


env_names = st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True)
env_values = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=300)
words = st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40), min_size=1)


@settings(max_examples=60, deadline=None)
@given(
    environment=st.dictionaries(env_names, env_values, max_size=30),
    argv=words,
    server_type=st.sampled_from(list(ServerType)),
    s3=st.one_of(st.none(), st.from_regex(r"[a-z0-9]{3,20}/[A-Za-z0-9._/-]{0,60}", fullmatch=True)),
    metric=st.one_of(st.none(), st.text(min_size=1, max_size=60)),
    execution_role=st.one_of(
        st.none(), st.from_regex(r"arn:aws:iam::123456789012:role/hosted-mcp/[A-Za-z0-9+=,.@_-]{1,64}", fullmatch=True)
    ),
)
def test_the_bound_is_never_below_the_real_body(
    environment: dict[str, str],
    argv: list[str],
    server_type: ServerType,
    s3: str | None,
    metric: str | None,
    execution_role: str | None,
) -> None:
    import shlex

    values: dict[str, Any] = {
        "serverType": server_type.value,
        "environment": environment,
        "startCommand": shlex.join(argv),
        "autoScalingConfig": {"metricName": metric} if metric else {},
    }
    if server_type is not ServerType.STDIO:
        values["port"] = 8000
    if s3:
        values["s3Path"] = s3
    if execution_role:  # a given execution role is named twice: the task's, and the role its key grant goes to
        values["taskExecutionRoleArn"] = execution_role
    spec = a_spec(**values)
    for status in STATUSES:
        assert body_bytes(spec, status) <= stack_template_bytes(spec)


def test_twelve_values_of_four_kib_are_refused_naming_the_environment() -> None:
    # Given the environment from the review: 12 values of 4 KiB, a 55,613-byte body CloudFormation would refuse
    spec = a_spec(environment={f"VALUE_{i}": "v" * 4096 for i in range(12)})
    assert body_bytes(spec) > TEMPLATE_BODY_MAX_BYTES
    # Then the model refuses it up front, naming the field that takes the room
    problem = template_size_problem(spec)
    assert problem is not None
    assert problem[0] == "environment"
    assert "51200" in problem[1]
    assert [p.field for p in spec_problems(spec)] == ["environment"]


def test_a_large_but_fitting_server_is_accepted() -> None:
    spec = a_spec(environment={f"VALUE_{i}": "v" * 3000 for i in range(10)})
    assert template_size_problem(spec) is None
    assert body_bytes(spec) <= TEMPLATE_BODY_MAX_BYTES
