"""Benchmarks of Hosted MCP, each measured side by side with its baseline in the same run (`python -m bench`)."""
