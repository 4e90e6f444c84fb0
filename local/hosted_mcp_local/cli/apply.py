"""`hosted-mcp update`: the smallest update request that makes a server match a file and the flags given.

The file may be the one the server was created from: a field equal to the server's is left out, one that may
change (`UpdateServerRequest`'s fields) is sent when it differs, and one fixed at creation (every other field of
`CreateServerRequest`) is refused when it differs, naming each, before anything is sent.
"""

from __future__ import annotations

import argparse
import json
from functools import cache
from typing import Any

from hosted_mcp.models.fields import normalize_groups, normalize_name
from hosted_mcp_local.cli.exits import CliError, Exit


@cache
def field_sets() -> tuple[frozenset[str], frozenset[str]]:
    """(may change, fixed at creation), from the request models (imported here: they cost 0.1 s to load)."""
    from hosted_mcp.models.api import CreateServerRequest, UpdateServerRequest

    updatable = frozenset(UpdateServerRequest.model_fields)
    return updatable, frozenset(CreateServerRequest.model_fields) - updatable


def env_pair(text: str) -> tuple[str, str]:
    """`--env NAME=VALUE`; a bare NAME is an error (it used to set an empty value), not a way to unset."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE (to remove a variable: --unset-env NAME)")
    return name, value


def update_from_file(server: dict[str, Any], document: Any, source: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise CliError(f"{source}: expected an object of server fields", Exit.USAGE)
    updatable, fixed = field_sets()
    unknown = sorted(set(document) - updatable - fixed)
    if unknown:
        raise CliError(f"{source}: not fields of a server: {', '.join(unknown)}", Exit.USAGE)
    refused = [
        f"{field} (is {server.get(field)!r}, the file says {document[field]!r})"
        for field in sorted(fixed & set(document))
        if not _same_fixed(field, document[field], server)
    ]
    if refused:
        raise CliError(
            f"{source}: these cannot change once a server is created: {'; '.join(refused)}. "
            "Delete the server and create it again to change them.",
            Exit.USAGE,
        )
    body: dict[str, Any] = {}
    for field in sorted(updatable & set(document)):
        wanted, current = document[field], server.get(field)
        if field == "groups" and isinstance(wanted, list) and all(isinstance(g, str) for g in wanted):
            if sorted(normalize_groups(wanted)) != sorted(current or []):
                body[field] = wanted
        elif field != "environment" and isinstance(wanted, dict) and isinstance(current, dict):
            merged = _merged(current, wanted)
            if merged != current:
                body[field] = merged
        elif wanted != current:
            body[field] = wanted
    return body


def flag_changes(server: dict[str, Any], args: argparse.Namespace, file_env: dict[str, str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    current_env: dict[str, str] = dict(server.get("environment") or {})
    if args.env or args.unset_env or args.replace_env:
        env = {} if args.replace_env else dict(file_env if file_env is not None else current_env)
        for name, value in args.env or []:
            env[name] = value
        for name in args.unset_env or []:
            if name not in env:
                raise CliError(f"--unset-env {name}: {server['name']} has no variable {name}", Exit.USAGE)
            del env[name]
        if env != current_env:
            body["environment"] = env
    if args.groups is not None:
        body["groups"] = [g.strip() for g in args.groups.split(",") if g.strip()]
    if args.min_capacity is not None or args.max_capacity is not None:
        low = args.min_capacity if args.min_capacity is not None else args.max_capacity
        high = args.max_capacity if args.max_capacity is not None else max(low, 1)
        body["autoScalingConfig"] = {**(server.get("autoScalingConfig") or {}), "minCapacity": low, "maxCapacity": high}
    if args.description is not None:
        body["description"] = args.description
    if args.tool_policy is not None:
        body["toolPolicy"] = tool_policy_argument(args.tool_policy)
    limits = {
        key: value
        for key, value in (
            ("ratePerSecond", args.rate),
            ("burst", args.burst),
            ("maxConcurrentPerReplica", args.max_concurrent),
        )
        if value is not None
    }
    if limits:
        body["callLimits"] = limits
    if args.audit_calls is not None:
        body["auditCalls"] = args.audit_calls == "on"
    return body


def tool_policy_argument(value: str) -> Any:
    """`--tool-policy`: inline JSON (`{}` removes the policy), or a JSON/YAML file (`-` for stdin)."""
    if value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError as error:
            raise CliError(f"--tool-policy: not valid JSON ({error})", Exit.USAGE) from error
    from hosted_mcp_local.cli.servers import read_body

    return read_body(value)


def _same_fixed(field: str, wanted: Any, server: dict[str, Any]) -> bool:
    if field == "name":
        return normalize_name(str(wanted)) == server.get("normalizedName")
    return bool(wanted == server.get(field))


def _merged(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """`wanted` over `current`, nested objects merged key by key (a file gives only the keys it changes)."""
    merged = dict(current)
    for key, value in wanted.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            merged[key] = _merged(current[key], value)
        else:
            merged[key] = value
    return merged
