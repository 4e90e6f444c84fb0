"""Status events on an EventBridge custom bus (schema: docs/events.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hosted_mcp.models.events import ServerEvent
from hosted_mcp.ports import StatusEvents


class EventPublishFailed(RuntimeError):
    """EventBridge refused the entry; raised so the stream record is retried (and lands in the DLQ at the end)."""


def put_events_entry(event: ServerEvent, bus_name: str) -> dict[str, Any]:
    """The PutEvents entry for one event (a status change, a restart): `Source`/`DetailType` from the envelope,
    the typed detail as JSON (with the correlation id inside, so subscribers can deduplicate)."""
    detail = event.detail.model_dump(mode="json") | {"correlationId": event.correlationId}
    return {
        "EventBusName": bus_name,
        "Source": event.source,
        "DetailType": event.detailType,
        "Resources": [],
        "Time": event.detail.at,
        "Detail": _json(detail),
    }


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


class EventBridgeStatusEvents(StatusEvents):
    def __init__(self, events_client: Any, bus_name: str) -> None:
        self._events = events_client
        self._bus = bus_name

    def publish(self, event: ServerEvent) -> None:
        response = self._events.put_events(Entries=[put_events_entry(event, self._bus)])
        if response.get("FailedEntryCount"):
            failure = response["Entries"][0]
            raise EventPublishFailed(f"{failure.get('ErrorCode')}: {failure.get('ErrorMessage')}")


class ScheduledTick(BaseModel):
    """An EventBridge schedule's event (what wakes the reconciler)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    time: datetime
    resources: list[str] = Field(default_factory=list)
