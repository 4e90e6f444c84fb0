"""The MCP server the conformance bench hosts: every tool, resource and prompt the server scenarios of
`@modelcontextprotocol/conformance` call, on the MCP Python SDK 2.x low-level `Server`.

Transports: stdio (the default: the platform wraps it for `serverType: stdio`), streamable HTTP at `/mcp` on
127.0.0.1:$PORT when PORT is set, or SSE (`/sse` + `/messages/`) when MCP_TRANSPORT=sse as well.

Besides the scenarios' fixtures it has `slow_progress` (a long tool that reports progress as it goes), which the
bench uses to show that progress reaches a client before the result. `test_sampling` and `test_elicitation` serve
both eras: a server->client request on 2025 connections, a multi-round trip (`input_required`, then the client's
retry with its answer and the sealed request state) on 2026-07-28 ones.

The low-level server is used on purpose: each answer is written out here as the suite expects it on the wire,
with nothing derived from Python signatures, and each request the suite sends has its own handler.
"""

from __future__ import annotations

import base64
import json
import os
import warnings
from collections.abc import Awaitable, Callable
from itertools import count
from typing import Any

import anyio
from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import JSONRPCMessage
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

# Logging, sampling and progress are deprecated as of 2026-07-28 yet still part of the 2025 protocol this serves.
warnings.simplefilter("ignore", MCPDeprecationWarning)

Context = ServerRequestContext[Any, Any]
ToolAnswer = types.CallToolResult | types.InputRequiredResult
ToolHandler = Callable[[Context, types.CallToolRequestParams], Awaitable[ToolAnswer]]

# A 1x1 red PNG and a 1-sample 8 kHz mono WAV, built once.
RED_PIXEL_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
        "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082"
    )
).decode()
SILENT_WAV = base64.b64encode(
    b"RIFF"
    + (38).to_bytes(4, "little")
    + b"WAVEfmt "
    + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little")  # PCM
    + (1).to_bytes(2, "little")  # mono
    + (8000).to_bytes(4, "little")
    + (16000).to_bytes(4, "little")
    + (2).to_bytes(2, "little")
    + (16).to_bytes(2, "little")
    + b"data"
    + (2).to_bytes(4, "little")
    + b"\x00\x00"
).decode()

NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}}


def text(value: str) -> types.TextContent:
    return types.TextContent(type="text", text=value)


def result(*content: types.ContentBlock, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=list(content), is_error=is_error)


# -- tools ------------------------------------------------------------------------------------------------------


async def simple_text(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    return result(text("This is a simple text response for testing."))


async def image_content(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    return result(types.ImageContent(type="image", data=RED_PIXEL_PNG, mime_type="image/png"))


async def audio_content(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    return result(types.AudioContent(type="audio", data=SILENT_WAV, mime_type="audio/wav"))


async def embedded_resource(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    resource = types.TextResourceContents(
        uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
    )
    return result(types.EmbeddedResource(type="resource", resource=resource))


async def multiple_content_types(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    resource = types.TextResourceContents(
        uri="test://mixed-content-resource",
        mime_type="application/json",
        text=json.dumps({"test": "data", "value": 123}),
    )
    return result(
        text("Multiple content types test:"),
        types.ImageContent(type="image", data=RED_PIXEL_PNG, mime_type="image/png"),
        types.EmbeddedResource(type="resource", resource=resource),
    )


async def with_logging(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    for step, message in enumerate(("Tool execution started", "Tool processing data", "Tool execution completed")):
        if step:
            await anyio.sleep(0.05)
        await ctx.session.send_log_message("info", message, related_request_id=ctx.request_id)
    return result(text("Tool with logging executed successfully"))


async def error_handling(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    return result(text("This tool intentionally returns an error for testing"), is_error=True)


async def with_progress(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    for step, progress in enumerate((0, 50, 100)):
        if step:
            await anyio.sleep(0.05)
        await ctx.session.report_progress(progress, 100)
    return result(text("Tool with progress executed successfully"))


async def slow_progress(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    """`steps` progress notifications, `intervalMs` apart, then the result."""
    arguments = params.arguments or {}
    steps = int(arguments.get("steps", 5))
    interval = float(arguments.get("intervalMs", 400)) / 1000
    for step in range(1, steps + 1):
        await anyio.sleep(interval)
        await ctx.session.report_progress(step, steps, f"step {step} of {steps}")
    return result(text(f"done after {steps} steps"))


def input_response(params: types.CallToolRequestParams) -> types.InputResponse | None:
    return (params.input_responses or {}).get("input")


def ask_again(request: types.InputRequest) -> types.InputRequiredResult:
    """2026-07-28 has no server->client requests: the tool answers input_required, and the client retries the call
    with its answer and the request state (which the SDK seals with this process's key)."""
    return types.InputRequiredResult(input_requests={"input": request}, request_state="asked")


async def sampling(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    messages = [types.SamplingMessage(role="user", content=text(str((params.arguments or {})["prompt"])))]
    answer: types.InputResponse | None
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        answer = input_response(params)
        if answer is None:
            request_params = types.CreateMessageRequestParams(messages=messages, max_tokens=100)
            return ask_again(types.CreateMessageRequest(params=request_params))
    else:
        answer = await ctx.session.create_message(messages=messages, max_tokens=100, related_request_id=ctx.request_id)
    if not isinstance(answer, types.CreateMessageResult):
        return result(text(f"unexpected answer: {answer}"), is_error=True)
    content = answer.content
    reply = content.text if isinstance(content, types.TextContent) else json.dumps(answer.model_dump(mode="json"))
    return result(text(f"LLM response: {reply}"))


async def elicitation(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    message = str((params.arguments or {})["message"])
    answer: types.InputResponse | None
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        answer = input_response(params)
        if answer is None:
            form = types.ElicitRequestFormParams(message=message, requested_schema=schema)
            return ask_again(types.ElicitRequest(params=form))
    else:
        answer = await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)
    if not isinstance(answer, types.ElicitResult):
        return result(text(f"unexpected answer: {answer}"), is_error=True)
    return result(text(f"User response: action={answer.action}, content={json.dumps(answer.content)}"))


async def elicitation_defaults(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "default": "John Doe"},
            "age": {"type": "integer", "default": 30},
            "score": {"type": "number", "default": 95.5},
            "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
            "verified": {"type": "boolean", "default": True},
        },
    }
    answer = await ctx.session.elicit_form("Defaults for every primitive type", schema, ctx.request_id)
    return result(text(f"Elicitation completed: action={answer.action}, content={json.dumps(answer.content)}"))


async def elicitation_enums(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    def titled(prefix: str, titles: tuple[str, ...]) -> list[dict[str, str]]:
        return [{"const": f"{prefix}{n}", "title": title} for n, title in enumerate(titles, start=1)]

    options = ["option1", "option2", "option3"]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": options},
            "titledSingle": {"type": "string", "oneOf": titled("value", ("First Option", "Second Option", "Third"))},
            "legacyEnum": {
                "type": "string",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {"type": "array", "items": {"type": "string", "enum": options}},
            "titledMulti": {
                "type": "array",
                "items": {"anyOf": titled("value", ("First Choice", "Second Choice", "Third Choice"))},
            },
        },
    }
    answer = await ctx.session.elicit_form("Every enum variant", schema, ctx.request_id)
    return result(text(f"Elicitation completed: action={answer.action}, content={json.dumps(answer.content)}"))


async def reconnection(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    """Closes the response stream mid-call (SEP-1699): the client resumes with Last-Event-ID to get the result."""
    await anyio.sleep(0.1)
    if ctx.close_sse_stream is not None:
        await ctx.close_sse_stream()
    await anyio.sleep(0.2)
    return result(text("Reconnection test completed"))


async def json_schema(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    return result(text(f"Received: {json.dumps(params.arguments or {})}"))


TOOLS: dict[str, tuple[str, dict[str, Any], ToolHandler]] = {
    "test_simple_text": ("Returns one text block", NO_ARGUMENTS, simple_text),
    "test_image_content": ("Returns a PNG image", NO_ARGUMENTS, image_content),
    "test_audio_content": ("Returns a WAV clip", NO_ARGUMENTS, audio_content),
    "test_embedded_resource": ("Returns an embedded text resource", NO_ARGUMENTS, embedded_resource),
    "test_multiple_content_types": ("Returns text, image and resource", NO_ARGUMENTS, multiple_content_types),
    "test_tool_with_logging": ("Logs three messages while it runs", NO_ARGUMENTS, with_logging),
    "test_error_handling": ("Always answers with isError", NO_ARGUMENTS, error_handling),
    "test_tool_with_progress": ("Reports progress 0, 50, 100 of 100", NO_ARGUMENTS, with_progress),
    "test_sampling": (
        "Asks the client's LLM (sampling/createMessage)",
        {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]},
        sampling,
    ),
    "test_elicitation": (
        "Asks the user (elicitation/create)",
        {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
        elicitation,
    ),
    "test_elicitation_sep1034_defaults": ("Elicits with defaults (SEP-1034)", NO_ARGUMENTS, elicitation_defaults),
    "test_elicitation_sep1330_enums": ("Elicits every enum variant (SEP-1330)", NO_ARGUMENTS, elicitation_enums),
    "test_reconnection": ("Closes its response stream mid-call (SEP-1699)", NO_ARGUMENTS, reconnection),
    "json_schema_2020_12_tool": (
        "Tool with JSON Schema 2020-12 features",
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}
            },
            "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
            "additionalProperties": False,
        },
        json_schema,
    ),
    "slow_progress": (
        "Reports progress every intervalMs for steps steps, then answers",
        {"type": "object", "properties": {"steps": {"type": "integer"}, "intervalMs": {"type": "integer"}}},
        slow_progress,
    ),
}


async def list_tools(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(
        tools=[
            types.Tool(name=name, description=description, input_schema=schema)
            for name, (description, schema, _) in TOOLS.items()
        ]
    )


async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> ToolAnswer:
    if params.name not in TOOLS:
        raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
    return await TOOLS[params.name][2](ctx, params)


# -- resources --------------------------------------------------------------------------------------------------

STATIC_TEXT = "This is the content of the static text resource."
RESOURCES = [
    types.Resource(uri="test://static-text", name="static-text", description="Static text", mime_type="text/plain"),
    types.Resource(uri="test://static-binary", name="static-binary", description="A PNG", mime_type="image/png"),
    types.Resource(uri="test://watched-resource", name="watched", description="Subscribable", mime_type="text/plain"),
]


async def list_resources(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
    return types.ListResourcesResult(resources=RESOURCES)


async def list_templates(
    ctx: Context, params: types.PaginatedRequestParams | None
) -> types.ListResourceTemplatesResult:
    template = types.ResourceTemplate(
        uri_template="test://template/{id}/data",
        name="template-data",
        description="Data for an id",
        mime_type="application/json",
    )
    return types.ListResourceTemplatesResult(resource_templates=[template])


async def read_resource(ctx: Context, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
    uri = str(params.uri)
    contents: types.TextResourceContents | types.BlobResourceContents
    if uri == "test://static-text":
        contents = types.TextResourceContents(uri=uri, mime_type="text/plain", text=STATIC_TEXT)
    elif uri == "test://static-binary":
        contents = types.BlobResourceContents(uri=uri, mime_type="image/png", blob=RED_PIXEL_PNG)
    elif uri == "test://watched-resource":
        contents = types.TextResourceContents(uri=uri, mime_type="text/plain", text="watched")
    elif uri.startswith("test://template/") and uri.endswith("/data"):
        item = uri.removeprefix("test://template/").removesuffix("/data")
        data = {"id": item, "templateTest": True, "data": f"Data for ID: {item}"}
        contents = types.TextResourceContents(uri=uri, mime_type="application/json", text=json.dumps(data))
    else:
        raise MCPError(types.INVALID_PARAMS, f"Resource not found: {uri}")
    return types.ReadResourceResult(contents=[contents])


SUBSCRIPTIONS: set[str] = set()


async def subscribe(ctx: Context, params: types.SubscribeRequestParams) -> types.EmptyResult:
    SUBSCRIPTIONS.add(str(params.uri))
    return types.EmptyResult()


async def unsubscribe(ctx: Context, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
    SUBSCRIPTIONS.discard(str(params.uri))
    return types.EmptyResult()


# -- prompts, completion, logging -------------------------------------------------------------------------------

PROMPTS = [
    types.Prompt(name="test_simple_prompt", description="A prompt without arguments"),
    types.Prompt(
        name="test_prompt_with_arguments",
        description="A prompt with two arguments",
        arguments=[
            types.PromptArgument(name="arg1", description="First test argument", required=True),
            types.PromptArgument(name="arg2", description="Second test argument", required=True),
        ],
    ),
    types.Prompt(
        name="test_prompt_with_embedded_resource",
        description="A prompt embedding a resource",
        arguments=[types.PromptArgument(name="resourceUri", description="URI to embed", required=True)],
    ),
    types.Prompt(name="test_prompt_with_image", description="A prompt with an image"),
]


async def list_prompts(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
    return types.ListPromptsResult(prompts=PROMPTS)


def user(content: types.ContentBlock) -> types.PromptMessage:
    return types.PromptMessage(role="user", content=content)


async def get_prompt(ctx: Context, params: types.GetPromptRequestParams) -> types.GetPromptResult:
    arguments = params.arguments or {}
    if params.name == "test_simple_prompt":
        messages = [user(text("This is a simple prompt for testing."))]
    elif params.name == "test_prompt_with_arguments":
        messages = [user(text(f"Prompt with arguments: arg1='{arguments['arg1']}', arg2='{arguments['arg2']}'"))]
    elif params.name == "test_prompt_with_embedded_resource":
        resource = types.TextResourceContents(
            uri=arguments["resourceUri"], mime_type="text/plain", text="Embedded resource content for testing."
        )
        messages = [
            user(types.EmbeddedResource(type="resource", resource=resource)),
            user(text("Please process the embedded resource above.")),
        ]
    elif params.name == "test_prompt_with_image":
        messages = [
            user(types.ImageContent(type="image", data=RED_PIXEL_PNG, mime_type="image/png")),
            user(text("Please analyze the image above.")),
        ]
    else:
        raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}")
    return types.GetPromptResult(messages=messages)


CITIES = ["paris", "park", "party", "prague"]


async def complete(ctx: Context, params: types.CompleteRequestParams) -> types.CompleteResult:
    values = [city for city in CITIES if city.startswith(params.argument.value)]
    return types.CompleteResult(completion=types.Completion(values=values, total=len(values), has_more=False))


async def set_logging_level(ctx: Context, params: types.SetLevelRequestParams) -> types.EmptyResult:
    return types.EmptyResult()


def build_server() -> Server[Any]:
    server: Server[Any] = Server(
        "hosted-mcp-conformance",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
        on_set_logging_level=set_logging_level,
    )
    # requestState is sealed as MCPServer does by default: with this process's own key, unless the platform hands
    # every replica the same one (HOSTED_MCP_REQUEST_STATE_KEY, the name this bench proposes for issue 10 build 6).
    shared_key = os.environ.get("HOSTED_MCP_REQUEST_STATE_KEY")
    security = RequestStateSecurity(keys=[shared_key]) if shared_key else RequestStateSecurity.ephemeral()
    server.middleware.append(RequestStateBoundary(security, default_audience=server.name))
    return server


# -- transports -------------------------------------------------------------------------------------------------


class MemoryEventStore(EventStore):
    """Every event of every stream, kept for the process's life: enough for a test server to be resumable."""

    def __init__(self) -> None:
        self._events: list[tuple[StreamId, EventId, JSONRPCMessage | None]] = []
        self._ids = count(1)

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = str(next(self._ids))
        self._events.append((stream_id, event_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        found = [i for i, (_, event_id, _) in enumerate(self._events) if event_id == last_event_id]
        if not found:
            return None
        stream_id = self._events[found[0]][0]
        for other_stream, event_id, message in self._events[found[0] + 1 :]:
            if other_stream == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


def serve_http(server: Server[Any], port: int) -> None:
    import uvicorn

    app = server.streamable_http_app(event_store=MemoryEventStore(), retry_interval=500, host="127.0.0.1")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def serve_sse(server: Server[Any], port: int) -> None:
    import uvicorn
    from mcp.server.sse import SseServerTransport
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )
    transport = SseServerTransport("/messages/", security_settings=security)

    async def connect(request: Request) -> Response:
        async with transport.connect_sse(request.scope, request.receive, request._send) as (read, write):
            await server.run(read, write, server.create_initialization_options())
        return Response()

    app = Starlette(
        routes=[Route("/sse", connect, methods=["GET"]), Mount("/messages/", app=transport.handle_post_message)]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def serve_stdio(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main() -> None:
    server = build_server()
    port = os.environ.get("PORT")
    if port is None:
        anyio.run(serve_stdio, server)
    elif os.environ.get("MCP_TRANSPORT") == "sse":
        serve_sse(server, int(port))
    else:
        serve_http(server, int(port))


if __name__ == "__main__":
    main()
