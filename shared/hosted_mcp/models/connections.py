"""API models of connections: a hosted server as a chat client or agent connects to it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from hosted_mcp.models.fields import ServerType

BEARER_PLACEHOLDER = "{LISA_BEARER_TOKEN}"


class ConnectionView(BaseModel):
    """A hosted server as a chat client or agent connects to it."""

    model_config = ConfigDict(defer_build=True)

    id: str
    name: str
    normalizedName: str
    description: str | None
    serverType: ServerType
    url: str | None
    sseUrl: str | None
    groups: list[str]
    status: Literal["active", "inactive"]
    customHeaders: dict[str, str]


class ConnectionPage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    Items: list[ConnectionView]
