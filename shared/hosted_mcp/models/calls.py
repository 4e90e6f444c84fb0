"""The data-plane audit trail: one entry per `tools/call`, `prompts/get` and `resources/read` through a gateway.

An entry says who called what on which server, when, how it ended and how much it carried; never the arguments
or the result. It is also the gateway's span of the call in the caller's trace (trace id, span id, parent span).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class CallOutcome(StrEnum):
    OK = "ok"  # the server answered with a result
    ERROR = "error"  # the server answered with a JSON-RPC error, or a tool result with isError
    INPUT_REQUIRED = "inputRequired"  # the server asked the client something first (MCP 2026-07-28 MRTR)
    DENIED = "denied"  # refused by the server's tool policy; the server never saw it
    LIMITED = "limited"  # refused by the server's call limits (429); the server never saw it
    FAILED = "failed"  # no answer from the server: unreachable, an HTTP error, or a stream ended without one
    INCOMPLETE = "incomplete"  # the client went away before the answer was complete


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call, as a gateway saw it (a plain dataclass: one is made per call on the data plane's hot path)."""

    id: str
    serverId: str
    at: datetime  # when the gateway received the call (UTC)
    caller: str
    credentialType: str
    method: str
    name: str | None
    outcome: CallOutcome
    durationMs: float
    requestBytes: int
    responseBytes: int
    traceId: str | None = None
    spanId: str | None = None
    parentSpanId: str | None = None

    def to_data(self) -> dict[str, Any]:
        """JSON-ready: the time as ISO 8601 (UTC, microseconds), the outcome as its string."""
        return {
            "id": self.id,
            "serverId": self.serverId,
            "at": self.at.isoformat(timespec="microseconds"),
            "caller": self.caller,
            "credentialType": self.credentialType,
            "method": self.method,
            "name": self.name,
            "outcome": self.outcome.value,
            "durationMs": self.durationMs,
            "requestBytes": self.requestBytes,
            "responseBytes": self.responseBytes,
            "traceId": self.traceId,
            "spanId": self.spanId,
            "parentSpanId": self.parentSpanId,
        }

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CallRecord:
        """From `to_data`'s form; keys it does not know are ignored, optional ones may be missing."""
        return cls(
            id=str(data["id"]),
            serverId=str(data["serverId"]),
            at=datetime.fromisoformat(data["at"]),
            caller=str(data["caller"]),
            credentialType=str(data["credentialType"]),
            method=str(data["method"]),
            name=data.get("name"),
            outcome=CallOutcome(data["outcome"]),
            durationMs=float(data["durationMs"]),
            requestBytes=int(data["requestBytes"]),
            responseBytes=int(data["responseBytes"]),
            traceId=data.get("traceId"),
            spanId=data.get("spanId"),
            parentSpanId=data.get("parentSpanId"),
        )


class CallView(BaseModel):
    """A call in `GET /mcp/{serverId}/audit?kind=call`."""

    model_config = ConfigDict(defer_build=True)

    kind: str = "call"
    id: str
    at: datetime
    caller: str
    credentialType: str
    method: str
    name: str | None
    outcome: CallOutcome
    durationMs: float
    requestBytes: int
    responseBytes: int
    traceId: str | None = None
    spanId: str | None = None
    parentSpanId: str | None = None

    @classmethod
    def of(cls, record: CallRecord) -> CallView:
        data = asdict(record)
        data.pop("serverId")
        return cls(**data)
