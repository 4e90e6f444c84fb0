"""Changes of the servers table: its stream records, and the events the records pipe makes of them.

The table's stream has one reader, an EventBridge pipe that forwards each change of a server record (`sk = META`)
unchanged as the `detail` of a `Server Record Changed` event on the platform's internal record-changes bus; one rule
per reaction (deploy, apply, teardown, publish) wakes its function for exactly its transition. The local runtime
feeds the same reactions from its own change feed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hosted_mcp.adapters.dynamodb import record_from_image
from hosted_mcp.models.domain import StatusChange

RECORD_CHANGES_SOURCE = "hosted-mcp.records"
RECORD_CHANGED = "Server Record Changed"


def status_change(stream_record: Mapping[str, Any]) -> StatusChange | None:
    """The change of a server record in one raw stream record; None for other items (audit entries, name
    guards)."""
    images = stream_record.get("dynamodb") or {}
    old = record_from_image(images.get("OldImage"))
    new = record_from_image(images.get("NewImage"))
    if old is None and new is None:
        return None
    return StatusChange(old=old, new=new)


class ServerRecordChanged(BaseModel):
    """The EventBridge envelope the records pipe puts on the record-changes bus: one stream record as `detail`."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    source: Literal["hosted-mcp.records"]
    detail_type: Literal["Server Record Changed"] = Field(alias="detail-type")
    time: datetime
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any] = Field(description="The DynamoDB stream record, as the pipe read it from the stream.")

    def change(self) -> StatusChange | None:
        return status_change(self.detail)
