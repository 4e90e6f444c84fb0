"""`hosted-mcp-bridge --port P --host 127.0.0.1 [--child per-session|shared] -- <command...>`

Runs a stdio MCP server command and serves it over HTTP: streamable HTTP at `/mcp`, HTTP+SSE at `/sse`
(+ `/messages/`), liveness at `/healthz`. The command gets the bridge's environment (`--pass-environment` is
accepted for drop-in use where mcp-proxy was, and is what happens anyway) and writes its stderr to the bridge's.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from types import FrameType

from hosted_mcp_bridge.bridge import EXIT_CHILD, Bridge
from hosted_mcp_bridge.settings import ChildMode, Settings

# Exit codes, one table (tests/bridge/test_cli.py checks each).
EXIT_OK = 0  # stopped on request (SIGTERM or SIGINT)
EXIT_USAGE = 2  # bad command line
EXIT_SERVER = EXIT_CHILD  # 3: the MCP server could not start, did not answer initialize, or exited (shared mode)
EXIT_LISTEN = 4  # the address could not be bound

logger = logging.getLogger("hosted_mcp_bridge")


def parse(argv: list[str]) -> Settings:
    if "--" in argv:
        split = argv.index("--")
        options, command = argv[:split], argv[split + 1 :]
    else:
        options, command = argv, []
    parser = argparse.ArgumentParser(
        prog="hosted-mcp-bridge", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = Settings(command=())
    parser.add_argument("--port", type=int, default=defaults.port, help="port to listen on (default %(default)s)")
    parser.add_argument("--host", default=defaults.host, help="address to listen on (default %(default)s, loopback)")
    parser.add_argument(
        "--child",
        choices=[m.value for m in ChildMode],
        default=defaults.child.value,
        help="a child process per session, or one shared by all sessions (default %(default)s)",
    )
    parser.add_argument("--pass-environment", action="store_true", help="accepted for mcp-proxy compatibility")
    parser.add_argument("--max-sessions", type=int, default=defaults.max_sessions)
    parser.add_argument("--session-idle-timeout", type=float, default=defaults.session_idle_timeout, metavar="SECONDS")
    parser.add_argument("--max-message-bytes", type=int, default=defaults.max_message_bytes)
    parser.add_argument("--max-queued-bytes", type=int, default=defaults.max_queued_bytes)
    parser.add_argument("--spare-children", type=int, default=defaults.spare_children, help="per-session mode")
    parser.add_argument("--init-timeout", type=float, default=defaults.init_timeout, metavar="SECONDS")
    parser.add_argument("--stop-grace", type=float, default=defaults.stop_grace, metavar="SECONDS")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(options)
    if not command:
        parser.error("name the MCP server's command after --, e.g. hosted-mcp-bridge --port 8080 -- python server.py")
    for name in ("max_sessions", "max_message_bytes", "max_queued_bytes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.spare_children < 0:
        parser.error("--spare-children must not be negative")
    logging.basicConfig(stream=sys.stderr, format="hosted-mcp-bridge: %(levelname)s %(message)s")
    logger.setLevel(args.log_level.upper())
    return Settings(
        command=tuple(command),
        host=args.host,
        port=args.port,
        child=ChildMode(args.child),
        max_sessions=args.max_sessions,
        session_idle_timeout=args.session_idle_timeout,
        max_message_bytes=args.max_message_bytes,
        max_queued_bytes=args.max_queued_bytes,
        spare_children=args.spare_children,
        init_timeout=args.init_timeout,
        stop_grace=args.stop_grace,
    )


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def serve(settings: Settings, sock: socket.socket) -> int:
    import uvicorn

    from hosted_mcp_bridge.app import BridgeApp

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # As uvicorn does, without re-raising the signal once stopped: a requested stop exits with EXIT_OK.
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True
            if bridge.loop is not None:
                bridge.loop.call_soon_threadsafe(bridge.begin_stop)  # end the streams, so connections drain at once

    def stop_for(code: int, reason: str) -> None:
        server.should_exit = True

    bridge = Bridge(settings, on_fatal=stop_for)
    config = uvicorn.Config(
        BridgeApp(bridge),
        http="httptools",
        loop=_loop_name(),
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level="warning",
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=max(1, int(settings.stop_grace)),
    )
    server = Server(config)
    try:
        server.run(sockets=[sock])
    except SystemExit:  # uvicorn exits this way when the lifespan startup failed: the command could not start
        return EXIT_SERVER
    return bridge.exit_code if bridge.exit_code is not None else EXIT_OK


def _loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def main(argv: list[str] | None = None) -> int:
    settings = parse(sys.argv[1:] if argv is None else argv)
    try:
        sock = listen(settings.host, settings.port)
    except OSError as failure:
        logger.error("cannot listen host=%s port=%d reason=%s", settings.host, settings.port, failure)
        return EXIT_LISTEN
    logger.info(
        "serving host=%s port=%d child=%s command=%s",
        settings.host,
        settings.port,
        settings.child.value,
        settings.command[0],
    )
    return serve(settings, sock)


if __name__ == "__main__":
    sys.exit(main())
