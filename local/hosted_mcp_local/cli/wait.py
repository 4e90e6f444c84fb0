"""`hosted-mcp wait`: follow one server until it reaches a status, printing each transition as it happens.

It exits 0 when the wanted status is reached, ROLLED_BACK when a change (Updating, Starting, Stopping) settles
back in a stable status with `lastError` set (it did not apply: the old configuration kept running; a restart by
the supervisor also sets `lastError`, but moves no status, so it is no rollback), FAILED at Failed or when the
server is removed, TIMEOUT otherwise. It follows the platform's status events (`GET /events`); where the API has none
(a deployed API), it reads the record every two seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any

from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_local.cli.client import Api
from hosted_mcp_local.cli.exits import CliError, Exit

DELETED = "Deleted"
WAITABLE = (*(s.value for s in ServerStatus), DELETED)
STABLE = frozenset({ServerStatus.IN_SERVICE.value, ServerStatus.STOPPED.value})
CHANGES = frozenset({ServerStatus.UPDATING.value, ServerStatus.STARTING.value, ServerStatus.STOPPING.value})


def status_name(text: str) -> str:
    """A status to wait for, in any letter case; anything else is a usage error, not a long wait."""
    for status in WAITABLE:
        if status.lower() == text.lower():
            return status
    raise argparse.ArgumentTypeError(f"unknown status {text!r} (one of: {', '.join(WAITABLE)})")


def register(commands: Any, client: argparse.ArgumentParser) -> None:
    wait = commands.add_parser(
        "wait", parents=[client], help="follow a server until it reaches a status, printing each transition"
    )
    wait.add_argument("server", help="id or name")
    wait.add_argument(
        "--for", dest="status", type=status_name, default="InService", help=f"one of {', '.join(WAITABLE)}"
    )
    wait.add_argument("--timeout", type=float, default=300.0, help="seconds (default 300)")
    wait.set_defaults(run=cmd_wait)


class Follower:
    """What `wait` has seen of one server, and the exit code once it has seen enough."""

    def __init__(self, name: str, wanted: str) -> None:
        self.name, self.wanted = name, wanted
        self.last: str | None = None

    def seen(self, status: str, reason: str | None = None, came_from: str | None = None) -> Exit | None:
        """One status seen; `came_from` is the status it was entered from, when known (else the last one seen)."""
        came_from = came_from or self.last
        if status != self.last:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            moved = f"{self.last} -> {status}" if self.last else status
            print(f"{stamp}  {self.name}  {moved}" + (f"  ({reason})" if reason else ""), flush=True)
            self.last = status
        if status in STABLE and reason and came_from in CHANGES:
            print(f"{self.name} is {status}, but its last change did not apply: {reason}", file=sys.stderr)
            return Exit.ROLLED_BACK
        if status == self.wanted:
            return Exit.OK
        if status in (ServerStatus.FAILED.value, DELETED):
            return Exit.FAILED
        return None


def cmd_wait(args: argparse.Namespace) -> Exit:
    api = Api.of(args)
    deadline = time.monotonic() + args.timeout
    try:
        server = api.server(args.server)
    except CliError as error:
        if error.code == Exit.NOT_FOUND and args.status == DELETED:
            print(f"{datetime.now(UTC).isoformat(timespec='seconds')}  {args.server}  {DELETED}")
            return Exit.OK
        raise
    follower = Follower(server["name"], args.status)
    code = follow(api, server["id"], follower, deadline)
    if code is None:
        waited = f"timed out after {args.timeout:g}s waiting for {args.status} (last seen: {follower.last})"
        print(waited, file=sys.stderr)
        return Exit.TIMEOUT
    return code


def follow(api: Api, server_id: str, follower: Follower, deadline: float) -> Exit | None:
    import httpx

    def current() -> Exit | None:
        try:
            record = api.call("GET", f"/mcp/{server_id}")
        except CliError as error:
            if error.code == Exit.NOT_FOUND:
                return follower.seen(DELETED)
            raise
        status, reason = record["status"], record.get("lastError")
        return follower.seen(status, reason, entered_from(api, server_id, status) if reason else None)

    while time.monotonic() < deadline:
        remaining = deadline - time.monotonic()
        try:
            events = api.status_events({"serverId": server_id}, read_timeout=min(remaining, 20.0))
            next(events)  # the stream is open once its first comment arrives; only then read the record
        except StopIteration:
            continue
        except CliError as error:
            if error.code not in (Exit.NOT_FOUND, Exit.AUTH):
                raise
            # No event stream (a deployed API answers 404, or 403 for a route it does not have): read the record
            # every two seconds instead; a caller who may not read it fails there with the real answer.
            while time.monotonic() < deadline:
                if (code := current()) is not None:
                    return code
                time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
            return None
        except (httpx.ReadTimeout, httpx.RemoteProtocolError):
            continue
        except httpx.HTTPError as error:
            raise CliError(f"cannot reach {api.url}: {error}", Exit.UNREACHABLE) from error
        if (code := current()) is not None:
            return code
        try:
            for event in events:
                if not event:
                    continue
                detail = event["detail"]
                moved = (detail.get("toStatus") or DELETED, detail.get("lastError"), detail.get("fromStatus"))
                if (code := follower.seen(*moved)) is not None:
                    return code
                if time.monotonic() >= deadline:
                    break
        except (httpx.ReadTimeout, httpx.RemoteProtocolError):
            continue
    return None


def entered_from(api: Api, server_id: str, status: str) -> str | None:
    """The status a record entered its current one from, by its audit trail (a read of the record does not say)."""
    entries = api.call("GET", f"/mcp/{server_id}/audit")["Items"]
    last = entries[-1] if entries else None
    return last["fromStatus"] if last and last["toStatus"] == status else None
