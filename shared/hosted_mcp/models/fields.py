"""Reusable field types and the pure rules behind them (name normalisation, Fargate sizes, groups)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints
from pydantic_core import PydanticCustomError

PUBLIC_GROUP = "lisa:public"
GROUP_PREFIX = "group:"
STDIO_PORT = 8080
DEFAULT_HTTP_PORT = 8000
DEFAULT_CPU = 256
DEFAULT_MEMORY_MIB = 512
# Every replica of a server gets the same value under this name (the AWS stack injects its own generated secret, the
# local supervisor derives one per server): what the server seals MCP `requestState` with, so a retry may land on
# any replica. Set by the platform, never by a client.
REQUEST_STATE_KEY_VARIABLE = "HOSTED_MCP_REQUEST_STATE_KEY"


class ServerType(StrEnum):
    STDIO = "stdio"
    HTTP = "http"
    SSE = "sse"


class ServerStatus(StrEnum):
    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    STARTING = "Starting"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DELETING = "Deleting"
    FAILED = "Failed"


# Valid Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_MEMORY_BY_CPU: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
}
MIN_MEMORY_MIB = 512
MAX_MEMORY_MIB = 30720

_NON_ALNUM = re.compile(r"[^a-z0-9]")


def normalize_name(name: str) -> str:
    """The identifier a name is known by in URLs and resource names: lower-case alphanumerics only."""
    return _NON_ALNUM.sub("", name.lower())


def fargate_memory_problem(cpu: int, memory: int) -> str | None:
    allowed = FARGATE_MEMORY_BY_CPU.get(cpu)
    if allowed is None:
        return f"cpu must be one of {sorted(FARGATE_MEMORY_BY_CPU)}"
    if memory not in allowed:
        return f"{memory} MiB is not a valid Fargate size for cpu {cpu}; allowed: {min(allowed)}..{max(allowed)}" + (
            " in steps of 1024" if len(allowed) > 3 else f" ({', '.join(map(str, allowed))})"
        )
    return None


def rule_error(field: str, message: str) -> PydanticCustomError:
    """A cross-field rule broken: carries the field it is about, so the API can name it."""
    return PydanticCustomError("rule", message, {"field": field})


def normalize_group(group: str) -> str:
    """A group as servers and policies store it: `group:<name>` (the public marker stays as it is)."""
    return group if group == PUBLIC_GROUP or group.startswith(GROUP_PREFIX) else GROUP_PREFIX + group


def normalize_groups(groups: list[str] | None) -> list[str]:
    """Prefix every group with `group:`; none at all means public."""
    if not groups:
        return [PUBLIC_GROUP]
    result: list[str] = []
    for group in groups:
        value = normalize_group(group)
        if value not in result:
            result.append(value)
    return result


ServerName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Field(description="Human-friendly name; normalises to a unique lower-case alphanumeric identifier."),
]
Cpu = Annotated[int, Field(description="Fargate CPU units: 256, 512, 1024, 2048 or 4096.")]
MemoryMiB = Annotated[
    int,
    Field(ge=MIN_MEMORY_MIB, le=MAX_MEMORY_MIB, description="Task memory in MiB (512..30720), a valid pair with cpu."),
]
Port = Annotated[int, Field(ge=1, le=65535)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
EnvValue = Annotated[str, StringConstraints(max_length=4096)]
GroupName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256, pattern=r"^[^\s]+$")]
RoleArn = Annotated[
    str, StringConstraints(max_length=2048, pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+$")
]
ImageRef = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$")]
ArtifactPath = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1024, pattern=r"^(s3://)?[A-Za-z0-9._/-]+$"),
    Field(description="`bucket/path` (or `s3://bucket/path`) of artifacts synced into /app/server."),
]
StartCommand = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]
Description = Annotated[str, StringConstraints(max_length=1024)]


class StdioChild(StrEnum):
    """How a stdio server's process serves its callers behind the bridge."""

    SHARED = "shared"  # one process for every session (memory flat; the server's state shared between callers)
    PER_SESSION = "perSession"  # a process per session (callers isolated; memory grows with sessions)
