"""AWS wiring: typed settings read once from the environment, and cached factories that build the adapters.

Every Lambda entry point asks a factory here for what its logic needs (`api_services()`, ...). Factories are
created on first use (boto3 is imported lazily, so a cold start pays only for what the function touches) and
cached for the life of the execution environment. Add a factory with `@factory`; `clear_factories()` (tests)
forgets every cached value, settings included.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from hosted_mcp.adapters.dynamodb import DynamoDbServerStore
    from hosted_mcp.api.routes import ApiServices

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
    from hosted_mcp.api.routes import ApiServices

    return ApiServices(store=server_store(), base_url=settings().api_base_url)
