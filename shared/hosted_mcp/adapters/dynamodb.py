"""The servers table on DynamoDB: one item type per key prefix, every write a conditional transaction.

One module: the item shapes and the store that writes them are one contract with `ServersTable`.

Items (see template.yaml `ServersTable`):

- `SERVER#<id>` / `META`: the record (`ServerItem`), also indexed on gsi1 (`SERVER`, `<createdAt>#<id>`) for listing.
- `SERVER#<id>` / `AUDIT#<version, zero-padded>`: one audit entry per status change (`AuditItem`).
- `NAME#<normalizedName>` / `NAME`: the uniqueness guard (`NameItem`), written and deleted in the same transaction
  as the record, so two creations of one name can never both succeed and nothing ever scans the table.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from hosted_mcp.errors import ConcurrentModification, InvalidRequest, NameConflict
from hosted_mcp.models.domain import AuditEntry, PendingChange, ServerRecord, ServerSpec
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.ports import Page, ServerStore

SERVER_PREFIX = "SERVER#"
NAME_PREFIX = "NAME#"
AUDIT_PREFIX = "AUDIT#"
META = "META"
NAME = "NAME"
LIST_PARTITION = "SERVER"
LIST_INDEX = "gsi1"
VERSION_DIGITS = 10
_INDEX_KEYS = ("pk", "sk", "gsi1pk", "gsi1sk")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def server_key(server_id: str) -> dict[str, str]:
    return {"pk": SERVER_PREFIX + server_id, "sk": META}


def name_key(normalized_name: str) -> dict[str, str]:
    return {"pk": NAME_PREFIX + normalized_name, "sk": NAME}


def audit_sort_key(version: int) -> str:
    return f"{AUDIT_PREFIX}{version:0{VERSION_DIGITS}d}"


# -- the stored items ---------------------------------------------------------------------------------------------


class _Item(BaseModel):
    # Attributes this version does not know (added by a newer one, or TTLs) are ignored on read, never fatal.
    model_config = ConfigDict(extra="ignore", frozen=True)

    def to_attributes(self) -> dict[str, Any]:
        """Low-level AttributeValue map (JSON mode: dates as ISO strings, numbers as DynamoDB numbers)."""
        return serialize(self.model_dump(mode="json", exclude_none=True))


class ServerItem(_Item):
    """`SERVER#<id>` / `META`: a ServerRecord as stored. The spec and a pending change are nested maps."""

    pk: str
    sk: Literal["META"] = "META"
    gsi1pk: Literal["SERVER"] = "SERVER"
    gsi1sk: str
    itemType: Literal["server"] = "server"
    id: str
    normalizedName: str
    spec: ServerSpec
    status: ServerStatus
    enabled: bool
    owner: str
    version: int
    createdAt: datetime
    updatedAt: datetime
    statusDeadline: datetime | None = None
    stackName: str | None = None
    deploymentId: str | None = None
    lastError: str | None = None
    pending: PendingChange | None = None
    requestToken: str | None = None
    restarts: int = 0

    @classmethod
    def of(cls, record: ServerRecord) -> ServerItem:
        return cls(
            **server_key(record.id),
            gsi1sk=f"{record.createdAt.isoformat()}#{record.id}",
            id=record.id,
            normalizedName=record.normalizedName,
            spec=record.spec,
            status=record.status,
            enabled=record.enabled,
            owner=record.owner,
            version=record.version,
            createdAt=record.createdAt,
            updatedAt=record.updatedAt,
            statusDeadline=record.statusDeadline,
            stackName=record.stackName,
            deploymentId=record.deploymentId,
            lastError=record.lastError,
            pending=record.pending,
            requestToken=record.requestToken,
            restarts=record.restarts,
        )

    def to_record(self) -> ServerRecord:
        return ServerRecord(
            id=self.id,
            normalizedName=self.normalizedName,
            spec=self.spec,
            status=self.status,
            enabled=self.enabled,
            owner=self.owner,
            version=self.version,
            createdAt=self.createdAt,
            updatedAt=self.updatedAt,
            statusDeadline=self.statusDeadline,
            stackName=self.stackName,
            deploymentId=self.deploymentId,
            lastError=self.lastError,
            pending=self.pending,
            requestToken=self.requestToken,
            restarts=self.restarts,
        )


class NameItem(_Item):
    """`NAME#<normalizedName>` / `NAME`: who holds a name."""

    pk: str
    sk: Literal["NAME"] = "NAME"
    itemType: Literal["name"] = "name"
    serverId: str

    @classmethod
    def of(cls, record: ServerRecord) -> NameItem:
        return cls(pk=NAME_PREFIX + record.normalizedName, serverId=record.id)


class AuditItem(_Item):
    """`SERVER#<id>` / `AUDIT#<version>`: one status change."""

    pk: str
    sk: str
    itemType: Literal["audit"] = "audit"
    serverId: str
    version: int
    at: datetime
    actor: str
    fromStatus: ServerStatus | None = None
    toStatus: ServerStatus | None = None
    reason: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditItem:
        return cls(
            pk=SERVER_PREFIX + entry.serverId,
            sk=audit_sort_key(entry.version),
            serverId=entry.serverId,
            version=entry.version,
            at=entry.at,
            actor=entry.actor,
            fromStatus=entry.fromStatus,
            toStatus=entry.toStatus,
            reason=entry.reason,
        )

    def to_entry(self) -> AuditEntry:
        return AuditEntry(
            serverId=self.serverId,
            version=self.version,
            at=self.at,
            actor=self.actor,
            fromStatus=self.fromStatus,
            toStatus=self.toStatus,
            reason=self.reason,
        )


# -- AttributeValue conversion ------------------------------------------------------------------------------------


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(data: Mapping[str, Any]) -> dict[str, Any]:
    """Plain JSON-mode data -> a low-level AttributeValue map."""
    return {k: _serializer.serialize(_to_dynamo(v)) for k, v in data.items()}


def deserialize(image: Mapping[str, Any]) -> dict[str, Any]:
    """A low-level AttributeValue map (an item or a stream image) -> plain data (numbers as int/float)."""
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in image.items()}


def is_server_item(image: Mapping[str, Any] | None) -> bool:
    """Whether a stream image (AttributeValue JSON) is a server record (`SERVER#...`/`META`)."""
    if not image:
        return False
    pk = (image.get("pk") or {}).get("S", "")
    sk = (image.get("sk") or {}).get("S", "")
    return pk.startswith(SERVER_PREFIX) and sk == META


def record_from_image(image: Mapping[str, Any] | None) -> ServerRecord | None:
    """The ServerRecord in a DynamoDB stream image of a META item; None for any other item (audit, name guard)."""
    if not is_server_item(image):
        return None
    assert image is not None
    return ServerItem.model_validate(deserialize(image)).to_record()


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [str(r.get("Code") or "None") for r in reasons]


# -- the store ----------------------------------------------------------------------------------------------------


class DynamoDbServerStore(ServerStore):
    """ServerStore over one DynamoDB table through a low-level boto3 client (`boto3.client("dynamodb")`)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @classmethod
    def from_table(cls, table: Any) -> DynamoDbServerStore:
        """From a boto3 Table resource: its name, and a plain client in the same region and endpoint."""
        import boto3

        meta = table.meta.client.meta
        client = boto3.client("dynamodb", region_name=meta.region_name, endpoint_url=meta.endpoint_url)
        return cls(client, table.name)

    # -- writes -------------------------------------------------------------------------------------------------
    def create(self, record: ServerRecord, audit: AuditEntry) -> None:
        items = [
            self._put(ServerItem.of(record), "attribute_not_exists(pk)"),
            self._put(NameItem.of(record), "attribute_not_exists(pk)"),
            self._put(AuditItem.of(audit), "attribute_not_exists(pk)"),
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _error_code(error) != "TransactionCanceledException":
                raise
            codes = _cancellation_codes(error)
            if codes[:2] and "ConditionalCheckFailed" in codes[:2]:
                raise NameConflict() from error
            raise ConcurrentModification() from error

    def replace(self, expected: ServerRecord, new: ServerRecord, audit: AuditEntry | None) -> None:
        if new.id != expected.id or new.normalizedName != expected.normalizedName:
            raise ValueError("replace keeps the record's id and name")
        items = [self._put(ServerItem.of(new), **self._unchanged(expected))]
        if audit is not None:
            items.append(self._put(AuditItem.of(audit), "attribute_not_exists(pk)"))
        self._transact(items)

    def remove(self, expected: ServerRecord, audit: AuditEntry) -> None:
        items = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": serialize(server_key(expected.id)),
                    **self._unchanged(expected),
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": serialize(name_key(expected.normalizedName)),
                    "ConditionExpression": "serverId = :id",
                    "ExpressionAttributeValues": serialize({":id": expected.id}),
                }
            },
            self._put(AuditItem.of(audit), "attribute_not_exists(pk)"),
        ]
        self._transact(items)

    # -- reads --------------------------------------------------------------------------------------------------
    def get(self, server_id: str) -> ServerRecord | None:
        item = self._get(server_key(server_id))
        return ServerItem.model_validate(item).to_record() if item else None

    def get_by_name(self, normalized_name: str) -> ServerRecord | None:
        guard = self._get(name_key(normalized_name))
        return self.get(NameItem.model_validate(guard).serverId) if guard else None

    def list_page(self, limit: int, next_token: str | None = None) -> Page:
        start = decode_next_token(next_token) if next_token else None
        items: list[dict[str, Any]] = []
        # One extra item tells whether another page exists, so the last page never carries a token.
        for item in self._query_all(
            IndexName=LIST_INDEX,
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=serialize({":p": LIST_PARTITION}),
            Limit=limit + 1,
            **({"ExclusiveStartKey": start} if start else {}),
        ):
            items.append(item)
            if len(items) > limit:
                break
        page = items[:limit]
        token = encode_next_token(page[-1]) if len(items) > limit else None
        return Page(records=[ServerItem.model_validate(deserialize(i)).to_record() for i in page], next_token=token)

    def audit_trail(self, server_id: str) -> list[AuditEntry]:
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
            ExpressionAttributeValues=serialize({":pk": SERVER_PREFIX + server_id, ":audit": AUDIT_PREFIX}),
            ConsistentRead=True,
        )
        return [AuditItem.model_validate(deserialize(i)).to_entry() for i in items]

    # -- plumbing -----------------------------------------------------------------------------------------------
    def _put(self, item: _Item, condition: str | None = None, **extra: Any) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._table, "Item": item.to_attributes(), **extra}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}

    @staticmethod
    def _unchanged(expected: ServerRecord) -> dict[str, Any]:
        """The condition that the stored record is still the one the caller read (same version and status)."""
        return {
            "ConditionExpression": "#version = :version AND #status = :status",
            "ExpressionAttributeNames": {"#version": "version", "#status": "status"},
            "ExpressionAttributeValues": serialize({":version": expected.version, ":status": expected.status.value}),
        }

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _error_code(error) in {"TransactionCanceledException", "ConditionalCheckFailedException"}:
                raise ConcurrentModification() from error
            raise

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=self._table, Key=serialize(key), ConsistentRead=True)
        item = response.get("Item")
        return deserialize(item) if item else None

    def _query_all(self, **params: Any) -> Iterator[dict[str, Any]]:
        while True:
            response = self._client.query(TableName=self._table, **params)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last


# -- pagination tokens --------------------------------------------------------------------------------------------


def encode_next_token(item: Mapping[str, Any]) -> str:
    """An opaque token: the gsi1 position after `item` (AttributeValue map), urlsafe base64 of its JSON."""
    key = {name: item[name] for name in _INDEX_KEYS}
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_next_token(token: str) -> dict[str, Any]:
    """The ExclusiveStartKey in a token this store issued; anything else is a 400 naming `nextToken`."""
    problem = InvalidRequest.of("nextToken", "nextToken is not a token this API issued")
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise problem from exc
    if not isinstance(key, dict) or set(key) != set(_INDEX_KEYS):
        raise problem
    for value in key.values():
        if not isinstance(value, dict) or set(value) != {"S"} or not isinstance(value["S"], str) or not value["S"]:
            raise problem
    if key["gsi1pk"]["S"] != LIST_PARTITION or key["sk"]["S"] != META or not key["pk"]["S"].startswith(SERVER_PREFIX):
        raise problem
    return key
