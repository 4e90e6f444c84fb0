"""The AWS composition root: typed settings read once, and cached factories that build adapters and port bundles.

Every Lambda entry point asks a factory here for what its logic needs (`api_services()`, `reaction_ports()`,
`authenticator()` ...). Factories run on first use (boto3 is imported lazily, so a cold start pays only for what
the function touches) and are cached for the life of the execution environment. Add a factory with `@factory`;
`clear_factories()` (tests) forgets every cached value, settings included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from hosted_mcp.wiring.settings import PlatformSettings, SettingsError

if TYPE_CHECKING:
    from hosted_mcp.adapters.cloudformation import CloudFormationBackend, StackStatusChanged
    from hosted_mcp.adapters.dynamodb import DynamoDbServerStore
    from hosted_mcp.adapters.dynamodb_calls import DynamoDbCallAudit
    from hosted_mcp.adapters.stack_template import StackPlatform
    from hosted_mcp.api.services import ApiServices
    from hosted_mcp.auth.api_keys import ApiKeyStore
    from hosted_mcp.auth.authenticator import Authenticator
    from hosted_mcp.models.settlement import Settlement
    from hosted_mcp.ports import Connections, ReadinessProbe, StatusEvents, TransitionMetrics

__all__ = ["SettingsError"]

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


def utc_now() -> datetime:
    return datetime.now(UTC)


@factory
def settings() -> PlatformSettings:
    return PlatformSettings.from_environ()


# -- clients and stores -----------------------------------------------------------------------------------------


def _client_config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=settings().region, config=_client_config())


@factory
def dynamodb_client() -> Any:
    return _client("dynamodb")


@factory
def cloudformation_client() -> Any:
    return _client("cloudformation")


@factory
def server_store() -> DynamoDbServerStore:
    from hosted_mcp.adapters.dynamodb import DynamoDbServerStore

    return DynamoDbServerStore(dynamodb_client(), settings().servers_table_name)


@factory
def api_key_store() -> ApiKeyStore | None:
    from hosted_mcp.adapters.dynamodb_api_keys import DynamoDbApiKeyStore

    table = settings().api_keys_table_name
    return DynamoDbApiKeyStore(dynamodb_client(), table) if table else None


@factory
def call_audit() -> DynamoDbCallAudit | None:
    from hosted_mcp.adapters.dynamodb_calls import DynamoDbCallAudit

    table = settings().call_audit_table_name
    return DynamoDbCallAudit(dynamodb_client(), table) if table else None


# -- the management API and the authorizer ------------------------------------------------------------------------


@factory
def api_services() -> ApiServices:
    from hosted_mcp.api.services import ApiServices
    from hosted_mcp.models.limits import configure_platform_limits

    # Request models check them while validating a body: set once, before the first request is resolved.
    configure_platform_limits(settings().limits())
    return ApiServices(
        store=server_store(), base_url=settings().api_base_url, api_keys=api_key_store(), calls=call_audit()
    )


@factory
def authenticator() -> Authenticator:
    from hosted_mcp.auth.authenticator import Authenticator
    from hosted_mcp.auth.jwks import HttpJwksSource, RefreshingJwks

    auth = settings().auth()
    jwks = RefreshingJwks(
        HttpJwksSource(auth.effective_jwks_url),
        min_refresh_seconds=auth.jwks_min_refresh_seconds,
        max_age_seconds=auth.jwks_max_age_seconds,
    )
    return Authenticator(auth, jwks, api_key_store())


# -- the reactions (deploy, apply, teardown, publish, settle, reconcile) ----------------------------------------


@factory
def stack_platform() -> StackPlatform:
    from hosted_mcp.adapters.stack_template import StackPlatform

    conf = settings()
    conf.require("server_stack_parameters")
    return StackPlatform(
        stackPrefix=conf.stack_prefix,
        parameterPrefix=conf.server_stack_parameters,
        rolePath=conf.server_role_path,
        permissionsBoundaryArn=conf.permissions_boundary_arn or None,
    )


class AwsReactionPorts:
    """`ReactionPorts` for the Lambda functions: each port is built on first use, so the publish function never
    creates a CloudFormation client and the deploy function never an EventBridge one."""

    @cached_property
    def store(self) -> DynamoDbServerStore:
        return server_store()

    @cached_property
    def backend(self) -> CloudFormationBackend:
        from hosted_mcp.adapters.cloudformation import CloudFormationBackend

        return CloudFormationBackend(cloudformation_client(), stack_platform(), role_arn=settings().deployment_role_arn)

    @cached_property
    def probe(self) -> ReadinessProbe:
        from hosted_mcp.adapters.discovery import TasksProbe

        # Each task directly, by its Cloud Map name (hosted_mcp.adapters.discovery says why not the router).
        conf = settings()
        conf.require("discovery_namespace")
        return TasksProbe(conf.discovery_namespace, timeout=conf.probe_timeout_seconds, attempts=3, retry_delay=5.0)

    @cached_property
    def events(self) -> StatusEvents:
        from hosted_mcp.adapters.eventbridge import EventBridgeStatusEvents

        conf = settings()
        conf.require("status_bus_name")
        return EventBridgeStatusEvents(_client("events"), conf.status_bus_name)

    @cached_property
    def connections(self) -> Connections | None:
        from hosted_mcp.adapters.connections import DynamoDbConnections

        table = settings().connections_table_name
        return DynamoDbConnections(dynamodb_client(), table) if table else None

    @cached_property
    def metrics(self) -> TransitionMetrics:
        from hosted_mcp.adapters.metrics import CloudWatchTransitionMetrics

        return CloudWatchTransitionMetrics()

    @property
    def base_url(self) -> str | None:
        return settings().api_base_url


@factory
def reaction_ports() -> AwsReactionPorts:
    return AwsReactionPorts()


def stack_settlement(event: StackStatusChanged) -> Settlement | None:
    """The settlement a stack status change of ours means, with CloudFormation's real reason for a failure."""
    from hosted_mcp.adapters.cloudformation import explain, settlement_from_stack_event

    settlement = settlement_from_stack_event(event, settings().stack_prefix)
    return None if settlement is None else explain(cloudformation_client(), settlement)
