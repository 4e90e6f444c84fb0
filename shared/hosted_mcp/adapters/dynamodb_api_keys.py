"""API keys on DynamoDB: a table of its own (template.yaml `ApiKeysTable`), keyed by `keyId`, hashes only.

Kept apart from the servers table so the authorizer's role can read keys and nothing else, and key items never
travel on the servers table's stream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from hosted_mcp.adapters.dynamodb import deserialize, serialize
from hosted_mcp.auth.api_keys import ApiKeyRecord, ApiKeyStore
from hosted_mcp.errors import NotFound

PAGE_LIMIT = 100


class DynamoDbApiKeyStore(ApiKeyStore):
    """ApiKeyStore over a boto3 low-level DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put(self, record: ApiKeyRecord) -> None:
        item = serialize({"pk": record.keyId, **record.model_dump(mode="json", exclude_none=True)})
        try:
            self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ValueError("key id already exists") from error
            raise

    def get(self, key_id: str) -> ApiKeyRecord | None:
        response = self._client.get_item(TableName=self._table, Key=serialize({"pk": key_id}), ConsistentRead=True)
        item = response.get("Item")
        return _record(item) if item else None

    def list(self) -> list[ApiKeyRecord]:
        records: list[ApiKeyRecord] = []
        params: dict[str, Any] = {"TableName": self._table, "Limit": PAGE_LIMIT}
        while True:
            response = self._client.scan(**params)
            records.extend(_record(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return sorted(records, key=lambda r: (r.createdAt, r.keyId))

    def revoke(self, key_id: str, at: datetime) -> ApiKeyRecord:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=serialize({"pk": key_id}),
                UpdateExpression="SET revokedAt = if_not_exists(revokedAt, :at)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=serialize({":at": at.isoformat()}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise NotFound("No such API key") from error
            raise
        record = self.get(key_id)
        if record is None:
            raise NotFound("No such API key")
        return record


def _record(item: dict[str, Any]) -> ApiKeyRecord:
    data = deserialize(item)
    data.pop("pk", None)
    return ApiKeyRecord.model_validate(data)
