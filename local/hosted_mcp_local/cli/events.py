"""`hosted-mcp events`: follow the platform's status events as they happen (local platform)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hosted_mcp_local.cli.client import Api
from hosted_mcp_local.cli.exits import CliError, Exit


def register(commands: Any, client: argparse.ArgumentParser) -> None:
    events = commands.add_parser("events", parents=[client], help="follow status events (local platform)")
    events.add_argument("--server", help="only this server (id or name)")
    events.set_defaults(run=cmd_events)


def describe(event: dict[str, Any]) -> str:
    detail = event["detail"]
    moved = f"{detail.get('fromStatus') or '-'} -> {detail.get('toStatus') or 'Deleted'}"
    line = f"{detail['at']}  {detail['name']}  {moved}"
    return line + (f"  ({detail['lastError']})" if detail.get("lastError") else "")


def cmd_events(args: argparse.Namespace) -> Exit:
    import httpx

    api = Api.of(args)
    params = {"serverId": api.server(args.server)["id"]} if args.server else {}
    following = False
    try:
        for event in api.status_events(params, read_timeout=60.0):
            if not event:
                if not following:
                    print(f"following status events from {api.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
                    following = True
                continue
            print(json.dumps(event) if args.json else describe(event), flush=True)
    except httpx.HTTPError as error:
        raise CliError(f"event stream ended: {error}", Exit.UNREACHABLE) from error
    return Exit.OK
