"""The one-machine runtime of Hosted MCP: embedded store, change-feed pump, supervisor, gateway, CLI."""
