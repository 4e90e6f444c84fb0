"""`hosted-mcp`: run the platform on this machine, mint local tokens, and manage hosted servers.

One module per command group (`servers`, `wait`, `logs`, `events`, `audit`, `connections`, `api_keys`, `token`,
`serve`), each registering its commands on the parser `app` builds; the exit codes in `exits`, one table that the
help renders.
"""

from __future__ import annotations

from hosted_mcp_local.cli.app import run
from hosted_mcp_local.cli.exits import CliError, Exit

__all__ = ["CliError", "Exit", "main"]


def main(argv: list[str] | None = None) -> int:
    return run(argv)
