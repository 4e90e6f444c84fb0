"""`response_id` finds a response's top-level id without parsing the result, or admits it cannot."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hosted_mcp_bridge.jsonrpc import id_value, one_line, response_id

ids = st.one_of(st.integers(-(2**53), 2**53), st.text(max_size=40))
# Results that try hard to confuse a scan: nested "id" keys, quotes, braces and escapes inside strings.
tricky_text = st.text(alphabet='{}[],:"\\ id0123456789abcnrtu\n\t', max_size=60)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), tricky_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.just("id"), tricky_text), inner, max_size=4)
    ),
    max_leaves=12,
)


def layouts(message_id: Any, body: dict[str, Any]) -> list[str]:
    """The same response as SDKs write it: id first (Python, Go, Rust), result first (TypeScript), spaced."""
    return [
        json.dumps({"jsonrpc": "2.0", "id": message_id, **body}, separators=(",", ":")),
        json.dumps({**body, "jsonrpc": "2.0", "id": message_id}, separators=(",", ":")),
        json.dumps({"jsonrpc": "2.0", "id": message_id, **body}, indent=None),
        json.dumps({**body, "id": message_id, "jsonrpc": "2.0"}),
        json.dumps({"id": message_id, "jsonrpc": "2.0", **body}, ensure_ascii=False),
    ]


@given(message_id=ids, value=json_values, failed=st.booleans())
def test_the_id_found_is_the_top_level_id(message_id: Any, value: Any, failed: bool) -> None:
    # Given a response in any of the common layouts, whose result may itself hold "id" keys
    body = {"error": {"code": -1, "message": "m", "data": value}} if failed else {"result": {"id": value, "v": value}}
    for line in layouts(message_id, body):
        raw = line.encode()
        # When the bridge looks for its id
        span = response_id(raw)
        # Then it finds exactly the top-level id (every common layout is recognised)
        assert span is not None, line
        assert id_value(raw[span[0] : span[1]]) == message_id


@given(message_id=ids, value=json_values)
def test_other_layouts_are_left_to_a_full_parse(message_id: Any, value: Any) -> None:
    # Given requests, notifications, and a response whose id sits in the middle
    lines = [
        {"jsonrpc": "2.0", "id": message_id, "method": "sampling/createMessage", "params": {"v": value}},
        {"jsonrpc": "2.0", "method": "notifications/message", "params": {"id": message_id, "data": value}},
        {"result": {"v": value}, "id": message_id, "extra": {"id": 0}, "jsonrpc": "2.0"},
    ]
    for message in lines:
        raw = json.dumps(message).encode()
        span = response_id(raw)
        # Then the bridge does not claim an id it did not see at the top level
        if span is not None:
            assert id_value(raw[span[0] : span[1]]) == message["id"]
            assert "method" not in message


def test_a_json_text_becomes_one_line() -> None:
    # Given pretty-printed JSON (newlines as whitespace) holding an escaped newline in a string
    text = json.dumps({"a": "line\nbreak", "b": [1, 2]}, indent=2).encode()
    # When it is made one line
    line = one_line(text)
    # Then it has no raw newline and means the same
    assert b"\n" not in line
    assert json.loads(line) == {"a": "line\nbreak", "b": [1, 2]}
