"""A dependency-free stdio MCP server: the standard library only, so it costs next to nothing per call.

The bridge benchmark hosts it behind every candidate bridge, so the CPU and memory the table shows are the
bridges', not a heavy server's. It speaks the initialize handshake of the 2025 revisions, ping, tools/list,
tools/call, logging/setLevel and resources/subscribe/unsubscribe; anything else is "method not found";
notifications are read and ignored. It says on stderr that it started.

Tools: `echo` (text back), `env` (one environment variable), `pid`, `log` (a logging notification at a level,
sent only when the level set by logging/setLevel lets it through), `touch` (notifications/resources/updated
for a URI, when it is subscribed), and `state` (the level and the subscriptions this process holds, as JSON).
"""

import json
import os
import sys

VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
TOOLS = [
    {"name": name, "description": description, "inputSchema": {"type": "object"}}
    for name, description in (
        ("echo", "The text back."),
        ("env", "One environment variable."),
        ("pid", "This process's id."),
        ("log", "A logging notification at a level."),
        ("touch", "notifications/resources/updated for a subscribed URI."),
        ("state", "The logging level and the subscriptions of this process."),
    )
]
state: dict = {"level": "debug", "subscriptions": set()}


def send(message: dict) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def call(name: str, arguments: dict) -> str:
    if name == "echo":
        return str(arguments.get("text", ""))
    if name == "env":
        return os.environ.get(str(arguments.get("name", "")), "<unset>")
    if name == "pid":
        return str(os.getpid())
    if name == "log":
        level = str(arguments.get("level", "info"))
        if LEVELS.index(level) >= LEVELS.index(state["level"]):
            params = {"level": level, "logger": "plain", "data": arguments.get("text", "")}
            send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})
        return "logged"
    if name == "touch":
        uri = str(arguments.get("uri", ""))
        if uri in state["subscriptions"]:
            send({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri}})
        return "touched"
    if name == "state":
        return json.dumps({"level": state["level"], "subscriptions": sorted(state["subscriptions"])})
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
            "capabilities": {"tools": {}, "logging": {}, "resources": {"subscribe": True}},
            "serverInfo": {"name": "plain", "version": "1"},
        }
    elif method in ("ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"):
        if method == "logging/setLevel":
            state["level"] = params["level"]
        elif method == "resources/subscribe":
            state["subscriptions"].add(params["uri"])
        elif method == "resources/unsubscribe":
            state["subscriptions"].discard(params["uri"])
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
            send(reply)


if __name__ == "__main__":
    main()
