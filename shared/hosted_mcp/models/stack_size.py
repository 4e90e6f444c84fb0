"""How large a server's stack template will be, bounded from above by what a client sends.

CloudFormation refuses a `TemplateBody` over 51,200 bytes, minutes after the API said 201. The body is the
synthesizer's own text (bounded: `FIXED_BYTES`, measured by tests/unit/test_stack_size.py on the largest variant,
with the longest names a platform can have) plus the client's values, each written into the compact JSON body as
JSON-escaped text, some of them several times. `stack_template_bytes` adds those up; the tests check it is never
below the real body and never far above it.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from hosted_mcp.models.fields import normalize_name

TEMPLATE_BODY_MAX_BYTES = 51_200
# The synthesizer's own bytes at most (every optional part present, the longest platform names, the widest
# numbers), measured by tests/unit/test_stack_size.py, which fails when the synthesizer outgrows it.
FIXED_BYTES = 12_000
# How many times the template holds each value (the tests count them in synthesized templates).
TIMES = {
    "name": 6,  # normalized: description, route-prefix output, alarm descriptions and dimensions
    "taskExecutionRoleArn": 2,  # the task definition's, and the role name its key grant is attached to
    "s3Path": 6,  # the sync command, the task role's object and bucket resources, the prefix condition
    "autoScalingConfig.metricName": 4,  # two alarms: metric name and description
}


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def contributions(spec: Any) -> dict[str, int]:
    """Bytes each client value adds to the template body (a `ServerSpec`; fields named as the API names them)."""
    try:
        argv = shlex.split(spec.startCommand)
    except ValueError:
        argv = [spec.startCommand]
    environment = [{"Name": k, "Value": v} for k, v in sorted(spec.environment.items())]
    normalized = normalize_name(spec.name)
    result = {
        "name": TIMES["name"] * len(normalized),
        "startCommand": _json_bytes(argv),
        "environment": _json_bytes(environment),
        "containerHealthCheckConfig.command": _json_bytes(spec.containerHealthCheckConfig.command or ""),
        "image": _json_bytes(spec.image or ""),
        "taskRoleArn": _json_bytes(spec.taskRoleArn or ""),
        "taskExecutionRoleArn": TIMES["taskExecutionRoleArn"] * _json_bytes(spec.taskExecutionRoleArn or ""),
        "s3Path": TIMES["s3Path"] * _json_bytes(spec.s3Path or ""),
        "autoScalingConfig.metricName": TIMES["autoScalingConfig.metricName"]
        * _json_bytes(spec.autoScalingConfig.metricName or ""),
    }
    return result


def stack_template_bytes(spec: Any) -> int:
    """An upper bound of the server's TemplateBody in bytes."""
    return FIXED_BYTES + sum(contributions(spec).values())


def template_size_problem(spec: Any) -> tuple[str, str] | None:
    """(field, message) when the template would exceed CloudFormation's limit: the field that takes the most."""
    size = stack_template_bytes(spec)
    if size <= TEMPLATE_BODY_MAX_BYTES:
        return None
    parts = contributions(spec)
    field = max(parts, key=lambda name: parts[name])
    return field, (
        f"makes the server's stack template about {size} bytes (this field: {parts[field]}); CloudFormation "
        f"accepts at most {TEMPLATE_BODY_MAX_BYTES}"
    )
