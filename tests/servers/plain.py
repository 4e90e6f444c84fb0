"""A dependency-free stdio MCP server: the standard library only, so it costs next to nothing per call.

The bridge benchmark hosts it behind every candidate bridge, so the CPU and memory the table shows are the
bridges', not a heavy server's. Tools: `echo` (text back), `env` (one environment variable), `pid`. It speaks
the initialize handshake of the 2025 revisions, ping, tools/list and tools/call; anything else is "method not
found". Notifications are read and ignored. It says on stderr that it started.
"""

import json
import os
import sys

VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
TOOLS = [
    {"name": "echo", "description": "The text back.", "inputSchema": {"type": "object", "properties": {"text": {}}}},
    {"name": "env", "description": "One environment variable.", "inputSchema": {"type": "object"}},
    {"name": "pid", "description": "This process's id.", "inputSchema": {"type": "object"}},
]


def call(name: str, arguments: dict) -> str:
    if name == "echo":
        return str(arguments.get("text", ""))
    if name == "env":
        return os.environ.get(str(arguments.get("name", "")), "<unset>")
    if name == "pid":
        return str(os.getpid())
    raise KeyError(name)


def answer(message: dict) -> dict | None:
    method, params = message.get("method"), message.get("params") or {}
    if "id" not in message or method is None:
        return None
    reply: dict = {"jsonrpc": "2.0", "id": message["id"]}
    if method == "initialize":
        asked = params.get("protocolVersion")
        reply["result"] = {
            "protocolVersion": asked if asked in VERSIONS else VERSIONS[-1],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "plain", "version": "1"},
        }
    elif method == "ping":
        reply["result"] = {}
    elif method == "tools/list":
        reply["result"] = {"tools": TOOLS}
    elif method == "tools/call":
        try:
            text = call(str(params.get("name")), params.get("arguments") or {})
        except KeyError:
            reply["result"] = {"content": [{"type": "text", "text": "no such tool"}], "isError": True}
        else:
            reply["result"] = {"content": [{"type": "text", "text": text}], "isError": False}
    else:
        reply["error"] = {"code": -32601, "message": f"Method not found: {method}"}
    return reply


def main() -> None:
    print(f"plain: serving on stdio, pid {os.getpid()}", file=sys.stderr, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = answer(json.loads(line))
        if reply is not None:
            sys.stdout.write(json.dumps(reply, separators=(",", ":")) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
