"""Rule: the MCP headers a client mirrors from its message agree with the message, or the server never sees it.

MCP 2026-07-28 (Streamable HTTP, "Request Metadata") has clients copy the protocol version, the method and the
tool/prompt/resource name into `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`, so that intermediaries can
route and decide on headers alone. That is only safe when every hop checks that headers and body agree: a
mismatch is HTTP 400 with JSON-RPC error -32020 (HeaderMismatch); a version the platform does not serve is 400
with -32022 (UnsupportedProtocolVersion) naming the supported ones. `Mcp-Name` values may be carried as
`=?base64?...?=` and are decoded before comparing. Requests of the 2025 revisions carry no such headers; when a
client sends them anyway, they must agree too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hosted_mcp_gateway import jsonrpc

MODERN_VERSIONS = ("2026-07-28",)
LEGACY_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
SUPPORTED_VERSIONS = MODERN_VERSIONS + LEGACY_VERSIONS
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
NAME_PARAM = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
SENTINEL_PREFIX, SENTINEL_SUFFIX = "=?base64?", "?="

Era = Literal["modern", "legacy"]


@dataclass
class McpRequest:
    """A POSTed message as the data plane sees it after validation. The body is parsed only when something asks
    for it: a 2025-era request without mirrored headers is relayed as bytes, the cheapest hop there is."""

    era: Era
    body: bytes
    version: str | None
    _parsed: jsonrpc.Message | None = None
    _done: bool = False

    @property
    def message(self) -> jsonrpc.Message | None:
        """The JSON-RPC message; None when the body is not a single JSON-RPC object (left to the server)."""
        if not self._done:
            self._parsed, self._done = jsonrpc.parse(self.body), True
        return self._parsed

    @property
    def method(self) -> str | None:
        method = (self.message or {}).get("method")
        return method if isinstance(method, str) else None

    @property
    def id(self) -> Any:
        return (self.message or {}).get("id")


class HeaderProblem(Exception):
    """The request must be refused with HTTP 400 and this JSON-RPC error."""

    def __init__(self, request_id: Any, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.body = jsonrpc.error(request_id, code, message, data)


def body_version(message: jsonrpc.Message) -> str | None:
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    version = meta.get(PROTOCOL_VERSION_META) if isinstance(meta, dict) else None
    return version if isinstance(version, str) else None


def body_name(message: jsonrpc.Message) -> str | None:
    key = NAME_PARAM.get(message.get("method", ""))
    params = message.get("params")
    value = params.get(key) if key and isinstance(params, dict) else None
    return value if isinstance(value, str) else None


def decoded(value: str) -> str:
    """A header value with the Base64 sentinel encoding undone (ValueError when the encoding is broken)."""
    if value.startswith(SENTINEL_PREFIX) and value.endswith(SENTINEL_SUFFIX) and len(value) >= 11:
        inner = value[len(SENTINEL_PREFIX) : -len(SENTINEL_SUFFIX)]
        try:
            return base64.b64decode(inner, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise ValueError("not valid Base64 of UTF-8") from error
    return value


def validate(headers: Mapping[str, str], body: bytes) -> McpRequest:
    """Classify a POSTed body by protocol era and check its mirrored headers; HeaderProblem when they disagree."""
    header_version = headers.get("mcp-protocol-version")
    if (header_version is None or header_version in LEGACY_VERSIONS) and not (
        "mcp-method" in headers or "mcp-name" in headers or b"io.modelcontextprotocol/protocolVersion" in body
    ):
        return McpRequest("legacy", body, header_version)  # nothing mirrored, nothing modern: no need to parse
    message = jsonrpc.parse(body)
    if message is None:
        if header_version in MODERN_VERSIONS:
            raise HeaderProblem(None, jsonrpc.INVALID_REQUEST, "The body is not a single JSON-RPC message")
        return McpRequest("legacy", body, header_version, None, True)
    request_id = message.get("id")
    version = body_version(message)
    if header_version is not None and header_version not in SUPPORTED_VERSIONS:
        raise HeaderProblem(
            request_id,
            jsonrpc.UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
            {"supported": list(SUPPORTED_VERSIONS), "requested": header_version},
        )
    modern = header_version in MODERN_VERSIONS or version in MODERN_VERSIONS
    if modern and version != header_version:
        what = "missing" if header_version is None else f"{header_version!r}"
        raise HeaderProblem(
            request_id,
            jsonrpc.HEADER_MISMATCH,
            f"Header mismatch: MCP-Protocol-Version header {what} does not match body value {version!r}",
        )
    _check_mirrored(headers, message, required=modern and jsonrpc.is_request(message))
    return McpRequest("modern" if modern else "legacy", body, header_version, message, True)


def _check_mirrored(headers: Mapping[str, str], message: jsonrpc.Message, *, required: bool) -> None:
    request_id = message.get("id")
    method = message.get("method")
    for header, body_value in (("mcp-method", method), ("mcp-name", body_name(message))):
        value = headers.get(header)
        needed = required and (header == "mcp-method" or method in NAME_PARAM)
        if value is None:
            if needed:
                raise HeaderProblem(request_id, jsonrpc.HEADER_MISMATCH, f"Header mismatch: {header} is required")
            continue
        try:
            value = decoded(value) if header == "mcp-name" else value
        except ValueError as error:
            raise HeaderProblem(request_id, jsonrpc.HEADER_MISMATCH, f"Header mismatch: {header} {error}") from None
        if value != body_value:
            raise HeaderProblem(
                request_id,
                jsonrpc.HEADER_MISMATCH,
                f"Header mismatch: {header} header value {value!r} does not match body value {body_value!r}",
            )
