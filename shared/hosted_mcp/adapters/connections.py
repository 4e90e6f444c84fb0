"""Connection records in the optional connections table, where chat clients look hosted servers up.

One item per server (`id` = server id, `owner` = `lisa:public`: hosted servers belong to the platform, visibility
is by `groups`). `customHeaders` carries the `{LISA_BEARER_TOKEN}` placeholder; whoever hands a connection to a
caller replaces it with the caller's own token.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from hosted_mcp.adapters.dynamodb import serialize
from hosted_mcp.models.connections import BEARER_PLACEHOLDER
from hosted_mcp.models.domain import ServerRecord
from hosted_mcp.models.fields import PUBLIC_GROUP
from hosted_mcp.ports import Connections

CONNECTION_OWNER = PUBLIC_GROUP


def connection_key(server_id: str) -> dict[str, str]:
    return {"id": server_id, "owner": CONNECTION_OWNER}


def connection_item(record: ServerRecord, url: str, *, active: bool) -> dict[str, Any]:
    """The connection of `record` as plain data. `url` is the endpoint clients use (`hosted_mcp.endpoints`)."""
    spec = record.spec
    item: dict[str, Any] = connection_key(record.id) | {
        "name": spec.name,
        "normalizedName": record.normalizedName,
        "serverType": spec.serverType.value,
        "url": url,
        "groups": list(spec.groups),
        "status": "active" if active else "inactive",
        "customHeaders": {"Authorization": f"Bearer {BEARER_PLACEHOLDER}"},
        "hosted": True,
        "updatedAt": record.updatedAt.isoformat(),
    }
    if spec.description:
        item["description"] = spec.description
    return item


class DynamoDbConnections(Connections):
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def publish(self, record: ServerRecord, url: str, active: bool) -> None:
        item = connection_item(record, url, active=active)
        try:
            # A late, older change never overwrites a newer one.
            self._client.put_item(
                TableName=self._table,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(updatedAt) OR updatedAt <= :at",
                ExpressionAttributeValues={":at": {"S": item["updatedAt"]}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def remove(self, server_id: str) -> None:
        self._client.delete_item(TableName=self._table, Key=serialize(connection_key(server_id)))
