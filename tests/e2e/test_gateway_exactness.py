"""The gateway's per-request caches never outlive a change: the very next request sees a stop or a deletion."""

from __future__ import annotations

import httpx

from tests.e2e.platform import LocalPlatform, call_tool, stdio_greeter

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def test_the_request_right_after_a_stop_is_refused_although_the_record_was_cached(platform: LocalPlatform) -> None:
    # Given a running server the gateway has just served (its record and the caller's token are cached)
    record = platform.wait(platform.create(stdio_greeter("Exact"))["id"])
    assert record is not None
    token = platform.token("ada")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    assert call_tool(record["url"], token, "greet", {"name": "first"}) == "Hello, first!"
    assert httpx.post(record["url"], json=INITIALIZE, headers=headers).status_code == 200

    # When an admin stops it, and the very next request arrives as soon as the API answered
    with platform.admin() as api:
        assert api.put(f"/mcp/{record['id']}", json={"enabled": False}).status_code == 200
    refused = httpx.post(record["url"], json=INITIALIZE, headers=headers)

    # Then that request is refused as not in service, without waiting for the change feed or the processes
    assert refused.status_code == 503
    assert refused.json()["code"] == "NotInService"

    # And once it is deleted, no request reaches it: 503 while it is being deleted, 403 once its name is gone
    platform.wait(record["id"], "Stopped")
    with platform.admin() as api:
        assert api.delete(f"/mcp/{record['id']}").status_code in (200, 202)
    gone = httpx.post(record["url"], json=INITIALIZE, headers=headers)
    assert gone.status_code in (403, 503)
