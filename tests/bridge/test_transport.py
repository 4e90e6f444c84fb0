"""The HTTP side's own rules, seen with plain HTTP: sessions and their headers, content negotiation, batches,
limits, and the deprecated HTTP+SSE transport's endpoint."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.bridge.support import COMPANION, MODES, PLAIN, RunningBridge, initialize, post, sse_messages

CALL_ECHO = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}}


@pytest.mark.parametrize("mode", MODES)
def test_a_session_lives_from_initialize_to_delete(start_bridge: Callable[..., RunningBridge], mode: str) -> None:
    # Given a bridge and a session opened by initialize
    bridge = start_bridge(mode, command=PLAIN)
    session_id = initialize(bridge)
    # When a call carries the session id, then none, then an unknown one
    answered = post(bridge, CALL_ECHO, session_id)
    without = post(bridge, CALL_ECHO)
    unknown = post(bridge, CALL_ECHO, "0" * 32)
    # Then only the session's call is answered (400 without an id, 404 for an unknown one)
    assert answered.status_code == 200
    assert answered.headers["content-type"] == "text/event-stream"
    assert sse_messages(answered.text)[0]["result"]["content"][0]["text"] == "hi"
    assert (without.status_code, without.json()["error"]["code"]) == (400, -32600)
    assert unknown.status_code == 404
    # And after DELETE the session is gone: 404, the client's cue to start a new one
    deleted = httpx.delete(bridge.url, headers={"mcp-session-id": session_id}, timeout=5)
    assert deleted.status_code == 200
    assert post(bridge, CALL_ECHO, session_id).status_code == 404


@pytest.mark.parametrize("mode", MODES)
def test_a_client_that_accepts_only_json_gets_json(start_bridge: Callable[..., RunningBridge], mode: str) -> None:
    # Given a session
    bridge = start_bridge(mode, command=PLAIN)
    session_id = initialize(bridge)
    # When a call accepts only JSON, or neither JSON nor SSE
    as_json = post(bridge, CALL_ECHO, session_id, accept="application/json")
    refused = post(bridge, CALL_ECHO, session_id, accept="text/html")
    # Then the answer is one JSON body, and the other is 406
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json()["result"]["content"][0]["text"] == "hi"
    assert refused.status_code == 406


def test_notifications_and_bad_bodies(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given a session
    bridge = start_bridge("shared", command=PLAIN)
    session_id = initialize(bridge)
    # When it posts a notification, a body that is not JSON, not JSON-RPC, or not declared as JSON
    notified = post(bridge, {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}, session_id)
    garbled = post(bridge, b"{not json", session_id)
    not_rpc = post(bridge, {"hello": "world"}, session_id)
    as_text = post(bridge, CALL_ECHO, session_id, **{"content-type": "text/plain"})
    odd_token = post(bridge, {**CALL_ECHO, "params": {"name": "echo", "_meta": {"progressToken": {}}}}, session_id)
    # Then: 202 with no body; 400 Parse error; 400 Invalid Request; 415; and an error answer for the token
    assert (notified.status_code, notified.content) == (202, b"")
    assert (garbled.status_code, garbled.json()["error"]["code"]) == (400, -32700)
    assert (not_rpc.status_code, not_rpc.json()["error"]["code"]) == (400, -32600)
    assert as_text.status_code == 415
    assert sse_messages(odd_token.text)[0]["error"]["code"] == -32602


def test_the_protocol_version_header_names_a_revision_the_bridge_speaks(
    start_bridge: Callable[..., RunningBridge],
) -> None:
    # Given a session of 2025-06-18
    bridge = start_bridge("per-session", command=PLAIN)
    session_id = initialize(bridge, "2025-06-18")
    # When calls carry the negotiated version, none, or one the bridge does not speak
    negotiated = post(bridge, CALL_ECHO, session_id, **{"mcp-protocol-version": "2025-06-18"})
    absent = post(bridge, CALL_ECHO, session_id)
    unknown = post(bridge, CALL_ECHO, session_id, **{"mcp-protocol-version": "1999-01-01"})
    # Then the first two are answered and the last is 400
    assert (negotiated.status_code, absent.status_code) == (200, 200)
    assert unknown.status_code == 400
    assert "unsupported MCP-Protocol-Version" in unknown.json()["error"]["message"]


def test_batches_belong_to_2025_03_26(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given a session of 2025-03-26 and one of 2025-06-18 (per-session children: each negotiates its own)
    bridge = start_bridge("per-session", command=PLAIN)
    old, new = initialize(bridge, "2025-03-26"), initialize(bridge, "2025-06-18")
    batch = [
        {**CALL_ECHO, "id": "a", "params": {"name": "echo", "arguments": {"text": "one"}}},
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
        {**CALL_ECHO, "id": "b", "params": {"name": "echo", "arguments": {"text": "two"}}},
    ]
    # When each posts a batch of two requests and a notification
    answered = post(bridge, batch, old, **{"mcp-protocol-version": "2025-03-26"})
    as_json = post(bridge, batch, old, accept="application/json", **{"mcp-protocol-version": "2025-03-26"})
    refused = post(bridge, batch, new)
    # Then the old session gets both answers (as a JSON array when it accepts only JSON); the new one gets 400
    texts = {m["id"]: m["result"]["content"][0]["text"] for m in sse_messages(answered.text)}
    assert texts == {"a": "one", "b": "two"}
    assert sorted(m["id"] for m in as_json.json()) == ["a", "b"]
    assert refused.status_code == 400


def test_shared_mode_tells_every_session_the_version_its_child_speaks(
    start_bridge: Callable[..., RunningBridge],
) -> None:
    # Given a shared child, which the bridge initialized with the newest revision (and which accepted it)
    bridge = start_bridge("shared", command=PLAIN)
    params = {"capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    answers = {}
    for version in ("2025-11-25", "2025-03-26"):
        # When clients ask for that revision and for an older one
        body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {**params, "protocolVersion": version}}
        answers[version] = sse_messages(post(bridge, body).text)[0]["result"]
    # Then both are told the revision the child negotiated: the only one the bridge knows it speaks (a client
    # that cannot speak it ends the session, as the protocol provides)
    assert answers["2025-11-25"]["protocolVersion"] == "2025-11-25"
    assert answers["2025-03-26"]["protocolVersion"] == "2025-11-25"
    # And the rest is the child's own answer
    assert answers["2025-03-26"]["serverInfo"] == {"name": "plain", "version": "1"}


def test_request_and_line_sizes_are_bounded(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given a bridge whose message limit is 64 KiB
    bridge = start_bridge("shared", command=COMPANION, options=["--max-message-bytes", "65536"])
    session_id = initialize(bridge)
    call = {**CALL_ECHO, "params": {"name": "big", "arguments": {"size": 200_000}}}
    # When a client posts a larger body, and a tool answers with a larger line
    too_big = post(bridge, {**CALL_ECHO, "params": {"name": "echo", "arguments": {"text": "x" * 70_000}}}, session_id)
    skipped = post(bridge, call, session_id)
    after = post(bridge, {**CALL_ECHO, "id": 2}, session_id)
    # Then the body is refused with 413, the answer is replaced by an error saying why, and the bridge carries on
    assert too_big.status_code == 413
    assert "larger than the bridge's line limit" in sse_messages(skipped.text)[0]["error"]["message"]
    assert sse_messages(after.text)[0]["result"]["content"][0]["text"] == "hi"


def test_a_request_with_2026_meta_passes_untouched(start_bridge: Callable[..., RunningBridge]) -> None:
    # Given a shared child (which rewrites progress tokens) and a request whose _meta also carries 2026 keys
    bridge = start_bridge("shared", command=COMPANION)
    session_id = initialize(bridge)
    meta = {
        "progressToken": "tok-1",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "io.modelcontextprotocol/clientInfo": {"name": "modern", "version": "1"},
    }
    call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "count", "arguments": {"steps": 2}}}
    call["params"]["_meta"] = meta  # type: ignore[index]
    # When it is called
    answer = post(bridge, call, session_id)
    messages = sse_messages(answer.text)
    # Then progress carries the client's own token, and the answer its own id
    assert [m["params"]["progressToken"] for m in messages[:-1]] == ["tok-1", "tok-1"]
    assert messages[-1]["id"] == 9
    assert messages[-1]["result"]["content"][0]["text"] == "counted 2"


@pytest.mark.parametrize("mode", MODES)
def test_the_sse_endpoint_is_announced_relative_to_the_stream(
    start_bridge: Callable[..., RunningBridge], mode: str
) -> None:
    # Given a bridge
    bridge = start_bridge(mode, command=PLAIN)
    # When a client opens the HTTP+SSE stream
    with httpx.stream("GET", f"{bridge.base}/sse", timeout=5) as stream:
        lines = stream.iter_lines()
        first = [next(lines), next(lines)]
        # Then the first event names the message endpoint relative to /sse, so it resolves under any prefix
        assert first[0] == "event: endpoint"
        assert first[1].startswith("data: messages/?session_id=")
        session_id = first[1].split("=", 1)[1]
        # And a POST there is accepted, while one for another session is not
        endpoint = f"{bridge.base}/messages/?session_id={session_id}"
        params = {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
        init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
        assert httpx.post(endpoint, json=init, timeout=5).status_code == 202
        assert httpx.post(f"{bridge.base}/messages/?session_id=nope", json=init, timeout=5).status_code == 404
