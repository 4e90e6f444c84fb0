"""`hosted-mcp audit`: a server's status changes (who made each and why), or its data-plane calls."""

from __future__ import annotations

import argparse
from typing import Any

from hosted_mcp_local.cli.client import Api
from hosted_mcp_local.cli.exits import Exit
from hosted_mcp_local.cli.output import emit_json, print_table


def register(commands: Any, client: argparse.ArgumentParser) -> None:
    audit = commands.add_parser(
        "audit", parents=[client], help="a server's audit trail: status changes, or its data-plane calls"
    )
    audit.add_argument("server", help="id or name")
    audit.add_argument("--kind", choices=["status", "call"], default="status", help="default: status changes")
    audit.add_argument("--limit", type=int, default=100, help="calls to show, newest first (default 100)")
    audit.set_defaults(run=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> Exit:
    api = Api.of(args)
    server = api.server(args.server)
    params: dict[str, Any] = {"kind": args.kind}
    if args.kind == "call":
        params["limit"] = args.limit
    entries = api.call("GET", f"/mcp/{server['id']}/audit", params=params)["Items"]
    if args.json:
        emit_json(entries)
    elif args.kind == "call":
        rows = [
            [
                c["at"],
                c["caller"],
                c["credentialType"],
                c["method"],
                c.get("name") or "",
                c["outcome"],
                f"{c['durationMs']:.1f}",
                f"{c['requestBytes']}/{c['responseBytes']}",
            ]
            for c in entries
        ]
        print_table(["AT", "CALLER", "CREDENTIAL", "METHOD", "NAME", "OUTCOME", "MS", "BYTES IN/OUT"], rows)
    else:
        rows = [
            [e["at"], e["version"], e["actor"], e.get("fromStatus") or "-", e.get("toStatus") or "Deleted", e["reason"]]
            for e in entries
        ]
        print_table(["AT", "VERSION", "ACTOR", "FROM", "TO", "REASON"], rows)
    return Exit.OK
