"""Servers: create, list, get, update (apply-style from the create file), start, stop, delete."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hosted_mcp_local.cli.apply import env_pair, flag_changes, update_from_file
from hosted_mcp_local.cli.client import Api
from hosted_mcp_local.cli.exits import CliError, Exit
from hosted_mcp_local.cli.output import emit_json, print_details, print_table

DETAIL_KEYS = (
    "name",
    "id",
    "status",
    "serverType",
    "startCommand",
    "s3Path",
    "image",
    "groups",
    "enabled",
    "restarts",
    "lastError",
    "url",
    "sseUrl",
    "owner",
    "createdAt",
    "updatedAt",
)


def register(commands: Any, client: argparse.ArgumentParser) -> None:
    create = commands.add_parser("create", parents=[client], help="create a server from a JSON or YAML request")
    create.add_argument("-f", "--file", required=True, help="server.json|server.yaml, or - for stdin")
    create.set_defaults(run=cmd_create)

    listing = commands.add_parser(
        "list", parents=[client], help="list servers (for a non-admin: the servers you may use)"
    )
    listing.set_defaults(run=cmd_list)

    get = commands.add_parser("get", parents=[client], help="show one server")
    get.add_argument("server", help="id or name")
    get.set_defaults(run=cmd_get)

    update = commands.add_parser(
        "update",
        parents=[client],
        help="change a server: from its create file (only what differs is sent) and/or flags",
        description="With -f, the file may be the one the server was created from: fields equal to the server's are "
        "left out, fields that cannot change once created are refused if they differ. SERVER defaults to the "
        "file's name.",
    )
    update.add_argument("server", nargs="?", help="id or name (default: the name in -f FILE)")
    update.add_argument("-f", "--file", help="the create file, or an update body (JSON or YAML)")
    update.add_argument(
        "--env", action="append", type=env_pair, metavar="NAME=VALUE", help="set one variable (repeatable)"
    )
    update.add_argument("--unset-env", action="append", metavar="NAME", help="remove one variable (repeatable)")
    update.add_argument("--replace-env", action="store_true", help="--env replaces the whole environment")
    update.add_argument("--groups", help="comma-separated groups (empty: public)")
    update.add_argument("--min-capacity", type=int)
    update.add_argument("--max-capacity", type=int)
    update.add_argument("--description")
    update.add_argument(
        "--tool-policy",
        metavar="JSON|FILE",
        help='who may use which tools, prompts, resources: {"group": {"tools": ["name", "glob*"]}}; {} removes it',
    )
    update.add_argument("--rate", type=float, help="requests per second each caller may make (callLimits)")
    update.add_argument("--burst", type=int, help="requests a caller may make at once (with --rate)")
    update.add_argument("--max-concurrent", type=int, help="calls in flight per replica")
    update.add_argument("--audit-calls", choices=["on", "off"], help="record every call in the audit trail")
    update.set_defaults(run=cmd_update)

    for name, enabled in (("start", True), ("stop", False)):
        toggle = commands.add_parser(name, parents=[client], help=f"{name} a server")
        toggle.add_argument("server", help="id or name")
        toggle.set_defaults(run=cmd_start if enabled else cmd_stop)

    delete = commands.add_parser("delete", parents=[client], help="delete a server")
    delete.add_argument("server", help="id or name")
    delete.set_defaults(run=cmd_delete)


def show_server(args: argparse.Namespace, server: dict[str, Any]) -> None:
    if args.json:
        emit_json(server)
        return
    print_details(server, DETAIL_KEYS)
    env_names = sorted((server.get("environment") or {}).keys())
    if env_names:
        print(f"{'environment:':<14}{', '.join(env_names)} (values hidden)")


def read_body(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read {path}: {error}", Exit.USAGE) from error
    if path.endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise CliError(f"{path}: not valid YAML ({error})", Exit.USAGE) from error
    try:
        return json.loads(text)
    except ValueError as error:
        raise CliError(f"{path}: not valid JSON ({error})", Exit.USAGE) from error


def cmd_create(args: argparse.Namespace) -> Exit:
    show_server(args, Api.of(args).call("POST", "/mcp", read_body(args.file)))
    return Exit.OK


def cmd_list(args: argparse.Namespace) -> Exit:
    api = Api.of(args)
    try:
        servers = list(api.pages("/mcp"))
    except CliError as error:
        if error.status != 403:
            raise
        return list_usable(args, api)  # not an admin: what this caller may use is their connections
    if args.json:
        emit_json(servers)
        return Exit.OK
    rows = [
        [
            s["name"],
            s["id"],
            s["serverType"],
            s["status"],
            s.get("autoScalingConfig", {}).get("minCapacity", 1),
            s.get("restarts", 0),
            s.get("url") or "",
        ]
        for s in servers
    ]
    print_table(["NAME", "ID", "TYPE", "STATUS", "REPLICAS", "RESTARTS", "URL"], rows)
    return Exit.OK


def list_usable(args: argparse.Namespace, api: Api) -> Exit:
    from hosted_mcp_local.cli.connections import print_connections

    print("not an admin: these are the servers you may use (GET /connections)", file=sys.stderr)
    print_connections(args, api)
    return Exit.OK


def cmd_get(args: argparse.Namespace) -> Exit:
    show_server(args, Api.of(args).server(args.server))
    return Exit.OK


def cmd_update(args: argparse.Namespace) -> Exit:
    api = Api.of(args)
    document = read_body(args.file) if args.file else None
    ref = args.server or (document.get("name") if isinstance(document, dict) else None)
    if not ref:
        raise CliError("name the server, or give -f FILE with a name", Exit.USAGE)
    server = api.server(str(ref))
    body = update_from_file(server, document, args.file) if document is not None else {}
    body.update(flag_changes(server, args, body.get("environment")))
    if not body:
        if args.file and not has_flags(args):
            print(f"{server['name']}: nothing to change, it already matches {args.file}", file=sys.stderr)
            return Exit.OK
        raise CliError(
            "nothing to update: give -f FILE, --env, --unset-env, --groups, --min-capacity, --description, "
            "--tool-policy, --rate, --max-concurrent or --audit-calls",
            Exit.USAGE,
        )
    show_server(args, api.call("PUT", f"/mcp/{server['id']}", body))
    return Exit.OK


def has_flags(args: argparse.Namespace) -> bool:
    flags = (
        *(args.env, args.unset_env, args.groups, args.min_capacity, args.max_capacity, args.description),
        *(args.tool_policy, args.rate, args.burst, args.max_concurrent, args.audit_calls),
    )
    return any(flag is not None for flag in flags)


def set_enabled(args: argparse.Namespace, enabled: bool) -> Exit:
    api = Api.of(args)
    server = api.server(args.server)
    show_server(args, api.call("PUT", f"/mcp/{server['id']}", {"enabled": enabled}))
    return Exit.OK


def cmd_start(args: argparse.Namespace) -> Exit:
    return set_enabled(args, True)


def cmd_stop(args: argparse.Namespace) -> Exit:
    return set_enabled(args, False)


def cmd_delete(args: argparse.Namespace) -> Exit:
    api = Api.of(args)
    server = api.server(args.server)
    show_server(args, api.call("DELETE", f"/mcp/{server['id']}"))
    return Exit.OK
