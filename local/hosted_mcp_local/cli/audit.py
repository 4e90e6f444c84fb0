"""`hosted-mcp audit`: every status change of a server, who made it and why, oldest first."""

from __future__ import annotations

import argparse
from typing import Any

from hosted_mcp_local.cli.client import Api
from hosted_mcp_local.cli.exits import Exit
from hosted_mcp_local.cli.output import emit_json, print_table


def register(commands: Any, client: argparse.ArgumentParser) -> None:
    audit = commands.add_parser("audit", parents=[client], help="a server's audit trail: each status change")
    audit.add_argument("server", help="id or name")
    audit.set_defaults(run=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> Exit:
    api = Api.of(args)
    server = api.server(args.server)
    entries = api.call("GET", f"/mcp/{server['id']}/audit")["Items"]
    if args.json:
        emit_json(entries)
        return Exit.OK
    rows = [
        [e["at"], e["version"], e["actor"], e.get("fromStatus") or "-", e.get("toStatus") or "Deleted", e["reason"]]
        for e in entries
    ]
    print_table(["AT", "VERSION", "ACTOR", "FROM", "TO", "REASON"], rows)
    return Exit.OK
