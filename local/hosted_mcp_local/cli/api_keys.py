"""`hosted-mcp api-keys issue|list|revoke`: credentials for agents and automation (admins)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hosted_mcp_local.cli.client import Api
from hosted_mcp_local.cli.exits import Exit
from hosted_mcp_local.cli.output import emit_json, print_table

COLUMNS = ["KEY ID", "NAME", "OWNER", "GROUPS", "STATE", "EXPIRES"]


def register(commands: Any, client: argparse.ArgumentParser) -> None:
    keys = commands.add_parser("api-keys", help="issue, list and revoke API keys")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")

    issue = actions.add_parser("issue", parents=[client], help="issue a key (printed once, never again)")
    issue.add_argument("--name", required=True, help="what the key is for, e.g. nightly-agent")
    issue.add_argument("--groups", default="", help="comma-separated groups the key acts with")
    issue.add_argument("--owner", help="who answers for the key (default: you)")
    issue.add_argument("--expires-in-days", type=int, default=90)
    issue.set_defaults(run=cmd_issue)

    actions.add_parser("list", parents=[client], help="list keys (never their secrets)").set_defaults(run=cmd_list)

    revoke = actions.add_parser("revoke", parents=[client], help="revoke a key: it stops working at once")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(run=cmd_revoke)


def row(key: dict[str, Any]) -> list[Any]:
    return [key["keyId"], key["name"], key["owner"], ",".join(key["groups"]), key["state"], key["expiresAt"]]


def cmd_issue(args: argparse.Namespace) -> Exit:
    body: dict[str, Any] = {
        "name": args.name,
        "groups": [g.strip() for g in args.groups.split(",") if g.strip()],
        "expiresInDays": args.expires_in_days,
    }
    if args.owner:
        body["owner"] = args.owner
    issued = Api.of(args).call("POST", "/api-keys", body)
    if args.json:
        emit_json(issued)
        return Exit.OK
    print(issued["apiKey"])
    print(f"key {issued['keyId']} ({issued['name']}), expires {issued['expiresAt']}: shown once", file=sys.stderr)
    return Exit.OK


def cmd_list(args: argparse.Namespace) -> Exit:
    keys = Api.of(args).call("GET", "/api-keys")["Items"]
    if args.json:
        emit_json(keys)
    else:
        print_table(COLUMNS, [row(k) for k in keys])
    return Exit.OK


def cmd_revoke(args: argparse.Namespace) -> Exit:
    revoked = Api.of(args).call("DELETE", f"/api-keys/{args.key_id}")
    if args.json:
        emit_json(revoked)
    else:
        print_table(COLUMNS, [row(revoked)])
    return Exit.OK
