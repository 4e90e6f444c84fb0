"""A small stdio MCP server: the platform runs it behind mcp-proxy.

Tools: `greet` (uses the GREETING environment variable, so an environment update is visible), `echo`, and
`whoami` (which replica answered: the platform sets HOSTED_MCP_REPLICA for each one). STARTUP_DELAY (seconds)
makes it slow to start, to watch a server in `Creating`.
"""

import os
import time

from mcp.server.mcpserver import MCPServer

server = MCPServer("greeter-stdio")


@server.tool()
def greet(name: str) -> str:
    """Greet someone with the configured greeting."""
    return f"{os.environ.get('GREETING', 'Hello')}, {name}!"


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def whoami() -> str:
    """Which replica and process answered."""
    return f"replica={os.environ.get('HOSTED_MCP_REPLICA', '?')} pid={os.getpid()}"


if __name__ == "__main__":
    time.sleep(float(os.environ.get("STARTUP_DELAY", "0")))
    server.run()
