"""The data-plane audit trail's stores: one contract for the in-memory, SQLite and DynamoDB ones, then their own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from hosted_mcp.adapters.dynamodb_calls import SHARDS, DynamoDbCallAudit
from hosted_mcp.adapters.memory import InMemoryCallAudit
from hosted_mcp.errors import InvalidRequest
from hosted_mcp.models.calls import CallOutcome, CallRecord
from hosted_mcp.ports import CallAudit
from hosted_mcp_local.store import SqliteCallAudit
from tests.support.ddb import create_call_audit_table

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def call(n: int, server: str = "s1", **fields: Any) -> CallRecord:
    values: dict[str, Any] = {
        "id": f"c{n:04d}",
        "serverId": server,
        "at": T0 + timedelta(milliseconds=10 * n),
        "caller": "ada",
        "credentialType": "jwt",
        "method": "tools/call",
        "name": f"tool{n % 3}",
        "outcome": CallOutcome.OK,
        "durationMs": 1.5,
        "requestBytes": 120,
        "responseBytes": 300 + n,
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "parentSpanId": None,
        **fields,
    }
    return CallRecord(**values)


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def audit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CallAudit]:
    if request.param == "memory":
        yield InMemoryCallAudit()
    elif request.param == "sqlite":
        store = SqliteCallAudit(tmp_path / "calls.db", retention=timedelta(days=30))
        yield store
        store.close()
    else:
        request.getfixturevalue("mocked_aws")
        client = boto3.client("dynamodb", region_name="us-east-1")
        yield DynamoDbCallAudit(client, create_call_audit_table(client))


def test_a_servers_calls_come_back_newest_first_with_every_field(audit: CallAudit) -> None:
    # Given calls to two servers, one of them with no name and an error
    audit.record([call(1), call(2, server="s2"), call(3, name=None, outcome=CallOutcome.ERROR)])

    # When the first server's trail is read
    page = audit.calls("s1", 10)

    # Then it holds exactly its calls, newest first, as they were recorded
    assert page.records == [call(3, name=None, outcome=CallOutcome.ERROR), call(1)]
    assert page.next_token is None


def test_pages_walk_back_through_time_without_gaps_or_repeats(audit: CallAudit) -> None:
    # Given more calls than a page holds, written in several batches
    calls = [call(n) for n in range(1, 58)]
    for start in range(0, len(calls), 20):
        audit.record(calls[start : start + 20])

    # When they are read a page at a time
    seen: list[CallRecord] = []
    token: str | None = None
    pages = 0
    while True:
        page = audit.calls("s1", 10, token)
        seen.extend(page.records)
        pages += 1
        token = page.next_token
        if token is None:
            break

    # Then every call came exactly once, newest first, in six pages
    assert seen == list(reversed(calls))
    assert pages == 6


def test_a_token_it_did_not_issue_is_a_400_naming_it(audit: CallAudit) -> None:
    with pytest.raises(InvalidRequest) as raised:
        audit.calls("s1", 10, "not a token")
    assert raised.value.problems[0].field == "nextToken"


def test_sqlite_keeps_only_what_retention_allows(tmp_path: Path) -> None:
    # Given a trail that keeps 1 day and at most 5 entries
    store = SqliteCallAudit(tmp_path / "calls.db", retention=timedelta(days=1), max_rows=5)
    old = [call(n, at=T0 - timedelta(days=2, seconds=n)) for n in range(1, 4)]
    recent = [call(n) for n in range(10, 17)]
    store.record(old + recent)

    # When it is pruned
    removed = store.prune(T0)

    # Then what is too old, and the oldest beyond the cap, are gone
    assert removed == 5
    assert [c.id for c in store.calls("s1", 100).records] == [f"c{n:04d}" for n in range(16, 11, -1)]
    store.close()


def test_dynamodb_spreads_one_servers_calls_over_its_shards_with_an_expiry(mocked_aws: None) -> None:
    # Given the table as template.yaml defines it
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = create_call_audit_table(client)

    # When one server's calls are recorded
    DynamoDbCallAudit(client, table, retention=timedelta(days=7)).record([call(n) for n in range(200)])

    # Then they are spread over every shard key, each item expiring after the retention period
    items = client.scan(TableName=table)["Items"]
    assert {item["pk"]["S"] for item in items} == {f"CALLS#s1#{n}" for n in range(SHARDS)}
    expiry = {int(item["expiresAt"]["N"]) - int(datetime.fromisoformat(item["at"]["S"]).timestamp()) for item in items}
    assert expiry == {7 * 24 * 3600}
    assert client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["AttributeName"] == "expiresAt"
