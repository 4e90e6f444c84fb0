"""A tiny stdio MCP server the browser tests host: one tool that echoes its input."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("echo")


@server.tool()
def echo(text: str) -> str:
    """Return the text it was given."""
    return text


if __name__ == "__main__":
    server.run()
