"""`hosted-mcp token`: mint a short-lived token with the local issuer's key of a platform's data directory."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hosted_mcp_local.cli.config import default_data_dir
from hosted_mcp_local.cli.exits import CliError, Exit


def register(commands: Any, client: argparse.ArgumentParser) -> None:
    token = commands.add_parser("token", help="mint a short-lived token from this machine's local issuer")
    token.add_argument(
        "--data-dir", default=default_data_dir(), help="the platform's data directory (env HOSTED_MCP_DATA_DIR)"
    )
    token.add_argument("--user", required=True)
    token.add_argument("--groups", default="", help="comma-separated groups, e.g. finance,research")
    token.add_argument("--admin", action="store_true", help="add the admin group (management API access)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.set_defaults(run=cmd_token)


def cmd_token(args: argparse.Namespace) -> Exit:
    from hosted_mcp_local.identity import LocalIssuer, NoSigningKey

    data_dir = Path(args.data_dir).resolve()
    groups = [g.strip() for g in (args.groups or "").split(",") if g.strip()]
    try:
        # Never a new key here: a token signed by a key no platform knows would only be refused later.
        issuer = LocalIssuer(data_dir, create=False)
        token = issuer.mint(args.user, groups, admin=args.admin, ttl=timedelta(seconds=args.ttl), now=datetime.now(UTC))
    except NoSigningKey as error:
        raise CliError(
            f"no platform has run in {data_dir} ({error}): start one with `hosted-mcp serve --data-dir {data_dir}`, "
            "or name the platform's data directory with --data-dir (or HOSTED_MCP_DATA_DIR)",
            Exit.USAGE,
        ) from error
    except ValueError as error:
        raise CliError(str(error), Exit.USAGE) from error
    print(token)
    return Exit.OK
