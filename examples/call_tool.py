"""Call one tool of a hosted server through the gateway with the official MCP Python SDK.

    python examples/call_tool.py URL TOOL [NAME=VALUE ...]

URL is the server's `url` (streamable HTTP, `/mcp/{name}/mcp`) or `sseUrl` (`/mcp/{name}/sse`); the bearer token
comes from HOSTED_MCP_TOKEN. Arguments are strings.
"""

from __future__ import annotations

import asyncio
import os
import sys

import httpx2
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client


async def call(url: str, tool: str, arguments: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {os.environ['HOSTED_MCP_TOKEN']}"}
    if url.rstrip("/").endswith("/sse"):
        async with sse_client(url, headers=headers) as (read, write), ClientSession(read, write) as session:
            await show(session, tool, arguments)
        return
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await show(session, tool, arguments)


async def show(session: ClientSession, tool: str, arguments: dict[str, str]) -> None:
    await session.initialize()
    tools = await session.list_tools()
    print("tools:", ", ".join(t.name for t in tools.tools))
    result = await session.call_tool(tool, arguments)
    for content in result.content:
        print(getattr(content, "text", content))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    pairs = dict(arg.split("=", 1) for arg in sys.argv[3:])
    asyncio.run(call(sys.argv[1], sys.argv[2], pairs))
