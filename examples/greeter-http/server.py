"""A small streamable-HTTP MCP server: listens on 127.0.0.1:$PORT at /mcp (the platform sets PORT)."""

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("greeter-http")


@server.tool()
def greet(name: str) -> str:
    """Greet someone with the configured greeting."""
    return f"{os.environ.get('GREETING', 'Hello')}, {name}!"


@server.tool()
def whoami() -> str:
    """Which replica and process answered."""
    return f"replica={os.environ.get('HOSTED_MCP_REPLICA', '?')} pid={os.getpid()}"


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
