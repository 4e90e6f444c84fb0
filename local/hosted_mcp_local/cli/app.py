"""The command line: one parser built from the command modules, and how a run ends (exit code, one-line error)."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata

from hosted_mcp_local.cli import api_keys, audit, connections, events, logs, serve, servers, token, wait
from hosted_mcp_local.cli.exits import CliError, Exit, exit_codes_help

COMMAND_GROUPS = (serve, token, servers, wait, logs, events, audit, connections, api_keys)


def version() -> str:
    try:
        return metadata.version("hosted-mcp")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="hosted-mcp",
        description="Host MCP servers: run the platform on this machine and manage the servers it hosts.",
        epilog=exit_codes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    # Options of every command that calls the API, and the exit-code table under each command's own help.
    client = argparse.ArgumentParser(add_help=False)
    client.add_argument("--url", help="base URL of the API (env HOSTED_MCP_URL; default http://127.0.0.1:8765)")
    client.add_argument("--token", help="bearer token or API key (env HOSTED_MCP_TOKEN)")
    client.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)
    for group in COMMAND_GROUPS:
        group.register(commands, client)
    return root


class CommandParser(argparse.ArgumentParser):
    """Every command's help ends with the exit codes."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("epilog", exit_codes_help())
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def run(argv: list[str] | None = None) -> int:
    """Parse, run one command, and turn its outcome into an exit code; failures are one line on stderr."""
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CliError as error:
        print(f"hosted-mcp: {error.message}", file=sys.stderr)
        raise SystemExit(int(error.code)) from None
    except KeyboardInterrupt:
        return int(Exit.OK)
    except BrokenPipeError:
        # The reader went away (`hosted-mcp list | head -1`): stop quietly. Python would still try to flush
        # stdout at exit and complain, so point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(Exit.OK)
