"""hosted-mcp-bridge: one stdio MCP server served over MCP's HTTP transports, for the platform's gateway.

`hosted-mcp-bridge --port P --host 127.0.0.1 [--child per-session|shared] -- <command...>`; see docs/bridge.md.
"""
