"""`hosted-mcp serve`: the whole platform on this machine, on a port it holds before anything starts."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from typing import Any

from hosted_mcp_local.cli.config import DEFAULT_HOST, DEFAULT_PORT, default_data_dir
from hosted_mcp_local.cli.exits import CliError, Exit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(commands: Any, client: argparse.ArgumentParser) -> None:
    serve = commands.add_parser("serve", help="run the whole platform on this machine")
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("HOSTED_MCP_PORT") or DEFAULT_PORT),
        help=f"port (env HOSTED_MCP_PORT; default {DEFAULT_PORT})",
    )
    serve.add_argument(
        "--host",
        default=os.environ.get("HOSTED_MCP_HOST") or DEFAULT_HOST,
        help=f"bind address (env HOSTED_MCP_HOST; default {DEFAULT_HOST}, loopback only)",
    )
    serve.add_argument(
        "--data-dir",
        default=default_data_dir(),
        help="records, keys, logs and server files (env HOSTED_MCP_DATA_DIR; default ./.data)",
    )
    serve.add_argument(
        "--allowed-host", action="append", help="extra Host/Origin name the gateway accepts (repeatable)"
    )
    serve.add_argument("--reconcile-interval", type=float, default=60.0, help="seconds between reconciler sweeps")
    serve.add_argument(
        "--audit-retention-days",
        type=float,
        default=float(os.environ.get("HOSTED_MCP_AUDIT_RETENTION_DAYS") or 30),
        help="days the data-plane call audit is kept (env HOSTED_MCP_AUDIT_RETENTION_DAYS; default 30)",
    )
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(run=cmd_serve)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, taken before the platform starts anything: a port in use is a clean refusal."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as error:
        raise CliError(
            f"cannot listen on {host}:{port}: {error.strerror or error} (is another platform running there? "
            "choose another --port)",
            Exit.SERVE_FAILED,
        ) from error


def cmd_serve(args: argparse.Namespace) -> Exit:
    import uvicorn

    from hosted_mcp_local import observability
    from hosted_mcp_local.app import create_app
    from hosted_mcp_local.platform import DataDirInUse, Platform, PlatformConfig

    data_dir = Path(args.data_dir).resolve()
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host  # noqa: S104 (only displayed)
    base_url = f"http://{shown_host}:{args.port}"
    allowed = tuple(h for h in (args.allowed_host or []) if h)
    if args.host not in LOOPBACK:
        allowed = (*allowed, args.host)
    sock = listen(args.host, args.port)
    try:
        platform = Platform(
            PlatformConfig(
                data_dir=data_dir,
                base_url=base_url,
                reconcile_interval=args.reconcile_interval,
                allowed_hosts=allowed,
                audit_retention_days=args.audit_retention_days,
            )
        )
    except DataDirInUse as error:
        sock.close()
        raise CliError(str(error), Exit.SERVE_FAILED) from error
    app = create_app(platform, allowed_hosts=allowed)
    observability.structure_everything_else()
    observability.announce(base_url, data_dir)
    # Open event streams (GET /events, SSE sessions) never end by themselves: give them a few seconds, not forever.
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=observability.uvicorn_log_config(args.log_level),
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        raise CliError("the platform did not start (the lines above say why)", Exit.SERVE_FAILED)
    return Exit.OK
