"""A small HTTP MCP server: listens on 127.0.0.1:$PORT (the platform sets PORT), at /mcp (streamable HTTP), or at
/sse + /messages/ when MCP_TRANSPORT=sse (create it with serverType "sse" then).

`caller` shows what the gateway tells a server about who is calling: the X-Hosted-Mcp-* identity headers, and
whether the caller's own token came through (only when the server opts in with `forwardCallerToken`).
"""

import json
import os

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("greeter-http")


@server.tool()
def greet(name: str) -> str:
    """Greet someone with the configured greeting."""
    return f"{os.environ.get('GREETING', 'Hello')}, {name}!"


@server.tool()
def whoami() -> str:
    """Which replica and process answered."""
    return f"replica={os.environ.get('HOSTED_MCP_REPLICA', '?')} pid={os.getpid()}"


@server.tool()
def caller(ctx: Context) -> str:
    """Who the gateway says is calling."""
    headers = {k.lower(): v for k, v in (ctx.headers or {}).items()}
    return json.dumps(
        {
            "user": headers.get("x-hosted-mcp-user"),
            "groups": json.loads(headers.get("x-hosted-mcp-groups") or "[]"),
            "credentialType": headers.get("x-hosted-mcp-credential-type"),
            "receivedToken": "authorization" in headers,
        }
    )


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    if os.environ.get("MCP_TRANSPORT") == "sse":
        server.run("sse", host="127.0.0.1", port=port)
    else:
        server.run("streamable-http", host="127.0.0.1", port=port)
