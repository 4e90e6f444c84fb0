"""A minimal MCP client on the standard library, and the readiness probe built on it.

It speaks the streamable HTTP transport (JSON or SSE response bodies, `Mcp-Session-Id`) and the legacy SSE
transport (a GET event stream plus POSTed messages), just enough to prove a server answers MCP: `initialize`,
`notifications/initialized`, `tools/list`, then the session is closed. Standard library only, so it runs in a
Lambda layer and on one machine alike.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import count
from typing import Any, Protocol
from urllib.parse import parse_qs, urljoin, urlsplit

from hosted_mcp.models.domain import ServerRecord
from hosted_mcp.models.fields import ServerType
from hosted_mcp.ports import ReadinessProbe

PROTOCOL_VERSION = "2025-06-18"
CLIENT_INFO = {"name": "hosted-mcp-probe", "version": "1"}
MAX_BODY = 4 * 1024 * 1024


class McpProbeError(Exception):
    """The server did not answer MCP as it should; the message says what went wrong."""


class ProbeObserver(Protocol):
    """Told what the probe's traffic looks like from the server's side, so the server's log lines about it can be
    recognised (the local platform keeps health checks out of servers' logs this way)."""

    def connected(self, local_port: int) -> None: ...

    def session(self, session_id: str) -> None: ...


def _observe(conn: http.client.HTTPConnection, observer: ProbeObserver | None) -> None:
    if observer is not None and conn.sock is not None:
        try:
            observer.connected(int(conn.sock.getsockname()[1]))
        except (OSError, IndexError, TypeError):
            return


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise McpProbeError(f"not an http(s) URL: {url}")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return conn, target


def sse_events(response: http.client.HTTPResponse) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of an event stream, read line by line as they arrive."""
    event, data = "message", list[str]()
    while True:
        raw = response.readline(MAX_BODY)
        if not raw:
            return
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


def _result_of(message: dict[str, Any], method: str) -> dict[str, Any]:
    if "error" in message:
        error = message["error"] or {}
        text = error.get("message") or "no message"
        raise McpProbeError(f"{method} answered error {error.get('code')}: {text}")
    result = message.get("result")
    if not isinstance(result, dict):
        raise McpProbeError(f"{method} answered without a result")
    return result


class StreamableHttpClient:
    """One MCP session over streamable HTTP."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        observer: ProbeObserver | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.observer = observer
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self._ids = count(1)

    def _headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **self.headers,
        }
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    def _post(self, message: dict[str, Any]) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn, target = _connection(self.url, self.timeout)
        try:
            conn.request("POST", target, body=json.dumps(message).encode(), headers=self._headers())
            _observe(conn, self.observer)
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise McpProbeError(f"{message['method']}: {type(exc).__name__}: {exc}") from exc

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id = next(self._ids)
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        conn, response = self._post(message)
        try:
            if response.status != 200:
                raise McpProbeError(f"{method} answered HTTP {response.status}")
            session = response.getheader("Mcp-Session-Id")
            if session:
                self.session_id = session
                if self.observer is not None:
                    self.observer.session(session)
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            if content_type == "application/json":
                body = json.loads(response.read(MAX_BODY) or b"null")
                replies = body if isinstance(body, list) else [body]
                for reply in replies:
                    if isinstance(reply, dict) and reply.get("id") == request_id:
                        return _result_of(reply, method)
                raise McpProbeError(f"{method}: no answer in the JSON response")
            if content_type == "text/event-stream":
                for _event, data in sse_events(response):
                    reply = json.loads(data)
                    if isinstance(reply, dict) and reply.get("id") == request_id:
                        return _result_of(reply, method)
                raise McpProbeError(f"{method}: the event stream ended without an answer")
            raise McpProbeError(f"{method} answered with content type {content_type or 'none'}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise McpProbeError(f"{method}: {type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params:
            message["params"] = params
        conn, response = self._post(message)
        try:
            response.read(MAX_BODY)
            if response.status not in (200, 202, 204):
                raise McpProbeError(f"{method} answered HTTP {response.status}")
        finally:
            conn.close()

    def initialize(self) -> dict[str, Any]:
        result = self.request(
            "initialize",
            {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO},
        )
        self.protocol_version = str(result.get("protocolVersion") or PROTOCOL_VERSION)
        self.notify("notifications/initialized")
        return result

    def close(self) -> None:
        """End the session on the server (servers that do not support it answer 405, which is fine)."""
        if not self.session_id:
            return
        conn, target = _connection(self.url, self.timeout)
        try:
            conn.request("DELETE", target, headers=self._headers())
            _observe(conn, self.observer)
            conn.getresponse().read(MAX_BODY)
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
            self.session_id = None


class SseClient:
    """One MCP session over the legacy SSE transport: answers arrive on the GET stream."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        observer: ProbeObserver | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.observer = observer
        self._ids = count(1)
        self._conn: http.client.HTTPConnection | None = None
        self._events: Iterator[tuple[str, str]] | None = None
        self._endpoint: str | None = None

    def __enter__(self) -> SseClient:
        conn, target = _connection(self.url, self.timeout)
        self._conn = conn
        try:
            conn.request("GET", target, headers={"Accept": "text/event-stream", **self.headers})
            _observe(conn, self.observer)
            response = conn.getresponse()
            if response.status != 200:
                raise McpProbeError(f"GET {urlsplit(self.url).path} answered HTTP {response.status}")
            self._events = sse_events(response)
            for event, data in self._events:
                if event == "endpoint":
                    self._endpoint = urljoin(self.url, data.strip())
                    if self.observer is not None:
                        for session in parse_qs(urlsplit(self._endpoint).query).get("session_id", []):
                            self.observer.session(session)
                    break
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise McpProbeError(f"GET {urlsplit(self.url).path}: {type(exc).__name__}: {exc}") from exc
        if not self._endpoint:
            self.close()
            raise McpProbeError("the SSE stream sent no endpoint event")
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, message: dict[str, Any]) -> None:
        assert self._endpoint is not None
        conn, target = _connection(self._endpoint, self.timeout)
        try:
            conn.request(
                "POST",
                target,
                body=json.dumps(message).encode(),
                headers={"Content-Type": "application/json", **self.headers},
            )
            _observe(conn, self.observer)
            response = conn.getresponse()
            response.read(MAX_BODY)
            if response.status not in (200, 202, 204):
                raise McpProbeError(f"{message['method']} answered HTTP {response.status}")
        except (OSError, http.client.HTTPException) as exc:
            raise McpProbeError(f"{message['method']}: {type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        assert self._events is not None
        try:
            for event, data in self._events:
                if event != "message":
                    continue
                reply = json.loads(data)
                if isinstance(reply, dict) and reply.get("id") == request_id:
                    return _result_of(reply, method)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise McpProbeError(f"{method}: {type(exc).__name__}: {exc}") from exc
        raise McpProbeError(f"{method}: the event stream ended without an answer")

    def initialize(self) -> dict[str, Any]:
        result = self.request(
            "initialize",
            {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO},
        )
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result


def check_streamable_http(
    url: str,
    *,
    timeout: float = 5.0,
    headers: Mapping[str, str] | None = None,
    observer: ProbeObserver | None = None,
) -> int:
    """initialize + initialized + tools/list over streamable HTTP; the number of tools, or McpProbeError."""
    client = StreamableHttpClient(url, timeout=timeout, headers=headers, observer=observer)
    try:
        client.initialize()
        tools = client.request("tools/list").get("tools")
    finally:
        client.close()
    if not isinstance(tools, list):
        raise McpProbeError("tools/list answered without a tools list")
    return len(tools)


def check_sse(
    url: str,
    *,
    timeout: float = 5.0,
    headers: Mapping[str, str] | None = None,
    observer: ProbeObserver | None = None,
) -> int:
    """initialize + initialized + tools/list over the SSE transport; the number of tools, or McpProbeError."""
    with SseClient(url, timeout=timeout, headers=headers, observer=observer) as client:
        client.initialize()
        tools = client.request("tools/list").get("tools")
    if not isinstance(tools, list):
        raise McpProbeError("tools/list answered without a tools list")
    return len(tools)


def check_server(
    url: str, server_type: ServerType, *, timeout: float = 5.0, observer: ProbeObserver | None = None
) -> int:
    """Prove the MCP endpoint at `url` answers, with the transport its server type speaks. `tools/list` is what a
    wrapper (our bridge, mcp-proxy) forwards to the stdio server behind it, so this exercises the server itself, not
    only the wrapper (whose `initialize` and `ping` answers need no server)."""
    check = check_sse if server_type is ServerType.SSE else check_streamable_http
    try:
        return check(url, timeout=timeout, observer=observer)
    except TimeoutError as exc:  # socket.timeout on 3.11 is TimeoutError
        raise McpProbeError(f"no answer within {timeout:g}s") from exc
    except socket.gaierror as exc:
        raise McpProbeError(f"cannot resolve {urlsplit(url).hostname}: {exc}") from exc


class McpReadinessProbe(ReadinessProbe):
    """Ready = every endpoint `urls(record)` gives answers initialize + tools/list.

    `urls` maps a record to the MCP endpoint(s) of its deployment (one load-balanced URL on AWS, one per
    replica on one machine). `attempts` > 1 retries with `retry_delay` between tries, for servers that are
    still warming up behind a load balancer.
    """

    def __init__(
        self,
        urls: Callable[[ServerRecord], str | Sequence[str]],
        *,
        timeout: float = 5.0,
        attempts: int = 1,
        retry_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        observer: ProbeObserver | None = None,
    ) -> None:
        self._urls = urls
        self._observer = observer
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._retry_delay = retry_delay
        self._sleep = sleep

    def problem(self, record: ServerRecord) -> str | None:
        found = self._urls(record)
        urls = [found] if isinstance(found, str) else list(found)
        if not urls:
            return "the deployment has no running endpoint"
        for url in urls:
            problem = self._problem_at(url, record.spec.serverType)
            if problem:
                return problem
        return None

    def _problem_at(self, url: str, server_type: ServerType) -> str | None:
        problem: str | None = None
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._retry_delay)
            try:
                check_server(url, server_type, timeout=self._timeout, observer=self._observer)
                return None
            except McpProbeError as exc:
                problem = str(exc)
        return problem
