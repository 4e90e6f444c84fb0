"""`hosted-mcp`: run the platform on this machine, mint local tokens, and manage hosted servers.

The management commands talk to any deployment of the API (this machine's or AWS's): the base URL and the
credential come from --url/--token, else HOSTED_MCP_URL/HOSTED_MCP_TOKEN, else the config file
(HOSTED_MCP_CONFIG, default ~/.config/hosted-mcp/config.json: {"url": "...", "token": "..."}).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

EXIT_OK = 0
EXIT_ERROR = 1  # the API refused the request (4xx other than below) or failed (5xx)
EXIT_USAGE = 2  # bad command line or input file
EXIT_AUTH = 3  # 401 or 403: no, bad or insufficient credential
EXIT_NOT_FOUND = 4  # no such server
EXIT_FAILED = 5  # `wait`: the server reached Failed (or another status it cannot leave by itself)
EXIT_TIMEOUT = 6  # `wait`: the wanted status was not reached in time
EXIT_UNREACHABLE = 7  # the API could not be reached

EXIT_CODES_HELP = """exit codes:
  0  success (for `wait`: the wanted status was reached)
  1  the API refused or failed the request
  2  bad command line or input file
  3  not authenticated (401) or not allowed (403)
  4  no such server
  5  wait: the server reached Failed (or was removed) instead
  6  wait: timed out
  7  the API could not be reached
"""

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"
DEFAULT_DATA_DIR = ".data"
TERMINAL_FAILURES = frozenset({"Failed"})
DELETED = "Deleted"


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# -- configuration ------------------------------------------------------------------------------------------------


def default_data_dir() -> str:
    return os.environ.get("HOSTED_MCP_DATA_DIR") or DEFAULT_DATA_DIR


def config_file() -> Path:
    return Path(os.environ.get("HOSTED_MCP_CONFIG") or Path.home() / ".config" / "hosted-mcp" / "config.json")


def load_config() -> dict[str, str]:
    path = config_file()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise CliError(f"{path}: not valid JSON ({error})", EXIT_USAGE) from error
    return {k: str(v) for k, v in data.items() if k in ("url", "token")} if isinstance(data, dict) else {}


def connection(args: argparse.Namespace) -> tuple[str, str | None]:
    config = load_config()
    url = args.url or os.environ.get("HOSTED_MCP_URL") or config.get("url") or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    token = args.token or os.environ.get("HOSTED_MCP_TOKEN") or config.get("token")
    return url.rstrip("/"), token


# -- HTTP ---------------------------------------------------------------------------------------------------------


class Api:
    def __init__(self, url: str, token: str | None) -> None:
        import httpx

        self.url = url
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(30.0))

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        import httpx

        try:
            response = self.client.request(method, path, json=body, params=params)
        except httpx.HTTPError as error:
            raise CliError(f"cannot reach {self.url}: {error}", EXIT_UNREACHABLE) from error
        if response.status_code >= 400:
            raise api_error(response.status_code, response.text)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def server(self, ref: str) -> dict[str, Any]:
        """A server by id, or by name when no id matches."""
        try:
            found: dict[str, Any] = self.call("GET", f"/mcp/{ref}")
            return found
        except CliError as error:
            if error.code != EXIT_NOT_FOUND:
                raise
        from hosted_mcp.models.fields import normalize_name

        wanted = normalize_name(ref)
        for server in self.servers():
            if server.get("normalizedName") == wanted:
                return server
        raise CliError(f"no server with id or name {ref}", EXIT_NOT_FOUND)

    def servers(self) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if token:
                params["nextToken"] = token
            page = self.call("GET", "/mcp", params=params)
            yield from page.get("Items", [])
            token = page.get("nextToken")
            if not token:
                return


def api_error(status: int, text: str) -> CliError:
    try:
        body = json.loads(text)
        message = body.get("message") or text
        if body.get("errors"):
            message = "; ".join(f"{e['field']}: {e['message']}" for e in body["errors"])
    except (ValueError, AttributeError, KeyError, TypeError):
        message = text or "no details"
    code = {401: EXIT_AUTH, 403: EXIT_AUTH, 404: EXIT_NOT_FOUND}.get(status, EXIT_ERROR)
    return CliError(f"HTTP {status}: {message}", code)


# -- output -------------------------------------------------------------------------------------------------------


def emit_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def server_rows(servers: list[dict[str, Any]]) -> str:
    rows = [
        [
            s["name"],
            s["id"],
            s["serverType"],
            s["status"],
            str(s.get("autoScalingConfig", {}).get("minCapacity", 1)),
            str(s.get("restarts", 0)),
            s.get("url") or "",
        ]
        for s in servers
    ]
    return table(rows, ["NAME", "ID", "TYPE", "STATUS", "REPLICAS", "RESTARTS", "URL"])


def server_details(server: dict[str, Any]) -> str:
    keys = [
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
    ]
    lines = []
    for key in keys:
        value = server.get(key)
        if value is None or value == "":
            continue
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        lines.append(f"{key + ':':<14}{shown}")
    env_names = sorted((server.get("environment") or {}).keys())
    if env_names:
        lines.append(f"{'environment:':<14}{', '.join(env_names)} (values hidden)")
    return "\n".join(lines)


def show_server(args: argparse.Namespace, server: dict[str, Any]) -> None:
    if args.json:
        emit_json(server)
    else:
        print(server_details(server))


def read_body(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read {path}: {error}", EXIT_USAGE) from error
    if path.endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise CliError(f"{path}: not valid YAML ({error})", EXIT_USAGE) from error
    try:
        return json.loads(text)
    except ValueError as error:
        raise CliError(f"{path}: not valid JSON ({error})", EXIT_USAGE) from error


# -- commands -----------------------------------------------------------------------------------------------------


# Where `make install` puts mcp-proxy (its own environment: it needs mcp<2), relative to the project checkout.
PROJECT_PROXY = Path(".tools") / "mcp-proxy" / "bin" / "mcp-proxy"


def find_mcp_proxy(explicit: str | None) -> str:
    """The mcp-proxy to run stdio servers with: as given, else on PATH, else the project's own install."""
    if explicit:
        return explicit
    on_path = shutil.which("mcp-proxy")
    if on_path:
        return on_path
    return str(PROJECT_PROXY.resolve()) if PROJECT_PROXY.is_file() else "mcp-proxy"


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hosted_mcp_local import observability
    from hosted_mcp_local.app import create_app
    from hosted_mcp_local.platform import DataDirInUse, Platform, PlatformConfig

    data_dir = Path(args.data_dir).resolve()
    proxy_bin = find_mcp_proxy(args.mcp_proxy)
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host  # noqa: S104 (only displayed)
    base_url = f"http://{shown_host}:{args.port}"
    allowed = tuple(h for h in (args.allowed_host or []) if h)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        allowed = (*allowed, args.host)
    try:
        platform = Platform(
            PlatformConfig(
                data_dir=data_dir,
                proxy_bin=proxy_bin,
                base_url=base_url,
                reconcile_interval=args.reconcile_interval,
                allowed_hosts=allowed,
                audit_retention_days=args.audit_retention_days,
            )
        )
    except DataDirInUse as error:
        raise CliError(str(error)) from error
    app = create_app(platform, allowed_hosts=allowed)
    observability.structure_everything_else()
    observability.announce(base_url, data_dir, proxy_bin, bool(shutil.which(proxy_bin) or Path(proxy_bin).is_file()))
    # Open event streams (GET /events, SSE sessions) never end by themselves: give them a few seconds, not forever.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=observability.uvicorn_log_config(args.log_level),
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return EXIT_OK


def cmd_token(args: argparse.Namespace) -> int:
    from hosted_mcp_local.identity import LocalIssuer

    groups = [g.strip() for g in (args.groups or "").split(",") if g.strip()]
    try:
        token = LocalIssuer(Path(args.data_dir).resolve()).mint(
            args.user, groups, admin=args.admin, ttl=timedelta(seconds=args.ttl), now=datetime.now(UTC)
        )
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    print(token)
    return EXIT_OK


def api(args: argparse.Namespace) -> Api:
    return Api(*connection(args))


def cmd_create(args: argparse.Namespace) -> int:
    server = api(args).call("POST", "/mcp", read_body(args.file))
    show_server(args, server)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    servers = list(api(args).servers())
    if args.json:
        emit_json(servers)
    else:
        print(server_rows(servers))
    return EXIT_OK


def cmd_get(args: argparse.Namespace) -> int:
    show_server(args, api(args).server(args.server))
    return EXIT_OK


def update_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = dict(read_body(args.file)) if args.file else {}
    for pair in args.env or []:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CliError(f"--env {pair}: expected NAME=VALUE", EXIT_USAGE)
        body.setdefault("environment", {})[name] = value
    if args.groups is not None:
        body["groups"] = [g.strip() for g in args.groups.split(",") if g.strip()]
    if args.min_capacity is not None or args.max_capacity is not None:
        scaling = body.setdefault("autoScalingConfig", {})
        low = args.min_capacity if args.min_capacity is not None else args.max_capacity
        scaling["minCapacity"] = low
        scaling["maxCapacity"] = args.max_capacity if args.max_capacity is not None else max(low, 1)
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
    if not body:
        raise CliError(
            "nothing to update: give -f FILE, --env, --groups, --min-capacity, --description, --tool-policy, "
            "--rate, --max-concurrent or --audit-calls",
            EXIT_USAGE,
        )
    return body


def tool_policy_argument(value: str) -> Any:
    """`--tool-policy`: inline JSON (`{}` removes the policy), or a JSON/YAML file (`-` for stdin)."""
    if value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError as error:
            raise CliError(f"--tool-policy: not valid JSON ({error})", EXIT_USAGE) from error
    return read_body(value)


def cmd_update(args: argparse.Namespace) -> int:
    client = api(args)
    server = client.server(args.server)
    if args.env and not args.replace_env:
        merged = dict(server.get("environment") or {})
        for pair in args.env:
            name, _, value = pair.partition("=")
            merged[name] = value
        args.env = [f"{k}={v}" for k, v in merged.items()]
    show_server(args, client.call("PUT", f"/mcp/{server['id']}", update_body(args)))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    """The server's audit trail: its status changes, or its data-plane calls (newest first, one page)."""
    client = api(args)
    server = client.server(args.server)
    params: dict[str, Any] = {"kind": args.kind}
    if args.kind == "call":
        params["limit"] = args.limit
    page = client.call("GET", f"/mcp/{server['id']}/audit", params=params)
    if args.json:
        emit_json(page)
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
            for c in page["Items"]
        ]
        print(table(rows, ["AT", "CALLER", "CREDENTIAL", "METHOD", "NAME", "OUTCOME", "MS", "BYTES IN/OUT"]))
    else:
        rows = [
            [str(e["version"]), e["at"], e["actor"], e.get("fromStatus") or "-", e.get("toStatus") or "(removed)",
             e["reason"]]
            for e in page["Items"]
        ]  # fmt: skip
        print(table(rows, ["VERSION", "AT", "ACTOR", "FROM", "TO", "REASON"]))
    return EXIT_OK


def cmd_enable(args: argparse.Namespace, enabled: bool) -> int:
    client = api(args)
    server = client.server(args.server)
    show_server(args, client.call("PUT", f"/mcp/{server['id']}", {"enabled": enabled}))
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    client = api(args)
    server = client.server(args.server)
    show_server(args, client.call("DELETE", f"/mcp/{server['id']}"))
    return EXIT_OK


def cmd_logs(args: argparse.Namespace) -> int:
    client = api(args)
    server = client.server(args.server)
    text = client.call("GET", f"/mcp/{server['id']}/logs", params={"tail": args.tail})
    sys.stdout.write(text or "")
    return EXIT_OK


def sse_stream(client: Api, params: dict[str, str], read_timeout: float) -> Iterator[dict[str, Any]]:
    """Status events from GET /events, parsed; ends when the stream does."""
    import httpx

    with client.client.stream(
        "GET", "/events", params=params, timeout=httpx.Timeout(10.0, read=read_timeout)
    ) as response:
        if response.status_code >= 400:
            response.read()
            raise api_error(response.status_code, response.text)
        data: list[str] = []
        for line in response.iter_lines():
            if line.startswith(":"):
                yield {}  # a comment: the stream is open (or still alive)
            elif line.startswith("data:"):
                data.append(line.removeprefix("data:").strip())
            elif not line and data:
                yield json.loads("\n".join(data))
                data = []


def describe_event(event: dict[str, Any]) -> str:
    detail = event["detail"]
    to = detail.get("toStatus") or DELETED
    line = f"{detail['at']}  {detail['name']}  {detail.get('fromStatus') or '-'} -> {to}"
    if detail.get("lastError"):
        line += f"  ({detail['lastError']})"
    return line


def cmd_events(args: argparse.Namespace) -> int:
    import httpx

    client = api(args)
    params = {"serverId": client.server(args.server)["id"]} if args.server else {}
    try:
        following = False
        for event in sse_stream(client, params, read_timeout=60.0):
            if not event:
                if not following:
                    print(f"following status events from {client.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
                    following = True
                continue
            print(json.dumps(event) if args.json else describe_event(event), flush=True)
    except httpx.HTTPError as error:
        raise CliError(f"event stream ended: {error}", EXIT_UNREACHABLE) from error
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def cmd_wait(args: argparse.Namespace) -> int:
    """Follow one server until it reaches --for (0), Failed (5) or the timeout (6), printing each transition."""
    import httpx

    client = api(args)
    wanted = args.status
    deadline = time.monotonic() + args.timeout
    try:
        server = client.server(args.server)
    except CliError as error:
        if error.code == EXIT_NOT_FOUND and wanted == DELETED:
            print(f"{datetime.now(UTC).isoformat(timespec='seconds')}  {args.server}  {DELETED}")
            return EXIT_OK
        raise
    server_id, name = server["id"], server["name"]
    last: str | None = None

    def seen(status: str, reason: str | None = None) -> int | None:
        nonlocal last
        if status != last:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            suffix = f"  ({reason})" if reason else ""
            print(
                f"{stamp}  {name}  {last or '-'} -> {status}{suffix}" if last else f"{stamp}  {name}  {status}{suffix}"
            )
            sys.stdout.flush()
            last = status
        if status == wanted:
            return EXIT_OK
        if status in TERMINAL_FAILURES or status == DELETED:
            return EXIT_FAILED
        return None

    def current() -> int | None:
        try:
            record = client.call("GET", f"/mcp/{server_id}")
        except CliError as error:
            if error.code == EXIT_NOT_FOUND:
                return seen(DELETED)
            raise
        return seen(record["status"], record.get("lastError"))

    while time.monotonic() < deadline:
        remaining = deadline - time.monotonic()
        try:
            events = sse_stream(client, {"serverId": server_id}, read_timeout=min(remaining, 20.0))
            next(events)  # the stream is open once its first comment arrives; only then read the record
        except StopIteration:
            continue
        except CliError as error:
            if error.code not in (EXIT_NOT_FOUND, EXIT_AUTH):
                raise
            # No event stream (a deployed API answers 404, or 403 for a route it does not have): read the record
            # every two seconds instead; a caller who may not read it fails there with the real answer.
            while time.monotonic() < deadline:
                if (code := current()) is not None:
                    return code
                time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
            break
        except (httpx.ReadTimeout, httpx.RemoteProtocolError):
            continue
        except httpx.HTTPError as error:
            raise CliError(f"cannot reach {client.url}: {error}", EXIT_UNREACHABLE) from error
        if (code := current()) is not None:
            return code
        try:
            for event in events:
                if not event:
                    continue
                detail = event["detail"]
                if (code := seen(detail.get("toStatus") or DELETED, detail.get("lastError"))) is not None:
                    return code
                if time.monotonic() >= deadline:
                    break
        except (httpx.ReadTimeout, httpx.RemoteProtocolError):
            continue
    print(f"timed out after {args.timeout:g}s waiting for {wanted} (last seen: {last})", file=sys.stderr)
    return EXIT_TIMEOUT


# -- parser -------------------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="hosted-mcp",
        description="Host MCP servers: run the platform on this machine and manage the servers it hosts.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def client_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_text, epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        sub.add_argument("--url", help="base URL of the API (env HOSTED_MCP_URL; default http://127.0.0.1:8765)")
        sub.add_argument("--token", help="bearer token or API key (env HOSTED_MCP_TOKEN)")
        sub.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
        return sub

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
    serve.add_argument(
        "--mcp-proxy",
        default=os.environ.get("HOSTED_MCP_PROXY_BIN"),
        help=f"mcp-proxy for stdio servers (env HOSTED_MCP_PROXY_BIN; default: on PATH, else {PROJECT_PROXY})",
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

    token = commands.add_parser("token", help="mint a short-lived token from this machine's local issuer")
    token.add_argument(
        "--data-dir", default=default_data_dir(), help="the platform's data directory (env HOSTED_MCP_DATA_DIR)"
    )
    token.add_argument("--user", required=True)
    token.add_argument("--groups", default="", help="comma-separated groups, e.g. finance,research")
    token.add_argument("--admin", action="store_true", help="add the admin group (management API access)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.set_defaults(run=cmd_token)

    create = client_command("create", "create a server from a JSON or YAML request")
    create.add_argument("-f", "--file", required=True, help="server.json|server.yaml, or - for stdin")
    create.set_defaults(run=cmd_create)

    client_command("list", "list servers").set_defaults(run=cmd_list)

    get = client_command("get", "show one server")
    get.add_argument("server", help="id or name")
    get.set_defaults(run=cmd_get)

    update = client_command("update", "change a server (environment, groups, scaling, ...)")
    update.add_argument("server", help="id or name")
    update.add_argument("-f", "--file", help="an UpdateHostedMcpServerRequest body (JSON or YAML)")
    update.add_argument("--env", action="append", metavar="NAME=VALUE", help="set one variable (repeatable)")
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
        sub = client_command(name, f"{name} a server")
        sub.add_argument("server", help="id or name")
        sub.set_defaults(run=lambda a, e=enabled: cmd_enable(a, e))

    delete = client_command("delete", "delete a server")
    delete.add_argument("server", help="id or name")
    delete.set_defaults(run=cmd_delete)

    wait = client_command("wait", "follow a server until it reaches a status, printing each transition")
    wait.add_argument("server", help="id or name")
    wait.add_argument("--for", dest="status", default="InService", help="status to wait for (or Deleted)")
    wait.add_argument("--timeout", type=float, default=300.0, help="seconds (default 300)")
    wait.set_defaults(run=cmd_wait)

    audit = client_command("audit", "a server's audit trail: status changes, or its data-plane calls")
    audit.add_argument("server", help="id or name")
    audit.add_argument("--kind", choices=["status", "call"], default="status", help="default: status changes")
    audit.add_argument("--limit", type=int, default=100, help="calls to show, newest first (default 100)")
    audit.set_defaults(run=cmd_audit)

    logs = client_command("logs", "print a server's process logs (local platform)")
    logs.add_argument("server", help="id or name")
    logs.add_argument("--tail", type=int, default=200)
    logs.set_defaults(run=cmd_logs)

    events = client_command("events", "follow status events (local platform)")
    events.add_argument("--server", help="only this server (id or name)")
    events.set_defaults(run=cmd_events)
    return root


def fail(message: str, code: int) -> NoReturn:
    print(f"hosted-mcp: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except CliError as error:
        fail(error.message, error.code)
    except KeyboardInterrupt:
        return EXIT_OK
    return code


if __name__ == "__main__":
    raise SystemExit(main())
