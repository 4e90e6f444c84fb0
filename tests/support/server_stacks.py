"""Server records and the matrix of their stack templates: every source (image, artifacts, both, neither) x scaling
variant x running/stopped, per server type. The stack-template tests lint them; the IAM tests read which resource
types they hold."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from hosted_mcp.adapters.stack_template import StackPlatform, server_stack_template
from hosted_mcp.models.domain import ServerRecord, ServerSpec
from hosted_mcp.models.fields import ServerStatus, ServerType, normalize_name

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
PLATFORM = StackPlatform(
    stackPrefix="hmcp",
    parameterPrefix="/hosted-mcp/server-stacks",
    permissionsBoundaryArn="arn:aws:iam::123456789012:policy/hosted-mcp-boundary",
)
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/hosted-mcp/custom-execution"
TASK_ROLE = "arn:aws:iam::123456789012:role/hosted-mcp/custom-task"


def a_spec(**overrides: Any) -> ServerSpec:
    server_type = overrides.get("serverType", "stdio")
    values: dict[str, Any] = {
        "name": "docs-mcp-workbench",
        "serverType": server_type,
        "startCommand": "python main.py --root 'my dir'",
        "port": 8080 if server_type == "stdio" else 8000,
        "environment": {"LOG_LEVEL": "info"},
    }
    return ServerSpec.model_validate(values | overrides)


def a_record(
    spec: ServerSpec | None = None, *, server_id: str = "3f5a9c0e1b2d4f6a8c0e1b2d4f6a8c0e", **changes: Any
) -> ServerRecord:
    spec = spec or a_spec()
    record = ServerRecord(
        id=server_id,
        normalizedName=normalize_name(spec.name),
        spec=spec,
        status=ServerStatus.CREATING,
        owner="alice",
        createdAt=NOW,
        updatedAt=NOW,
    )
    return record.evolve(**changes)


SOURCES = {
    "image": {"image": "ghcr.io/acme/tools:2"},
    "artifacts": {"s3Path": "hosting-bucket/servers/x/"},
    "both": {"image": "ghcr.io/acme/tools:2", "s3Path": "s3://hosting-bucket/servers/x"},
    "neither": {},
}
SCALING = {
    "single": {"autoScalingConfig": {"minCapacity": 1, "maxCapacity": 1}},
    "cpu": {"autoScalingConfig": {"minCapacity": 2, "maxCapacity": 6, "targetValue": 60, "cooldown": 120}},
    "custom": {
        "autoScalingConfig": {
            "minCapacity": 1,
            "maxCapacity": 3,
            "metricName": "Sessions",
            "targetValue": 10,
            "duration": 45,
        }
    },
    "roles": {"taskExecutionRoleArn": EXECUTION_ROLE, "taskRoleArn": TASK_ROLE, "cpu": 4096, "memoryLimitMiB": 30720},
}
STATES = {"running": True, "stopped": False}


def templates_of(server_type: str) -> dict[str, dict[str, Any]]:
    """Every source x scaling x state variant of one server type, by a name usable as a logical-id prefix (each its
    own server, as every stack is)."""
    variants = {}
    for source, scaling, state in itertools.product(SOURCES, SCALING, STATES):
        spec = a_spec(serverType=server_type, **SOURCES[source], **SCALING[scaling])
        prefix = f"{source.title()}{scaling.title()}{state.title()}"
        record = a_record(spec, server_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{server_type}/{prefix}").hex)
        variants[prefix] = server_stack_template(record, PLATFORM, enabled=STATES[state])
    return variants


def all_templates() -> dict[str, dict[str, Any]]:
    """The whole matrix, every server type."""
    return {f"{t.value}:{name}": template for t in ServerType for name, template in templates_of(t.value).items()}
