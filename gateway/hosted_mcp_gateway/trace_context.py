"""Rule: the caller's trace continues through the gateway, which adds its own span and hands that to the server.

W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent` is `00-<trace id>-<parent id>-<flags>`.
A request may carry it as that header or, in MCP 2026-07-28, as `params._meta.traceparent`; the body's wins when
both are there (it is the one the message itself carries). For a call the gateway records (its audit entry is the
gateway's span: trace id, its own span id, the caller's span as parent, start and duration), the server receives
the same trace id with the gateway's span id as parent, in the header and, where the request had it, in `_meta`.
Without a valid incoming context the gateway starts a trace. `tracestate` passes unchanged.

The body is rewritten without parsing it again: the new value has the length of the old one, and it replaces the
one `"traceparent": "<old>"` member (a body where that member is not found exactly once is left as it is).
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$")
ZERO_TRACE, ZERO_SPAN = "0" * 32, "0" * 16
META_KEY = "traceparent"
# Trace and span ids must be unique, not secret: a generator seeded once costs no system call per id.
_IDS = random.Random(os.urandom(32))  # noqa: S311


def random_hex(bits: int) -> str:
    return f"{_IDS.getrandbits(bits):0{bits // 4}x}"


@dataclass(frozen=True)
class Span:
    """The gateway's span of one call: in the caller's trace (or a new one), with the caller's span as parent."""

    trace_id: str
    span_id: str
    parent_id: str | None
    flags: str
    incoming: str | None  # the traceparent the request carried in `_meta`, if any (to rewrite the body)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def parse(value: Any) -> tuple[str, str, str] | None:
    """(trace id, parent id, flags) of a valid traceparent, else None."""
    if not isinstance(value, str):
        return None
    match = TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    version, trace_id, parent_id, flags = match.groups()
    if version == "ff" or trace_id == ZERO_TRACE or parent_id == ZERO_SPAN or (version == "00" and len(value) != 55):
        return None
    return trace_id, parent_id, flags


def start_span(headers: Mapping[str, str], message: Mapping[str, Any] | None) -> Span:
    """The gateway's span for a request, continuing the trace it carries (its `_meta`, else its header)."""
    meta_value = _meta_traceparent(message)
    in_meta = parse(meta_value)
    found = in_meta or parse(headers.get("traceparent"))
    if found is None:
        return Span(random_hex(128), _span_id(), None, "01", None)
    trace_id, parent_id, flags = found
    return Span(trace_id, _span_id(), parent_id, flags, meta_value if in_meta else None)


def _span_id() -> str:
    span = random_hex(64)
    return span if span != ZERO_SPAN else _span_id()


def hand_on(span: Span, headers: MutableMapping[str, str], message: Any, body: bytes | None) -> bytes | None:
    """Give the server the gateway's span: the `traceparent` header, and `_meta.traceparent` where the request had
    it (in the parsed message, which the era bridge forwards, and in the body bytes, which the relay forwards)."""
    value = span.traceparent
    headers["traceparent"] = value
    if span.incoming is None:
        return body
    meta = message.get("params", {}).get("_meta") if isinstance(message, dict) else None
    if isinstance(meta, dict):
        meta[META_KEY] = value
    if body is None:
        return None
    member = re.compile(rb'"traceparent"\s*:\s*"' + re.escape(span.incoming.encode()) + rb'"')
    found = member.findall(body)
    if len(found) != 1:
        return body
    return body.replace(found[0], found[0].replace(span.incoming.encode(), value.encode()), 1)


def _meta_traceparent(message: Mapping[str, Any] | None) -> Any:
    params = message.get("params") if message is not None else None
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    return meta.get(META_KEY) if isinstance(meta, Mapping) else None
