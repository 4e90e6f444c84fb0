"""Answers on their way back: how a call ended, lists cut to the caller's grant, events kept whole and exact."""

from __future__ import annotations

import json

import pytest

from hosted_mcp.auth.tool_access import grant_for
from hosted_mcp.models.call_rules import ToolPolicy
from hosted_mcp.models.calls import CallOutcome
from hosted_mcp_gateway.answers import EventSplitter, event_message, filtered, outcome_of, rewritten_event

GRANT = grant_for(ToolPolicy.model_validate({"*": {"tools": ["echo"], "prompts": [], "resources": ["a://*"]}}), [])


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        ({"jsonrpc": "2.0", "id": 1, "result": {"content": []}}, CallOutcome.OK),
        ({"jsonrpc": "2.0", "id": 1, "result": {"content": [], "isError": True}}, CallOutcome.ERROR),
        ({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "no"}}, CallOutcome.ERROR),
        ({"jsonrpc": "2.0", "id": 1, "result": {"resultType": "input_required"}}, CallOutcome.INPUT_REQUIRED),
    ],
)
def test_how_a_call_ended(message: dict, outcome: CallOutcome) -> None:
    assert outcome_of(message) is outcome


def test_a_list_keeps_only_what_the_grant_allows_and_everything_else_as_it_was() -> None:
    tools = {"jsonrpc": "2.0", "id": 3, "result": {"tools": [{"name": "echo"}, {"name": "rm"}], "nextCursor": "c"}}
    assert filtered(tools, GRANT, "tools") == {
        "jsonrpc": "2.0",
        "id": 3,
        "result": {"tools": [{"name": "echo"}], "nextCursor": "c"},
    }
    resources = {"jsonrpc": "2.0", "id": 4, "result": {"resources": [{"uri": "a://1"}, {"uri": "b://1"}]}}
    assert filtered(resources, GRANT) == {"jsonrpc": "2.0", "id": 4, "result": {"resources": [{"uri": "a://1"}]}}


def test_what_needs_no_cut_is_not_touched() -> None:
    assert filtered({"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": "echo"}]}}, GRANT) is None
    assert filtered({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}, GRANT) is None
    # a call's result is no list, whatever members it has
    call = {"jsonrpc": "2.0", "id": 1, "result": {"content": [], "prompts": [{"name": "x"}]}}
    assert filtered(call, GRANT) is None


def test_events_come_out_whole_whatever_the_chunks_and_line_endings() -> None:
    stream = b'id: 1\r\nevent: message\r\ndata: {"a":1}\r\n\r\n: keep-alive\n\ndata: {"b":\ndata: 2}\r\r'
    splitter = EventSplitter()
    events = [event for i in range(len(stream)) for event in splitter.feed(stream[i : i + 1])]
    events.append(splitter.rest())  # a CR at the very end may be half a CRLF: the last event waits for the end
    assert b"".join(events) == stream
    assert [event_message(e) for e in events] == [{"a": 1}, None, {"b": 2}]


def test_a_rewritten_event_keeps_its_id_and_other_lines() -> None:
    event = b'id: 42\nevent: message\ndata: {"old":true}\nretry: 500\n\n'
    rewritten = rewritten_event(event, {"new": True})
    assert rewritten == b'id: 42\nevent: message\ndata: {"new":true}\nretry: 500\n\n'
    assert json.loads(rewritten.split(b"data: ")[1].split(b"\n")[0]) == {"new": True}


def test_a_large_event_in_small_chunks_is_found_once_whole() -> None:
    # Given one event of several megabytes arriving in 64 KB chunks, then a small one
    big = b"data: " + b"x" * (4 << 20) + b"\r\n\r\n"
    stream = big + b"data: {}\n\n"
    splitter = EventSplitter(limit=8 << 20)

    # When it is fed chunk by chunk
    events = [event for i in range(0, len(stream), 1 << 16) for event in splitter.feed(stream[i : i + (1 << 16)])]

    # Then both events come out whole and exactly
    assert events == [big, b"data: {}\n\n"]


@pytest.mark.parametrize(
    ("line_end", "blank"), [(b"\n", b"\n"), (b"\r\n", b"\r\n"), (b"\r", b"\r"), (b"\r\n", b"\n"), (b"\n", b"\r\n")]
)
def test_an_empty_line_ends_an_event_whatever_the_line_endings(line_end: bytes, blank: bytes) -> None:
    # Given an event whose lines end one way, fed without its empty line
    splitter = EventSplitter()
    event = b"data: a" + line_end + b"id: 1" + line_end
    assert splitter.feed(event) == []

    # When the empty line arrives, the event is complete, exactly as it came
    assert splitter.feed(blank + b"data: b") == [event + blank]
    assert splitter.rest() == b"data: b"
