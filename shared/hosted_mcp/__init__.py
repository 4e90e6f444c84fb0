"""Hosted MCP: the domain package shared by every Lambda function and the one-machine runtime."""
