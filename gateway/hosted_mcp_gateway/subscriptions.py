"""`subscriptions/listen` (MCP 2026-07-28) over a 2025 server: a session of its own and its standalone stream.

The 2025 revisions deliver change notifications on a session's standalone stream (GET) and resource updates after
`resources/subscribe`. For a listen request the gateway opens a session just for it, opens its stream before
subscribing (so no update is missed), subscribes the resources asked for, acknowledges what the server can honour
(`notifications/subscriptions/acknowledged`), then relays the matching notifications, each tagged with the
subscription id, until the client closes the stream; the session ends with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from starlette.types import Receive, Send

from hosted_mcp_gateway import jsonrpc
from hosted_mcp_gateway.asgi import SSE_HEADERS, disconnected, quietly
from hosted_mcp_gateway.forwarder import UpstreamPool
from hosted_mcp_gateway.upstream import Exchange, UpstreamSession, open_session

SUBSCRIPTION_META = "io.modelcontextprotocol/subscriptionId"
CLIENT_INFO_META = "io.modelcontextprotocol/clientInfo"
LIST_CHANGED = {
    "notifications/tools/list_changed": "toolsListChanged",
    "notifications/prompts/list_changed": "promptsListChanged",
    "notifications/resources/list_changed": "resourcesListChanged",
}
CAPABILITY_OF_FILTER = {
    "toolsListChanged": "tools",
    "promptsListChanged": "prompts",
    "resourcesListChanged": "resources",
}


async def listen(pool: UpstreamPool, call: Any, receive: Receive, send: Send) -> None:
    """Serve one listen request (`call`: an `eras.Call`) until the client leaves."""
    params = call.message.get("params")
    wanted = (params.get("notifications") if isinstance(params, dict) else None) or {}
    session, _ = await open_session(
        pool,
        call.replica,
        call.path,
        call.identity,
        transport=call.transport,
        client_info=call.meta.get(CLIENT_INFO_META),
    )
    try:
        own = await session.listen(pool)
        agreed = await subscribe(pool, session, wanted)
        sub_id = call.message["id"]
        ack = {
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {"_meta": {SUBSCRIPTION_META: sub_id}, "notifications": agreed},
        }
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        await send({"type": "http.response.body", "body": jsonrpc.sse_event(ack), "more_body": True})
        relay = asyncio.ensure_future(relay_changes(own, agreed, sub_id, send))
        watcher = asyncio.ensure_future(disconnected(receive))
        await asyncio.wait({relay, watcher}, return_when=asyncio.FIRST_COMPLETED)
        for task in (relay, watcher):
            task.cancel()
        own.abort()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        await quietly(session.close(pool))


async def subscribe(pool: UpstreamPool, session: UpstreamSession, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """What of `wanted` the server can honour, with its resource subscriptions made."""
    agreed: dict[str, Any] = {
        name: True
        for name, capability in CAPABILITY_OF_FILTER.items()
        if wanted.get(name) and (session.capabilities.get(capability) or {}).get("listChanged")
    }
    uris = wanted.get("resourceSubscriptions") or []
    if uris and (session.capabilities.get("resources") or {}).get("subscribe"):
        for uri in uris:
            request = {
                "jsonrpc": "2.0",
                "id": session.next_id(),
                "method": "resources/subscribe",
                "params": {"uri": uri},
            }
            await session.send(pool, request)
        agreed["resourceSubscriptions"] = list(uris)
    return agreed


async def relay_changes(own: Exchange, agreed: Mapping[str, Any], sub_id: Any, send: Send) -> None:
    uris = set(agreed.get("resourceSubscriptions") or [])
    async for message in own.messages():
        method = message.get("method")
        wanted = (method in LIST_CHANGED and agreed.get(LIST_CHANGED[method])) or (
            method == "notifications/resources/updated" and (message.get("params") or {}).get("uri") in uris
        )
        if not wanted or not jsonrpc.is_notification(message):
            continue
        params = dict(message.get("params") or {})
        params["_meta"] = {**(params.get("_meta") or {}), SUBSCRIPTION_META: sub_id}
        event = {"jsonrpc": "2.0", "method": method, "params": params}
        await send({"type": "http.response.body", "body": jsonrpc.sse_event(event), "more_body": True})
