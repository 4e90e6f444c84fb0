"""Typed authentication settings: which issuer and keys to trust, which claims carry identity, stage options."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Asymmetric algorithms only: a symmetric (HS*) or `none` algorithm can never be allowed, because a verifier
# that accepts them can be fooled into using a public key as an HMAC secret.
AsymmetricAlgorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]

DEFAULT_USERNAME_CLAIMS = ("cognito:username", "username", "preferred_username", "sub")


class AuthSettings(BaseModel):
    """How callers prove who they are. Built once at cold start (AWS) or from the platform config (one machine)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(min_length=1, description="Exact `iss` value tokens must carry.")
    audience: tuple[str, ...] = Field(min_length=1, description="Accepted audiences (any one must match).")
    audience_claim: Literal["aud", "client_id"] = Field(
        "aud", description="Claim holding the audience: `aud` (ID tokens) or `client_id` (Cognito access tokens)."
    )
    jwks_url: str | None = Field(None, description="The issuer's key set; default <issuer>/.well-known/jwks.json")
    algorithms: tuple[AsymmetricAlgorithm, ...] = Field(("RS256", "ES256"), min_length=1)
    groups_claim: str = Field("cognito:groups", min_length=1, description="Dotted path of the groups claim.")
    require_groups_claim: bool = Field(
        True, description="Reject tokens without the groups claim (a malformed one is always rejected)."
    )
    username_claim: tuple[str, ...] = Field(
        DEFAULT_USERNAME_CLAIMS, min_length=1, description="Claim path(s); the first one present names the caller."
    )
    require_nbf: bool = Field(True, description="Require `nbf` (IdPs that never send it, such as Cognito, set false).")
    admin_group: str = Field("admin", min_length=1, description="Members of this IdP group manage the platform.")
    idp_lockdown: bool = Field(False, description="Only members of `user_group` (or the admin group) get in at all.")
    user_group: str | None = Field(None, min_length=1, description="The group IdP lockdown admits.")
    api_key_required: bool = Field(False, description="Every request must also present a valid API key (X-Api-Key).")
    api_keys_enabled: bool = Field(True, description="Accept platform-issued API keys as credentials.")
    clock_skew_seconds: int = Field(60, ge=0, le=300)
    max_token_lifetime_seconds: int = Field(
        7 * 24 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        description="Longest `exp - iat` a token may have (the issuer's own cap may be shorter: Cognito's is a day).",
    )
    max_token_bytes: int = Field(8192, ge=512, le=65536)
    jwks_min_refresh_seconds: float = Field(60.0, ge=0, description="Unknown `kid`s refetch keys this rarely.")
    jwks_max_age_seconds: float = Field(3600.0, gt=0, description="Keys older than this are fetched again.")

    @field_validator("audience", "username_claim", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _lockdown_needs_group(self) -> AuthSettings:
        if self.idp_lockdown and not self.user_group:
            raise ValueError("user_group: IdP lockdown needs the group it admits")
        return self

    @property
    def effective_jwks_url(self) -> str:
        return self.jwks_url or f"{self.issuer.rstrip('/')}/.well-known/jwks.json"
