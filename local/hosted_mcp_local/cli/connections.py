"""`hosted-mcp connections`: the InService servers the caller may use (anyone authenticated, not only admins)."""

from __future__ import annotations

import argparse
from typing import Any

from hosted_mcp_local.cli.client import Api
from hosted_mcp_local.cli.exits import Exit
from hosted_mcp_local.cli.output import emit_json, print_table


def register(commands: Any, client: argparse.ArgumentParser) -> None:
    connections = commands.add_parser(
        "connections", parents=[client], help="the servers you may use, with their URLs (any user)"
    )
    connections.set_defaults(run=cmd_connections)


def print_connections(args: argparse.Namespace, api: Api) -> None:
    # placeholder=true: the records keep {LISA_BEARER_TOKEN} rather than the caller's own token, which a terminal
    # or a log has no use for.
    items = api.call("GET", "/connections", params={"placeholder": "true"})["Items"]
    if args.json:
        emit_json(items)
        return
    rows = [[c["name"], c["serverType"], c["status"], ",".join(c["groups"]), c.get("url") or ""] for c in items]
    print_table(["NAME", "TYPE", "STATUS", "GROUPS", "URL"], rows)


def cmd_connections(args: argparse.Namespace) -> Exit:
    print_connections(args, Api.of(args))
    return Exit.OK
