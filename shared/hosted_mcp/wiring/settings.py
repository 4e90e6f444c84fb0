"""The platform stack's settings: every environment variable a function reads, validated once, in one model.

`template.yaml` sets them. A function reads only the ones it needs (`require` names any that are missing), and
the authentication settings come from the `AUTH_*` variables (each `AuthSettings` field is `AUTH_<FIELD NAME IN
UPPER CASE>`: lists comma-separated, booleans `true`/`false`). Errors name the variable, never its value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hosted_mcp.auth.settings import AuthSettings
from hosted_mcp.models.limits import PlatformLimits

AUTH_PREFIX = "AUTH_"
AUTH_LIST_FIELDS = frozenset({"audience", "algorithms", "username_claim"})


class SettingsError(RuntimeError):
    """The function's environment is misconfigured (a deployment bug, never a client error)."""


class PlatformSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    # every function
    servers_table_name: str = Field(alias="SERVERS_TABLE_NAME", min_length=1)
    region: str | None = Field(None, alias="AWS_REGION")
    api_base_url: str | None = Field(
        None, alias="API_BASE_URL", description="Public base URL of the API stage; servers' URLs are built from it."
    )
    api_keys_table_name: str | None = Field(None, alias="API_KEYS_TABLE_NAME")
    call_audit_table_name: str | None = Field(
        None, alias="CALL_AUDIT_TABLE_NAME", description="The data-plane audit trail (the router writes, the API reads)"
    )
    # the reactions: where servers' stacks go and where news goes
    stack_prefix: str = Field("hmcp", alias="STACK_PREFIX")
    server_stack_parameters: str = Field(
        "", alias="SERVER_STACK_PARAMETERS", description="SSM path of what server stacks read from the platform."
    )
    deployment_role_arn: str | None = Field(None, alias="DEPLOYMENT_ROLE_ARN")
    server_role_path: str = Field("/hosted-mcp/", alias="SERVER_ROLE_PATH")
    permissions_boundary_arn: str | None = Field(None, alias="PERMISSIONS_BOUNDARY_ARN")
    status_bus_name: str = Field("", alias="STATUS_BUS_NAME")
    connections_table_name: str | None = Field(None, alias="CONNECTIONS_TABLE_NAME")
    discovery_namespace: str = Field(
        "", alias="DISCOVERY_NAMESPACE", description="Cloud Map DNS name servers' tasks register under (probes)."
    )
    probe_timeout_seconds: float = Field(5.0, alias="PROBE_TIMEOUT_SECONDS")
    # the authorizer (and every route that verifies credentials): the AUTH_* variables as they were read
    auth_variables: dict[str, str] = Field(default_factory=dict, exclude=True)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> PlatformSettings:
        values = dict(os.environ if environ is None else environ)
        auth = {k: v for k, v in values.items() if k.startswith(AUTH_PREFIX) and v != ""}
        try:
            return cls.model_validate({**values, "auth_variables": auth})
        except ValidationError as exc:
            names = ", ".join(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
            raise SettingsError(f"invalid or missing environment variables: {names}") from exc

    def require(self, *names: str) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            aliases = ", ".join(str(type(self).model_fields[n].alias) for n in missing)
            raise SettingsError(f"missing environment variables: {aliases}")

    def limits(self) -> PlatformLimits:
        """Limits that depend on how the platform was deployed: task roles a client names live under its path."""
        path = self.server_role_path if self.server_role_path.endswith("/") else self.server_role_path + "/"
        return PlatformLimits(role_path=path)

    def auth(self) -> AuthSettings:
        """The authentication settings from the `AUTH_*` variables."""
        return auth_settings_from(self.auth_variables)


def auth_settings_from(environ: Mapping[str, str]) -> AuthSettings:
    values: dict[str, object] = {}
    for name in AuthSettings.model_fields:
        raw = environ.get(AUTH_PREFIX + name.upper())
        if raw is None or raw == "":
            continue
        values[name] = [p.strip() for p in raw.split(",") if p.strip()] if name in AUTH_LIST_FIELDS else raw
    try:
        return AuthSettings.model_validate(values)
    except ValidationError as exc:
        names = ", ".join(sorted({AUTH_PREFIX + str(e["loc"][0]).upper() for e in exc.errors() if e.get("loc")}))
        raise SettingsError(f"invalid or missing authentication settings: {names or 'AUTH_*'}") from exc
