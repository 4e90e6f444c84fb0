"""`hosted-mcp logs [-f]`: a server's process output (local platform), and with -f what it prints next."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from hosted_mcp_local.cli.client import Api
from hosted_mcp_local.cli.exits import CliError, Exit

FOLLOW_INTERVAL = 1.0
FOLLOW_WINDOW = 2000  # lines per replica read at each look: more than a server prints in one interval


def register(commands: Any, client: argparse.ArgumentParser) -> None:
    logs = commands.add_parser("logs", parents=[client], help="print a server's process logs (local platform)")
    logs.add_argument("server", help="id or name")
    logs.add_argument("--tail", type=int, default=200, help="lines per replica to start with (default 200)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    logs.set_defaults(run=cmd_logs)


def cmd_logs(args: argparse.Namespace) -> Exit:
    api = Api.of(args)
    server = api.server(args.server)
    path = f"/mcp/{server['id']}/logs"
    text = api.call("GET", path, params={"tail": args.tail}) or ""
    sys.stdout.write(text)
    sys.stdout.flush()
    if not args.follow:
        return Exit.OK
    # The endpoint answers the last lines of each replica; what is new is what follows the lines seen last time.
    seen = by_replica(api.call("GET", path, params={"tail": FOLLOW_WINDOW}) or "")
    while True:
        time.sleep(FOLLOW_INTERVAL)
        try:
            latest = by_replica(api.call("GET", path, params={"tail": FOLLOW_WINDOW}) or "")
        except CliError as error:  # like tail -f: a platform busy or restarting for a moment is no reason to stop
            if error.code is not Exit.UNREACHABLE and (error.status or 0) < 500:
                raise
            sys.stderr.write(f"hosted-mcp: {error.message} (still following)\n")
            continue
        for replica, lines in latest.items():
            for line in new_lines(seen.get(replica, []), lines):
                sys.stdout.write(line + "\n")
        sys.stdout.flush()
        seen = latest


def by_replica(text: str) -> dict[str, list[str]]:
    """`[replica-0] line` lines grouped by their replica prefix, in order."""
    grouped: dict[str, list[str]] = {}
    for line in text.splitlines():
        replica = line.split("]", 1)[0] if line.startswith("[") else ""
        grouped.setdefault(replica, []).append(line)
    return grouped


def new_lines(before: list[str], after: list[str]) -> list[str]:
    """The lines of `after` that follow its longest overlap with the end of `before` (all of them, if none)."""
    for size in range(min(len(before), len(after)), 0, -1):
        if before[-size:] == after[:size]:
            return after[size:]
    return after
