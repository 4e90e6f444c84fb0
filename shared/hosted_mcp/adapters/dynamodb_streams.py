"""DynamoDB stream records of the servers table as the changes the reactions understand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hosted_mcp.adapters.dynamodb import record_from_image
from hosted_mcp.models.domain import StatusChange


def status_change(stream_record: Mapping[str, Any]) -> StatusChange | None:
    """The change of a server record in one raw stream record (`Records[i]` of the Lambda event); None for other
    items (audit entries, name guards)."""
    images = stream_record.get("dynamodb") or {}
    old = record_from_image(images.get("OldImage"))
    new = record_from_image(images.get("NewImage"))
    if old is None and new is None:
        return None
    return StatusChange(old=old, new=new)
