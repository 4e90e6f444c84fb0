"""The DynamoDB API key store under moto, on a table built from template.yaml's ApiKeysTable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hosted_mcp.adapters.dynamodb_api_keys import DynamoDbApiKeyStore
from hosted_mcp.auth import new_key, verify_key
from hosted_mcp.errors import NotFound
from tests.support.ddb import load_template

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TABLE = "hosted-mcp-api-keys"


@pytest.fixture
def store(mocked_aws: None) -> DynamoDbApiKeyStore:
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    props = load_template()["Resources"]["ApiKeysTable"]["Properties"]
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props["BillingMode"],
    )
    return DynamoDbApiKeyStore(client, TABLE)


def issue(store: DynamoDbApiKeyStore, name: str = "ci", **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "name": name,
        "owner": f"apikey/{name}",
        "groups": ("finance",),
        "created_by": "alice",
        "now": NOW,
        "expires_at": NOW + timedelta(days=30),
    }
    values.update(overrides)
    issued = new_key(**values)
    store.put(issued.record)
    return issued


def test_a_stored_key_reads_back_equal_and_verifies(store: DynamoDbApiKeyStore) -> None:
    issued = issue(store)
    assert store.get(issued.record.keyId) == issued.record
    assert verify_key(store, issued.secret, NOW) == issued.record


def test_put_never_overwrites(store: DynamoDbApiKeyStore) -> None:
    issued = issue(store)
    with pytest.raises(ValueError, match="already exists"):
        store.put(issued.record.evolve(groups=("admins",)))
    stored = store.get(issued.record.keyId)
    assert stored is not None
    assert stored.groups == ("finance",)


def test_revoke_keeps_the_first_time_and_refuses_unknown_keys(store: DynamoDbApiKeyStore) -> None:
    issued = issue(store)
    first = store.revoke(issued.record.keyId, NOW)
    again = store.revoke(issued.record.keyId, NOW + timedelta(hours=1))
    assert first.revokedAt == again.revokedAt == NOW
    assert verify_key(store, issued.secret, NOW) is None
    with pytest.raises(NotFound):
        store.revoke("0123456789abcdef", NOW)


def test_list_returns_every_key_in_creation_order_across_pages(store: DynamoDbApiKeyStore) -> None:
    ids = [issue(store, f"bot{i}", now=NOW + timedelta(seconds=i)).record.keyId for i in range(120)]
    assert [r.keyId for r in store.list()] == ids
