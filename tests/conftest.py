"""Fixtures every tier shares: fake AWS credentials for moto, an in-memory store, callers, the servers table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.models.domain import Caller
from tests.support.ddb import create_servers_table
from tests.support.events import ADMIN, USER

SERVERS_TABLE = "hosted-mcp-servers"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and region that can only ever reach moto, plus the settings the AWS adapters read."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "SERVERS_TABLE_NAME": SERVERS_TABLE,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "HostedMcpTest",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def mocked_aws(aws_env: None) -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def servers_table(mocked_aws: None) -> Any:
    """The servers table (a boto3 Table resource) built from template.yaml, inside moto."""
    import boto3

    return create_servers_table(boto3.resource("dynamodb", region_name="us-east-1"), SERVERS_TABLE)


@pytest.fixture
def memory_store() -> InMemoryServerStore:
    return InMemoryServerStore()


@pytest.fixture
def admin() -> Caller:
    return ADMIN


@pytest.fixture
def user() -> Caller:
    return USER
