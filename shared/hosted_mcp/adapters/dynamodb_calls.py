"""The data-plane audit trail on DynamoDB: a table of its own, on demand, written in batches, read newest first.

Why this store (and not the servers table, or Firehose to S3):

- It must take 1,000 calls/s without throttling. One DynamoDB partition takes at most 1,000 write units per second,
  and a busy server's calls would all land on one key; so each server's calls are spread over `SHARDS` keys
  (`CALLS#<serverId>#<n>`, n from the call id), which gives one server 10x that ceiling and the table's on-demand
  capacity the rest (a new on-demand table serves 4,000 writes/s at once and grows with the traffic).
- The management API reads a server's latest calls (`GET /mcp/{id}/audit?kind=call`): a query per shard, merged,
  in milliseconds. Firehose to S3 costs less per call (about $0.15 per million, records billed in 5 KB steps) but
  is read through Athena in seconds, not by an API page.
- It is its own table, without a stream: calls never wake the reactions that read the servers table's stream.

Items: `pk` = `CALLS#<serverId>#<shard>`, `sk` = `<at ISO 8601>#<id>` (sorted by time, unique), the call's fields,
and `expiresAt` (epoch seconds; the table's TTL attribute) for retention. One item is about 350 bytes, one write
unit: $0.625 per million calls on demand in us-east-1, plus storage ($0.25 per GB-month: about $0.09 per million
calls kept a month). Deleting by TTL is free.
"""

from __future__ import annotations

import base64
import binascii
import time
import zlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from hosted_mcp.adapters.dynamodb import deserialize, serialize
from hosted_mcp.errors import InvalidRequest
from hosted_mcp.models.calls import CallRecord
from hosted_mcp.ports import CallAudit, CallPage

PREFIX = "CALLS#"
SHARDS = 10
BATCH = 25  # BatchWriteItem's limit
RETRIES = 6


def shard_of(call_id: str) -> int:
    return zlib.crc32(call_id.encode()) % SHARDS


def sort_key(call: CallRecord) -> str:
    return f"{call.at.isoformat()}#{call.id}"


def call_item(call: CallRecord, retention: timedelta) -> dict[str, Any]:
    """The item (AttributeValue map) a call is stored as."""
    data = {k: v for k, v in call.to_data().items() if v is not None}
    expires = int((call.at + retention).timestamp())
    return serialize(
        {**data, "pk": f"{PREFIX}{call.serverId}#{shard_of(call.id)}", "sk": sort_key(call), "expiresAt": expires}
    )


class DynamoDbCallAudit(CallAudit):
    def __init__(
        self, client: Any, table_name: str, *, retention: timedelta = timedelta(days=30), sleep: Any = time.sleep
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention
        self._sleep = sleep

    def record(self, calls: Sequence[CallRecord]) -> None:
        for start in range(0, len(calls), BATCH):
            requests = [{"PutRequest": {"Item": self._item(call)}} for call in calls[start : start + BATCH]]
            self._write(requests)

    def _item(self, call: CallRecord) -> dict[str, Any]:
        return call_item(call, self._retention)

    def _write(self, requests: list[dict[str, Any]]) -> None:
        """One batch, with what DynamoDB leaves unprocessed (throttled) retried with backoff."""
        pending = {self._table: requests}
        for attempt in range(RETRIES):
            answer = self._client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                return
            self._sleep(min(2.0, 0.05 * 2**attempt))
        raise RuntimeError(f"{sum(len(v) for v in pending.values())} audit entries left unwritten after retries")

    def calls(self, server_id: str, limit: int, next_token: str | None = None) -> CallPage:
        before = _decode(next_token) if next_token else "\uffff"
        found: list[dict[str, Any]] = []
        for shard in range(SHARDS):
            answer = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND sk < :before",
                ExpressionAttributeValues=serialize({":pk": f"{PREFIX}{server_id}#{shard}", ":before": before}),
                ScanIndexForward=False,
                Limit=limit + 1,  # one more than a page tells whether another page exists
            )
            found.extend(deserialize(item) for item in answer.get("Items", []))
        found.sort(key=lambda item: item["sk"], reverse=True)
        page = found[:limit]
        token = _encode(page[-1]["sk"]) if len(found) > limit else None
        return CallPage(records=[CallRecord.from_data(item) for item in page], next_token=token)


def _encode(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode()


def _decode(token: str) -> str:
    try:
        sk = base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (ValueError, UnicodeError, binascii.Error) as error:
        raise InvalidRequest.of("nextToken", "nextToken is not a token this API issued") from error
    if "#" not in sk:
        raise InvalidRequest.of("nextToken", "nextToken is not a token this API issued")
    return sk
