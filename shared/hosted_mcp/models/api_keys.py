"""API models of API keys: issue (the secret shown once), list and revoke; never a secret or its hash after issue."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hosted_mcp.auth.api_keys import ApiKeyRecord
from hosted_mcp.models.fields import GroupName

MAX_KEY_LIFETIME_DAYS = 365


class IssueApiKeyRequest(BaseModel):
    """An API key for an agent or an automation: its own identity, its groups, an expiry."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    owner: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9@._:/+-]*$",
        description="Identity the key acts as (audit actor); default `apikey/<name>`.",
    )
    groups: list[GroupName] = Field(default_factory=list, max_length=50, description="IdP-style groups of the key.")
    expiresInDays: int = Field(90, ge=1, le=MAX_KEY_LIFETIME_DAYS)


class ApiKeyView(BaseModel):
    """A stored key as admins see it: never the secret, never its hash."""

    model_config = ConfigDict(defer_build=True)

    keyId: str
    name: str
    owner: str
    groups: list[str]
    createdBy: str
    createdAt: datetime
    expiresAt: datetime
    revokedAt: datetime | None = None
    state: Literal["active", "expired", "revoked"]

    @classmethod
    def of(cls, record: ApiKeyRecord, now: datetime) -> ApiKeyView:
        state: Literal["active", "expired", "revoked"] = (
            "revoked" if record.revokedAt else ("expired" if now >= record.expiresAt else "active")
        )
        return cls(**record.model_dump(exclude={"secretHash", "groups"}), groups=list(record.groups), state=state)


class IssuedApiKeyView(ApiKeyView):
    apiKey: str = Field(description="The key itself. Shown once: the platform keeps only its hash.")


class ApiKeyPage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    Items: list[ApiKeyView]
