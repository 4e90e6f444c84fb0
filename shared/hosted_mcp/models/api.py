"""API input and output models (the wire contract). Inputs forbid unknown and read-only fields."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hosted_mcp.endpoints import server_urls
from hosted_mcp.models.call_rules import CallLimits, ToolPolicy, check_policy_groups
from hosted_mcp.models.calls import CallView
from hosted_mcp.models.domain import (
    AuditEntry,
    AutoScalingConfig,
    ContainerHealthCheckConfig,
    LoadBalancerConfig,
    ServerRecord,
    ServerSpec,
    check_sizes_and_port,
    default_port,
    rule_error,
)
from hosted_mcp.models.fields import (
    DEFAULT_CPU,
    DEFAULT_MEMORY_MIB,
    ArtifactPath,
    Cpu,
    EnvName,
    EnvValue,
    GroupName,
    ImageRef,
    MemoryMiB,
    Port,
    RoleArn,
    ServerStatus,
    ServerType,
    StartCommand,
    StdioChild,
    normalize_groups,
    normalize_name,
)
from hosted_mcp.models.limits import AsciiName, PlainDescription, spec_problems

TOOL_POLICY = (
    "Per group (and `*` for everyone else), which tools, prompts and resources its members may use: names, URIs or "
    "globs with `*`; a kind left out means all of it, `[]` none of it. No policy: everything."
)
CALL_LIMITS = "Per caller: ratePerSecond with burst; per replica: maxConcurrentPerReplica calls in flight."
AUDIT_CALLS = "Record every tools/call, prompts/get and resources/read in the data-plane audit trail."

# Fields a client may read but never set. Named so a rejected body can say why.
READ_ONLY_FIELDS = frozenset(
    {
        "id",
        "status",
        "owner",
        "stack_name",
        "stackName",
        "stackId",
        "deploymentId",
        "createdAt",
        "updatedAt",
        "created",
        "lastModified",
        "version",
        "lastError",
        "normalizedName",
        "url",
        "sseUrl",
        "restarts",
        "pendingChanges",
    }
)


class CreateServerRequest(BaseModel):
    """HostedMcpServerModel: what an admin sends to create a hosted server."""

    model_config = ConfigDict(extra="forbid", title="HostedMcpServerModel", defer_build=True)

    name: AsciiName
    description: PlainDescription | None = None
    serverType: ServerType
    startCommand: StartCommand
    s3Path: ArtifactPath | None = None
    image: ImageRef | None = None
    port: Port | None = Field(None, description="HTTP/SSE port (default 8000); stdio servers always use 8080.")
    cpu: Cpu = DEFAULT_CPU
    memoryLimitMiB: MemoryMiB = DEFAULT_MEMORY_MIB
    autoScalingConfig: AutoScalingConfig = Field(default_factory=AutoScalingConfig)
    loadBalancerConfig: LoadBalancerConfig = Field(default_factory=LoadBalancerConfig)
    containerHealthCheckConfig: ContainerHealthCheckConfig = Field(default_factory=ContainerHealthCheckConfig)
    environment: dict[EnvName, EnvValue] = Field(default_factory=dict)
    taskExecutionRoleArn: RoleArn | None = None
    taskRoleArn: RoleArn | None = None
    groups: list[GroupName] | None = Field(None, max_length=50)
    forwardCallerToken: bool = Field(False, description="Pass the caller's bearer token through to the server.")
    stdioChild: StdioChild = Field(
        StdioChild.SHARED,
        description="stdio only: one process for every session (`shared`) or one per session (`perSession`).",
    )
    toolPolicy: ToolPolicy | None = Field(None, description=TOOL_POLICY)
    callLimits: CallLimits = Field(default_factory=CallLimits, description=CALL_LIMITS)
    auditCalls: bool = Field(True, description=AUDIT_CALLS)

    @model_validator(mode="after")
    def _rules(self) -> CreateServerRequest:
        if not normalize_name(self.name):
            raise rule_error("name", "name must contain at least one letter or digit")
        check_sizes_and_port(self.serverType, self.cpu, self.memoryLimitMiB, self.port)
        check_policy_groups(self.toolPolicy, normalize_groups(self.groups))
        problems = spec_problems(self.to_spec())
        if problems:
            raise rule_error(problems[0].field, problems[0].message)
        return self

    def to_spec(self) -> ServerSpec:
        data = self.model_dump(exclude={"port", "groups", "toolPolicy", "callLimits"})
        return ServerSpec(
            **data,
            port=self.port if self.port is not None else default_port(self.serverType),
            groups=normalize_groups(self.groups),
            toolPolicy=self.toolPolicy,
            callLimits=self.callLimits,
        )


class UpdateServerRequest(BaseModel):
    """UpdateHostedMcpServerRequest: at least one field; `enabled` is not combined with scaling changes."""

    model_config = ConfigDict(extra="forbid", title="UpdateHostedMcpServerRequest", defer_build=True)

    enabled: bool | None = Field(None, description="false stops a running server, true starts a stopped one.")
    description: PlainDescription | None = None
    autoScalingConfig: AutoScalingConfig | None = None
    environment: dict[EnvName, EnvValue] | None = None
    loadBalancerConfig: LoadBalancerConfig | None = None
    containerHealthCheckConfig: ContainerHealthCheckConfig | None = None
    cpu: Cpu | None = None
    memoryLimitMiB: MemoryMiB | None = None
    groups: list[GroupName] | None = Field(None, max_length=50)
    forwardCallerToken: bool | None = None
    stdioChild: StdioChild | None = None
    toolPolicy: ToolPolicy | None = Field(None, description=TOOL_POLICY + " `{}` removes the policy.")
    callLimits: CallLimits | None = Field(None, description=CALL_LIMITS + " Replaces the limits as a whole.")
    auditCalls: bool | None = Field(None, description=AUDIT_CALLS)

    @model_validator(mode="after")
    def _rules(self) -> UpdateServerRequest:
        if not self.model_fields_set or all(getattr(self, f) is None for f in self.model_fields_set):
            raise rule_error("body", "an update needs at least one field")
        if self.enabled is not None and self.autoScalingConfig is not None:
            raise rule_error("enabled", "enabled cannot be combined with autoScalingConfig; send them separately")
        return self

    def config_changes(self) -> dict[str, Any]:
        """The configuration fields this update sets (everything but `enabled`)."""
        changes = {
            f: getattr(self, f) for f in self.model_fields_set if f != "enabled" and getattr(self, f) is not None
        }
        if "groups" in changes:
            changes["groups"] = normalize_groups(changes["groups"])
        return changes


class AuditKind(StrEnum):
    STATUS = "status"  # status changes of the record (the management audit trail)
    CALL = "call"  # calls through the data plane


class AuditView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    kind: Literal["status"] = "status"
    version: int
    at: datetime
    actor: str
    fromStatus: ServerStatus | None
    toStatus: ServerStatus | None
    reason: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditView:
        return cls(**entry.model_dump(exclude={"serverId"}))


class ServerView(BaseModel):
    """A hosted server as the API shows it."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    name: str
    normalizedName: str
    description: str | None
    serverType: ServerType
    startCommand: str
    s3Path: str | None
    image: str | None
    port: int
    cpu: int
    memoryLimitMiB: int
    autoScalingConfig: AutoScalingConfig
    loadBalancerConfig: LoadBalancerConfig
    containerHealthCheckConfig: ContainerHealthCheckConfig
    environment: dict[str, str]
    taskExecutionRoleArn: str | None
    taskRoleArn: str | None
    groups: list[str]
    forwardCallerToken: bool
    stdioChild: StdioChild
    toolPolicy: dict[str, Any] | None = None
    callLimits: CallLimits = Field(default_factory=CallLimits)
    auditCalls: bool = True
    status: ServerStatus
    enabled: bool
    owner: str
    stack_name: str | None
    deploymentId: str | None
    createdAt: datetime
    updatedAt: datetime
    statusDeadline: datetime | None
    version: int
    lastError: str | None
    restarts: int
    url: str | None = Field(
        None, description="The endpoint clients use: streamable HTTP (`/mcp`), SSE for SSE servers."
    )
    sseUrl: str | None = Field(None, description="SSE endpoint of the server on this platform.")
    pendingChanges: dict[str, Any] | None = None

    @classmethod
    def of(cls, record: ServerRecord, base_url: str | None = None) -> ServerView:
        spec = record.spec.model_dump()
        if record.spec.toolPolicy is not None:  # a kind left out means all of it: shown left out, not as null
            spec["toolPolicy"] = record.spec.toolPolicy.model_dump(exclude_none=True)
        pending = None
        if record.pending is not None:
            new = record.pending.spec.model_dump()
            pending = {k: v for k, v in new.items() if spec.get(k) != v}
            if record.pending.enabled != record.enabled:
                pending["enabled"] = record.pending.enabled
        urls = server_urls(base_url, record) if base_url else None
        return cls(
            id=record.id,
            normalizedName=record.normalizedName,
            **spec,
            status=record.status,
            enabled=record.enabled,
            owner=record.owner,
            stack_name=record.stackName,
            deploymentId=record.deploymentId,
            createdAt=record.createdAt,
            updatedAt=record.updatedAt,
            statusDeadline=record.statusDeadline,
            version=record.version,
            lastError=record.lastError,
            restarts=record.restarts,
            url=urls.primary if urls else None,
            sseUrl=urls.sse if urls else None,
            pendingChanges=pending,
        )


class ServerPage(BaseModel):
    Items: list[ServerView]
    nextToken: str | None = None


class AuditPage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    Items: list[AuditView] | list[CallView]
    nextToken: str | None = None


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    errors: list[ErrorDetail] | None = None
