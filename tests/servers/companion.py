"""A stdio MCP server on the official Python SDK whose tools make the server talk back to its client.

The bridge tests host it to see every kind of server→client message travel to the right session:

- `echo`, `env` (one variable of the server's environment), `pid`, `hold` (answers after a delay, to keep a
  request in flight), `big` (a large answer);
- `count` reports progress `steps` times before answering;
- `shout` sends a logging notification at a level, then answers;
- `sample` asks the client for an LLM completion (`sampling/createMessage`) and answers with its text;
- `ask` asks the client for a value (`elicitation/create`) and answers with it;
- `roots` asks the client for its roots (`roots/list`) and answers with their URIs;
- `grow` adds a tool and sends `notifications/tools/list_changed`; `murmur` sends a logging notification
  after it has answered (not related to any request any more).
- `die` ends the process without answering.

Run with the Python that has the SDK (mcp 2.x): `python tests/servers/companion.py`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import warnings

import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

# Logging and sampling are deprecated from 2026-07-28 on; this server speaks the 2025 revisions, where they are not.
warnings.filterwarnings("ignore", message="The .* capability is deprecated")

server = MCPServer("companion")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def env(name: str) -> str:
    """The value of one variable of this process's environment ("<unset>" when absent)."""
    return os.environ.get(name, "<unset>")


@server.tool()
def pid() -> str:
    """This process's id."""
    return str(os.getpid())


@server.tool()
async def hold(seconds: float, text: str = "held") -> str:
    """Answer `text` after `seconds`."""
    await asyncio.sleep(seconds)
    return text


@server.tool()
def big(size: int) -> str:
    """A string of `size` characters."""
    return "x" * size


@server.tool()
async def count(steps: int, ctx: Context) -> str:
    """Report progress `steps` times, then answer."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
    return f"counted {steps}"


@server.tool()
async def shout(text: str, ctx: Context, level: str = "info") -> str:
    """Send `text` as a logging notification at `level`, then answer."""
    await ctx.session.send_log_message(level=level, data=text, logger="companion")
    return f"shouted {text}"


@server.tool()
async def murmur(text: str, delay: float, ctx: Context) -> str:
    """Answer now, and send `text` as a logging notification `delay` seconds later."""
    session = ctx.session

    async def later() -> None:
        await asyncio.sleep(delay)
        await session.send_log_message(level="info", data=text, logger="companion")

    _background.add(asyncio.ensure_future(later()))
    return "murmured"


@server.tool()
async def sample(prompt: str, ctx: Context) -> str:
    """Ask the client's LLM; answer with the text it sampled."""
    result = await ctx.session.create_message(
        messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
        max_tokens=50,
    )
    content = result.content
    return content.text if isinstance(content, types.TextContent) else str(content)


class Answer(BaseModel):
    value: str


@server.tool()
async def ask(question: str, ctx: Context) -> str:
    """Ask the user for a value; answer with it (or with the action when they did not accept)."""
    result = await ctx.elicit(question, schema=Answer)
    if result.action == "accept" and result.data is not None:
        return result.data.value
    return result.action


@server.tool()
async def roots(ctx: Context) -> str:
    """The client's roots, as a comma-separated list of URIs."""
    listed = await ctx.session.list_roots()
    return ",".join(str(root.uri) for root in listed.roots)


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool called `name`, and tell clients that the list of tools changed."""
    server.add_tool(lambda: name, name=name, description=f"added by grow({name})")
    await ctx.session.send_tool_list_changed()
    return f"added {name}"


@server.tool()
def die() -> str:
    """End this process at once, answering nothing."""
    sys.stdout.flush()
    os._exit(3)


_background: set[asyncio.Future[None]] = set()

if __name__ == "__main__":
    server.run()
