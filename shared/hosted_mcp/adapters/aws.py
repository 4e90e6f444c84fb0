"""AWS wiring: typed settings read once from the environment, and cached factories that build the adapters.

Every Lambda entry point asks a factory here for what its logic needs (`api_services()`, ...). Factories are
created on first use (boto3 is imported lazily, so a cold start pays only for what the function touches) and
cached for the life of the execution environment. Add a factory with `@factory`; `clear_factories()` (tests)
forgets every cached value, settings included.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from hosted_mcp.adapters.cloudformation import CloudFormationBackend, StackStatusChanged
    from hosted_mcp.adapters.dynamodb import DynamoDbServerStore
    from hosted_mcp.adapters.stack_template import StackPlatform
    from hosted_mcp.api.routes import ApiServices
    from hosted_mcp.logic.reactions import StatusChange
    from hosted_mcp.models.domain import ServerRecord
    from hosted_mcp.ports import Connections, ReadinessProbe, StatusEvents

T = TypeVar("T")
_factories: list[Any] = []


def factory(build: Callable[[], T]) -> Callable[[], T]:
    """Cache `build()` for the life of the execution environment and register it with `clear_factories()`."""
    cached = cache(build)
    _factories.append(cached)
    return cached


def clear_factories() -> None:
    for cached in _factories:
        cached.cache_clear()


class SettingsError(RuntimeError):
    """The function's environment is misconfigured (a deployment bug, never a client error)."""


class Settings(BaseModel):
    """The environment every function of the platform stack may read (template.yaml sets it)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    servers_table_name: str = Field(alias="SERVERS_TABLE_NAME", min_length=1)
    api_base_url: str | None = Field(
        None, alias="API_BASE_URL", description="Public base URL of the API stage; servers' URLs are built from it."
    )
    region: str | None = Field(None, alias="AWS_REGION")

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Settings:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as exc:
            names = ", ".join(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
            raise SettingsError(f"invalid or missing environment variables: {names}") from exc


@factory
def settings() -> Settings:
    return Settings.from_environ()


def _client_config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


@factory
def dynamodb_client() -> Any:
    import boto3

    return boto3.client("dynamodb", region_name=settings().region, config=_client_config())


@factory
def servers_table() -> Any:
    """The servers table as a boto3 Table resource (for tools and ad-hoc reads; the store uses the client)."""
    import boto3

    return boto3.resource("dynamodb", region_name=settings().region).Table(settings().servers_table_name)


@factory
def server_store() -> DynamoDbServerStore:
    from hosted_mcp.adapters.dynamodb import DynamoDbServerStore

    return DynamoDbServerStore(dynamodb_client(), settings().servers_table_name)


@factory
def api_services() -> ApiServices:
    from hosted_mcp.adapters.aws_auth import api_key_store
    from hosted_mcp.api.routes import ApiServices

    return ApiServices(store=server_store(), base_url=settings().api_base_url, api_keys=api_key_store())


# -- the reactions (deploy, apply, teardown, settle, publish, reconcile) -----------------------------------------


class ReactionSettings(BaseModel):
    """What the reaction functions read besides `Settings`: where servers' stacks go and where news goes."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    stack_prefix: str = Field("hmcp", alias="STACK_PREFIX")
    server_stack_parameters: str = Field(
        "", alias="SERVER_STACK_PARAMETERS", description="SSM path of what server stacks read from the platform."
    )
    listener_arn: str = Field("", alias="LISTENER_ARN")
    deployment_role_arn: str | None = Field(None, alias="DEPLOYMENT_ROLE_ARN")
    server_role_path: str = Field("/hosted-mcp/", alias="SERVER_ROLE_PATH")
    permissions_boundary_arn: str | None = Field(None, alias="PERMISSIONS_BOUNDARY_ARN")
    status_bus_name: str = Field("", alias="STATUS_BUS_NAME")
    connections_table_name: str | None = Field(None, alias="CONNECTIONS_TABLE_NAME")
    data_plane_url: str = Field("", alias="DATA_PLANE_URL", description="The internal ALB, for readiness probes.")
    probe_timeout_seconds: float = Field(5.0, alias="PROBE_TIMEOUT_SECONDS")

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> ReactionSettings:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as exc:
            names = ", ".join(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
            raise SettingsError(f"invalid or missing environment variables: {names}") from exc

    def require(self, *names: str) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            aliases = ", ".join(str(type(self).model_fields[n].alias) for n in missing)
            raise SettingsError(f"missing environment variables: {aliases}")


@factory
def reaction_settings() -> ReactionSettings:
    return ReactionSettings.from_environ()


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=settings().region, config=_client_config())


@factory
def stack_platform() -> StackPlatform:
    from hosted_mcp.adapters.stack_template import StackPlatform

    conf = reaction_settings()
    conf.require("server_stack_parameters", "listener_arn")
    return StackPlatform(
        stackPrefix=conf.stack_prefix,
        parameterPrefix=conf.server_stack_parameters,
        listenerArn=conf.listener_arn,
        rolePath=conf.server_role_path,
        permissionsBoundaryArn=conf.permissions_boundary_arn or None,
    )


@factory
def deployment_backend() -> CloudFormationBackend:
    from hosted_mcp.adapters.cloudformation import CloudFormationBackend, listener_priorities

    platform = stack_platform()
    return CloudFormationBackend(
        cloudformation_client(),
        platform,
        role_arn=reaction_settings().deployment_role_arn,
        taken_priorities=listener_priorities(_client("elbv2"), platform.listenerArn),
    )


@factory
def cloudformation_client() -> Any:
    return _client("cloudformation")


@factory
def readiness_probe() -> ReadinessProbe:
    from hosted_mcp.adapters.mcp_probe import McpReadinessProbe
    from hosted_mcp.adapters.stack_template import mcp_path, route_prefix

    conf = reaction_settings()
    conf.require("data_plane_url")
    base = conf.data_plane_url.rstrip("/")
    return McpReadinessProbe(
        lambda record: f"{base}{route_prefix(record)}{mcp_path(record.spec)}",
        timeout=conf.probe_timeout_seconds,
        attempts=3,
        retry_delay=5.0,
    )


@factory
def status_events() -> StatusEvents:
    from hosted_mcp.adapters.eventbridge import EventBridgeStatusEvents

    conf = reaction_settings()
    conf.require("status_bus_name")
    return EventBridgeStatusEvents(_client("events"), conf.status_bus_name)


@factory
def connections() -> Connections | None:
    """The connections table's adapter, or None when the platform publishes no connections."""
    from hosted_mcp.adapters.connections import DynamoDbConnections

    table = reaction_settings().connections_table_name
    return DynamoDbConnections(dynamodb_client(), table) if table else None


def utc_now() -> datetime:
    return datetime.now(UTC)


def settle_stack_change(event: StackStatusChanged) -> ServerRecord | None:
    """A stack of ours changed status: settle its server's record (with the real reason of a failure)."""
    from hosted_mcp.adapters.cloudformation import explain, settlement_from_stack_event
    from hosted_mcp.logic.reactions import settle_deployment

    settlement = settlement_from_stack_event(event, reaction_settings().stack_prefix)
    if settlement is None:
        return None
    settlement = explain(cloudformation_client(), settlement)
    probe = readiness_probe() if settlement.outcome == "deployed" else None
    return settle_deployment(server_store(), probe, settlement, now=utc_now())


def announce(change: StatusChange) -> None:
    """A record changed status: publish the status event, the connection (when configured) and the metrics."""
    from hosted_mcp.adapters.metrics import record_transition
    from hosted_mcp.logic.reactions import publish_connection, publish_status

    if publish_status(status_events(), change) is None:
        return
    table = connections()
    base_url = settings().api_base_url
    if table is not None and base_url:
        publish_connection(table, change, f"{base_url.rstrip('/')}/mcp/{change.server.normalizedName}")
    record_transition(change)


def reconcile_overdue() -> list[ServerRecord]:
    """The scheduled sweep: every record past its deadline is settled from its stack, or failed."""
    from hosted_mcp.logic.reactions import overdue_records, reconcile

    now = utc_now()
    store = server_store()
    return reconcile(store, deployment_backend(), readiness_probe(), overdue_records(store, now=now), now=now)
