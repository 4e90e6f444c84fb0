"""A stdio MCP server for the supervision tests, whose misbehaviour is chosen by its environment:

- STARTUP_DELAY=<seconds>: sleep before serving (a slow start).
- FAIL_IF_EXISTS=<file>: fail at start, with a traceback, when the file exists in the working directory; otherwise
  create it and serve. So the server starts once and never again (what a platform restart then meets).
- CRASH_AFTER=<seconds>: serve, then die with a traceback that many seconds after starting (a crash loop).
- REVEAL=<variable>: put that variable's value in the error message (secrets must not reach failure reasons).
- CHATTER=<lines>: write that many lines to stderr at start (log rotation).
- PORT=<port>: serve streamable HTTP on 127.0.0.1:<port> (uvicorn's access log on) instead of stdio.

Tool: `mood` answers how many times this server started in this working directory. Every `tools/list` it answers
(what the platform's liveness check asks) is counted in `tools-list.count`, so a test knows checks happened.
"""

import os
import sys
import threading
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer

STARTS = Path("starts.count")
LISTED = Path("tools-list.count")


class CountingServer(MCPServer):
    async def list_tools(self):  # type: ignore[no-untyped-def]
        LISTED.write_text(str(int(LISTED.read_text()) + 1 if LISTED.exists() else 1))
        return await super().list_tools()


server = CountingServer("moody")


@server.tool()
def mood() -> str:
    """How many times this server has started here."""
    return STARTS.read_text() if STARTS.exists() else "0"


def fail(message: str) -> None:
    revealed = os.environ.get(os.environ.get("REVEAL", ""), "")
    for line in [f"moody: preparing ({len(message)})"] * 3:
        print(line, file=sys.stderr, flush=True)
    raise RuntimeError(f"{message} (config: {revealed})" if revealed else message)


def crash_later(seconds: float) -> None:
    time.sleep(seconds)
    try:
        fail("lost the connection to the upstream database")
    except RuntimeError:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(3)


def main() -> None:
    time.sleep(float(os.environ.get("STARTUP_DELAY", "0")))
    for index in range(int(os.environ.get("CHATTER", "0"))):
        print(f"moody: chatter line {index:06d} " + "x" * 60, file=sys.stderr)
    sys.stderr.flush()
    marker = os.environ.get("FAIL_IF_EXISTS")
    if marker and Path(marker).exists():
        fail("cannot open the cache directory: permission denied")
    if marker:
        Path(marker).touch()
    STARTS.write_text(str(int(STARTS.read_text()) + 1 if STARTS.exists() else 1))
    if os.environ.get("CRASH_AFTER"):
        threading.Thread(target=crash_later, args=(float(os.environ["CRASH_AFTER"]),), daemon=True).start()
    if os.environ.get("PORT"):
        server.run("streamable-http", host="127.0.0.1", port=int(os.environ["PORT"]))
    else:
        server.run()


if __name__ == "__main__":
    main()
