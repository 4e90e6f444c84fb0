"""Events for subscribers: a versioned envelope and a typed detail (schema v1, documented in docs/events.md).

Two detail types: a status change of a server (every transition), and a restart of one of its replicas while it
stays `InService` (the one-machine supervisor restarts replicas that crash or stop answering).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hosted_mcp.models.fields import ServerStatus

EventSource = Literal["hosted-mcp"]
StatusChangedType = Literal["Hosted MCP Server Status Changed"]
ServerRestartedType = Literal["Hosted MCP Server Restarted"]
SchemaVersion = Literal["1"]
EVENT_SOURCE: EventSource = "hosted-mcp"
STATUS_CHANGED: StatusChangedType = "Hosted MCP Server Status Changed"
SERVER_RESTARTED: ServerRestartedType = "Hosted MCP Server Restarted"
SCHEMA_VERSION: SchemaVersion = "1"


class StatusChangedDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    schemaVersion: SchemaVersion = SCHEMA_VERSION
    serverId: str
    name: str
    normalizedName: str
    fromStatus: ServerStatus | None = Field(description="None when the server was just created.")
    toStatus: ServerStatus | None = Field(description="None when the server was removed.")
    reason: str | None = None
    version: int
    at: datetime
    deploymentId: str | None = None
    lastError: str | None = None


class StatusChanged(BaseModel):
    """Envelope: what is published on the bus (EventBridge `Source`/`DetailType`/`Detail`) or to local subscribers."""

    model_config = ConfigDict(frozen=True)

    source: EventSource = EVENT_SOURCE
    detailType: StatusChangedType = STATUS_CHANGED
    correlationId: str = Field(description="serverId:version; identical for duplicate deliveries of one change.")
    detail: StatusChangedDetail


class ServerRestartedDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    schemaVersion: SchemaVersion = SCHEMA_VERSION
    serverId: str
    name: str
    normalizedName: str
    status: ServerStatus = Field(description="The server's status, unchanged by the restart.")
    restarts: int = Field(description="Restarts counted on the record so far.")
    reason: str | None = Field(description="Why the replica was restarted (also the record's lastError).")
    version: int
    at: datetime
    deploymentId: str | None = None


class ServerRestarted(BaseModel):
    """A replica of a running server was restarted (same envelope as StatusChanged)."""

    model_config = ConfigDict(frozen=True)

    source: EventSource = EVENT_SOURCE
    detailType: ServerRestartedType = SERVER_RESTARTED
    correlationId: str = Field(description="serverId:version; identical for duplicate deliveries of one change.")
    detail: ServerRestartedDetail


ServerEvent = StatusChanged | ServerRestarted
