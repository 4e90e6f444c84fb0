"""Through the management API Lambda (events/api samples, moto DynamoDB from template.yaml): every limit AWS would
enforce late is a 400 that names the field, and the request writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from hosted_mcp.adapters.dynamodb import DynamoDbServerStore
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.fields import ServerStatus
from tests.conftest import SERVERS_TABLE
from tests.support.events import api_event, load_event, response_json, with_server_id
from tests.support.lambdas import FakeLambdaContext, load_handler

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
MINIMAL = {"name": "docs-mcp", "serverType": "stdio", "startCommand": "python main.py"}
ACCOUNT = "123456789012"


@pytest.fixture
def api(servers_table: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    from hosted_mcp.models.limits import configure_platform_limits, platform_limits
    from hosted_mcp.wiring import aws

    before = platform_limits()
    monkeypatch.setenv("SERVER_ROLE_PATH", "/hosted-mcp/")
    aws.clear_factories()
    module = load_handler("api")
    yield lambda event: module.handler(event, FakeLambdaContext())
    aws.clear_factories()
    configure_platform_limits(before)


def items() -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return list(client.scan(TableName=SERVERS_TABLE, ConsistentRead=True)["Items"])


def assert_refused(result: dict[str, Any], field: str) -> str:
    assert result["statusCode"] == 400, result["body"]
    body = response_json(result)
    assert body["code"] == "ValidationError"
    assert body["field"] == field, body
    return str(body["message"])


LIMITS = [
    ("container health timeout above ECS's 60 s", {"containerHealthCheckConfig": {"timeout": 90, "interval": 120}},
     "containerHealthCheckConfig.timeout"),
    ("container health retries above 10", {"containerHealthCheckConfig": {"retries": 11}},
     "containerHealthCheckConfig.retries"),
    ("container start period above 300 s", {"containerHealthCheckConfig": {"startPeriod": 301}},
     "containerHealthCheckConfig.startPeriod"),
    ("load-balancer interval above 300 s", {"loadBalancerConfig": {"healthCheckConfig": {"interval": 301}}},
     "loadBalancerConfig.healthCheckConfig.interval"),
    ("NUL in an environment value", {"environment": {"TOKEN": "a\u0000b"}}, "environment.TOKEN"),
    ("a variable ECS sets itself", {"environment": {"ECS_CONTAINER_METADATA_URI_V4": "x"}},
     "environment.ECS_CONTAINER_METADATA_URI_V4"),
    ("1,000 environment values of 4 KB", {"environment": {f"V{i}": "x" * 4000 for i in range(1000)}}, "environment"),
    ("an unbalanced quote in the start command", {"startCommand": "python 'main.py"}, "startCommand"),
    ("a Cyrillic o in the name", {"name": "\u043epen"}, "name"),
    ("a right-to-left override in the name", {"name": "docs\u202efdp"}, "name"),
    ("NUL in the name", {"name": "docs\u0000mcp"}, "name"),
    ("a bidi override in the description", {"description": "x \u202egnp.exe"}, "description"),
    ("an image longer than ECS accepts", {"image": "r.example/" + "a" * 250}, "image"),
    ("an artifact bucket that cannot exist", {"s3Path": "My_Bucket/x"}, "s3Path"),
    ("a task role outside the passable path", {"taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/admin"}, "taskRoleArn"),
    ("an execution role outside the passable path",
     {"taskExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ops/exec"}, "taskExecutionRoleArn"),
    ("a stack template over 51,200 bytes",
     {"environment": {f"V{i}": "x" * 3900 for i in range(8)}, "s3Path": "bucket/" + "p" * 900,
      "startCommand": "python " + "a" * 4000, "containerHealthCheckConfig": {"command": "true " + "b" * 4000}},
     "environment"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "overrides", "field"), LIMITS, ids=[r[0] for r in LIMITS])
def test_a_create_over_a_limit_is_a_400_naming_the_field_and_writes_nothing(
    api: Invoke, rule: str, overrides: dict[str, Any], field: str
) -> None:
    # Given a create body that breaks one limit
    body = {**MINIMAL, **overrides}
    # When it is sent
    result = api(api_event("POST", "/mcp", body=body))
    # Then it is refused naming the field, and nothing was written
    assert_refused(result, field)
    assert items() == []


FIXED_ONCE_CREATED = {"name", "startCommand", "image", "s3Path", "taskRoleArn", "taskExecutionRoleArn"}
UPDATE_LIMITS = [case for case in LIMITS if not FIXED_ONCE_CREATED & set(case[1])]


@pytest.mark.parametrize(("rule", "overrides", "field"), UPDATE_LIMITS, ids=[r[0] for r in UPDATE_LIMITS])
def test_an_update_over_a_limit_is_a_400_naming_the_field_and_changes_nothing(
    api: Invoke, rule: str, overrides: dict[str, Any], field: str
) -> None:
    # Given a server in service
    created = api(api_event("POST", "/mcp", body=MINIMAL))
    assert created["statusCode"] == 201, created["body"]
    server_id = response_json(created)["id"]
    store = DynamoDbServerStore(boto3.client("dynamodb", region_name="us-east-1"), SERVERS_TABLE)
    record = store.get(server_id)
    assert record is not None
    move(store, record, ServerStatus.IN_SERVICE, actor="deployer", reason="test setup", now=record.updatedAt)
    before = items()
    # When an update breaks the limit
    update = {k: v for k, v in overrides.items() if k in ("environment", "containerHealthCheckConfig",
                                                          "loadBalancerConfig", "description")}  # fmt: skip
    result = api(with_server_id(load_event("api/update"), server_id) | {"body": json.dumps(update)})
    # Then it is refused naming the field, and the record is as it was
    assert_refused(result, field)
    assert items() == before


def test_the_template_size_refusal_says_how_large_it_would_be(api: Invoke) -> None:
    body = {**MINIMAL, **dict(LIMITS[-1][1])}
    message = assert_refused(api(api_event("POST", "/mcp", body=body)), "environment")
    assert "51200" in message


def test_roles_under_the_passable_path_and_names_folding_to_ascii_are_accepted(api: Invoke) -> None:
    body = {
        **MINIMAL,
        "name": "\uff44\uff4f\uff43\uff53",  # full-width letters: NFKC folds them to "docs"
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/hosted-mcp/reader",
        "description": "Outils \u2014 \u77e5\u8b58",
    }
    result = api(api_event("POST", "/mcp", body=body))
    assert result["statusCode"] == 201, result["body"]
    assert response_json(result)["name"] == "docs"
    assert response_json(result)["normalizedName"] == "docs"
