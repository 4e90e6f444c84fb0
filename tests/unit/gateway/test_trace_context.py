"""W3C trace context through the gateway: the caller's trace continued with the gateway's own span."""

from __future__ import annotations

import json

import pytest

from hosted_mcp_gateway.trace_context import hand_on, parse, start_span

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
HEADER = f"00-{TRACE}-{CLIENT_SPAN}-01"
META_SPAN = "a1b2c3d4e5f60718"


def test_a_header_trace_is_continued_with_the_gateways_span() -> None:
    # Given a request carrying the caller's trace in its header
    headers = {"traceparent": HEADER, "tracestate": "vendor=1"}
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}'

    # When the gateway starts its span and hands it on
    span = start_span(headers, json.loads(body))
    forwarded = hand_on(span, headers, json.loads(body), body)

    # Then the server sees the same trace with the gateway's span as parent; tracestate and the body are untouched
    assert (span.trace_id, span.parent_id) == (TRACE, CLIENT_SPAN)
    assert span.span_id != CLIENT_SPAN
    assert headers["traceparent"] == f"00-{TRACE}-{span.span_id}-01"
    assert headers["tracestate"] == "vendor=1"
    assert forwarded == body


def test_a_trace_in_meta_wins_and_is_rewritten_in_the_body_without_reparsing() -> None:
    # Given a 2026-07-28 request with trace context in `_meta` (and another one in the header)
    meta_value = f"00-{TRACE}-{META_SPAN}-00"
    message = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "x", "arguments": {"note": "traceparent"}, "_meta": {"traceparent": meta_value}},
    }
    body = json.dumps(message).encode()
    headers = {"traceparent": HEADER}

    # When the gateway hands its span on
    span = start_span(headers, message)
    forwarded = hand_on(span, headers, message, body)

    # Then `_meta`'s span is the parent, and the body and the parsed message both carry the gateway's span
    assert (span.parent_id, span.flags) == (META_SPAN, "00")
    assert forwarded is not None
    assert len(forwarded) == len(body)
    assert json.loads(forwarded)["params"]["_meta"]["traceparent"] == span.traceparent
    assert json.loads(forwarded)["params"]["arguments"] == {"note": "traceparent"}
    assert message["params"]["_meta"]["traceparent"] == span.traceparent
    assert headers["traceparent"] == span.traceparent


@pytest.mark.parametrize(
    "value",
    [
        None,
        "garbage",
        f"ff-{TRACE}-{CLIENT_SPAN}-01",
        f"00-{'0' * 32}-{CLIENT_SPAN}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE}-{CLIENT_SPAN}-01-extra",
    ],
)
def test_without_a_valid_trace_the_gateway_starts_one(value: str | None) -> None:
    headers = {"traceparent": value} if value else {}
    span = start_span(headers, None)
    assert span.parent_id is None
    assert parse(span.traceparent) == (span.trace_id, span.span_id, "01")


def test_a_later_version_with_more_fields_is_understood() -> None:
    assert parse(f"01-{TRACE}-{CLIENT_SPAN}-01-future") == (TRACE, CLIENT_SPAN, "01")
