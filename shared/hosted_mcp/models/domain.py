"""Domain models: the validated configuration of a server, its record, its audit trail, the caller."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hosted_mcp.models.call_rules import CallLimits, ToolPolicy, check_policy_groups
from hosted_mcp.models.fields import (
    DEFAULT_CPU,
    DEFAULT_HTTP_PORT,
    DEFAULT_MEMORY_MIB,
    FARGATE_MEMORY_BY_CPU,
    PUBLIC_GROUP,
    STDIO_PORT,
    ArtifactPath,
    Cpu,
    Description,
    EnvName,
    EnvValue,
    ImageRef,
    MemoryMiB,
    Port,
    RoleArn,
    ServerStatus,
    ServerType,
    StartCommand,
    StdioChild,
    fargate_memory_problem,
    rule_error,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AutoScalingConfig(Strict):
    minCapacity: int = Field(1, ge=1, le=100, description="Minimum number of tasks (>= 1).")
    maxCapacity: int = Field(1, ge=1, le=100, description="Maximum number of tasks (>= minCapacity).")
    targetValue: float | None = Field(None, gt=0, description="Target value of the scaling metric.")
    metricName: str | None = Field(None, min_length=1, max_length=255, description="Optional custom metric name.")
    duration: int | None = Field(None, ge=10, le=86400, description="Scaling look-back window in seconds.")
    cooldown: int | None = Field(None, ge=0, le=86400, description="Cooldown between scaling actions in seconds.")

    @model_validator(mode="after")
    def _max_not_below_min(self) -> AutoScalingConfig:
        if self.maxCapacity < self.minCapacity:
            raise rule_error("autoScalingConfig.maxCapacity", "maxCapacity must be >= minCapacity")
        return self


class HealthCheckConfig(Strict):
    path: str = Field("/mcp", pattern=r"^/[\x21-\x7e]{0,1023}$")
    interval: int = Field(30, ge=5, le=300)
    timeout: int = Field(5, ge=2, le=120)
    healthyThresholdCount: int = Field(2, ge=2, le=10)
    unhealthyThresholdCount: int = Field(3, ge=2, le=10)

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> HealthCheckConfig:
        if self.timeout >= self.interval:
            raise rule_error("loadBalancerConfig.healthCheckConfig.timeout", "timeout must be less than interval")
        return self


class LoadBalancerConfig(Strict):
    healthCheckConfig: HealthCheckConfig = Field(default_factory=HealthCheckConfig)


class ContainerHealthCheckConfig(Strict):
    command: str | list[str] | None = Field(
        None, description="Health check command; the default proves the server answers MCP, not just that it listens."
    )
    interval: int = Field(30, ge=5, le=300)
    startPeriod: int = Field(10, ge=0, le=300)
    timeout: int = Field(5, ge=2, le=120)
    retries: int = Field(3, ge=1, le=10)

    @model_validator(mode="after")
    def _sane_command(self) -> ContainerHealthCheckConfig:
        if isinstance(self.command, list) and not self.command:
            raise rule_error("containerHealthCheckConfig.command", "command must not be empty")
        if isinstance(self.command, str) and not self.command.strip():
            raise rule_error("containerHealthCheckConfig.command", "command must not be empty")
        return self


class ServerSpec(Strict):
    """A server's configuration as the platform applies it: validated, defaults filled, groups normalised."""

    name: str
    description: Description | None = None
    serverType: ServerType
    startCommand: StartCommand
    s3Path: ArtifactPath | None = None
    image: ImageRef | None = None
    port: Port
    cpu: Cpu = DEFAULT_CPU
    memoryLimitMiB: MemoryMiB = DEFAULT_MEMORY_MIB
    autoScalingConfig: AutoScalingConfig = Field(default_factory=AutoScalingConfig)
    loadBalancerConfig: LoadBalancerConfig = Field(default_factory=LoadBalancerConfig)
    containerHealthCheckConfig: ContainerHealthCheckConfig = Field(default_factory=ContainerHealthCheckConfig)
    environment: dict[EnvName, EnvValue] = Field(default_factory=dict)
    taskExecutionRoleArn: RoleArn | None = None
    taskRoleArn: RoleArn | None = None
    groups: list[str] = Field(default_factory=lambda: [PUBLIC_GROUP])
    forwardCallerToken: bool = False
    stdioChild: StdioChild = StdioChild.SHARED
    toolPolicy: ToolPolicy | None = None
    callLimits: CallLimits = Field(default_factory=CallLimits)
    auditCalls: bool = True

    @field_validator("toolPolicy")
    @classmethod
    def _no_rules_is_no_policy(cls, policy: ToolPolicy | None) -> ToolPolicy | None:
        return policy if policy is not None and policy.rules else None

    @model_validator(mode="after")
    def _cross_field_rules(self) -> ServerSpec:
        check_sizes_and_port(self.serverType, self.cpu, self.memoryLimitMiB, self.port)
        if self.stdioChild is not StdioChild.SHARED and self.serverType is not ServerType.STDIO:
            raise rule_error("stdioChild", "stdioChild applies to stdio servers only")
        check_policy_groups(self.toolPolicy, self.groups)
        return self

    @property
    def is_public(self) -> bool:
        return PUBLIC_GROUP in self.groups


def default_port(server_type: ServerType) -> int:
    return STDIO_PORT if server_type is ServerType.STDIO else DEFAULT_HTTP_PORT


def check_sizes_and_port(server_type: ServerType, cpu: int, memory: int, port: int | None) -> None:
    if cpu not in FARGATE_MEMORY_BY_CPU:
        raise rule_error("cpu", f"cpu must be one of {', '.join(map(str, FARGATE_MEMORY_BY_CPU))}")
    problem = fargate_memory_problem(cpu, memory)
    if problem:
        raise rule_error("memoryLimitMiB", problem)
    if server_type is ServerType.STDIO and port is not None and port != STDIO_PORT:
        raise rule_error("port", f"stdio servers always listen on {STDIO_PORT} behind the bridge")


class PendingChange(Strict):
    """A change accepted by the API and being applied; the running config stays in `spec` until it settles."""

    spec: ServerSpec
    enabled: bool
    returnStatus: ServerStatus = Field(description="Where the record goes back to if the change rolls back.")


class ServerRecord(BaseModel):
    """The stored truth about one hosted server."""

    model_config = ConfigDict(frozen=True)

    id: str
    normalizedName: str
    spec: ServerSpec
    status: ServerStatus
    enabled: bool = True
    owner: str
    version: int = 1
    createdAt: datetime
    updatedAt: datetime
    statusDeadline: datetime | None = None
    stackName: str | None = None
    deploymentId: str | None = None
    lastError: str | None = None
    pending: PendingChange | None = None
    requestToken: str | None = Field(
        None, description="Idempotency token of the deployment action the current status asked for."
    )
    restarts: int = 0

    def evolve(self, **changes: Any) -> ServerRecord:
        return self.model_copy(update=changes)

    @property
    def desired_spec(self) -> ServerSpec:
        """The configuration the deployment is being driven to."""
        return self.pending.spec if self.pending else self.spec

    @property
    def desired_enabled(self) -> bool:
        return self.pending.enabled if self.pending else self.enabled


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    serverId: str
    version: int
    at: datetime
    actor: str
    fromStatus: ServerStatus | None
    toStatus: ServerStatus | None
    reason: str


class Caller(BaseModel):
    """Who is calling, as the authorizer (AWS) or the local gateway established it."""

    model_config = ConfigDict(frozen=True)

    username: str
    groups: tuple[str, ...] = ()
    isAdmin: bool = False
    credentialType: str = "jwt"

    def to_authorizer_context(self) -> dict[str, str]:
        """Flat string values, as an API Gateway Lambda authorizer context must be."""
        return {
            "username": self.username,
            "groups": json.dumps(list(self.groups)),
            "isAdmin": "true" if self.isAdmin else "false",
            "credentialType": self.credentialType,
        }

    @classmethod
    def from_authorizer_context(cls, context: dict[str, Any] | None) -> Caller | None:
        if not context or not context.get("username"):
            return None
        groups = context.get("groups") or "[]"
        parsed = json.loads(groups) if isinstance(groups, str) else groups
        return cls(
            username=str(context["username"]),
            groups=tuple(str(g) for g in parsed),
            isAdmin=str(context.get("isAdmin", "false")).lower() == "true",
            credentialType=str(context.get("credentialType", "jwt")),
        )

    def may_use(self, spec: ServerSpec) -> bool:
        if spec.is_public:
            return True
        mine = {g if g.startswith("group:") else f"group:{g}" for g in self.groups}
        return any(group in mine for group in spec.groups)


@dataclass(frozen=True)
class StatusChange:
    """One change of one record, as a stream (DynamoDB Streams, the local change feed) reports it."""

    old: ServerRecord | None
    new: ServerRecord | None

    @property
    def status_changed(self) -> bool:
        if self.new is None or self.old is None:
            return True
        return self.old.status != self.new.status

    @property
    def server(self) -> ServerRecord:
        record = self.new or self.old
        assert record is not None
        return record
