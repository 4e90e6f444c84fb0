"""The management API over HTTP: one call, servers by id or name, pages, and the status event stream."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

from hosted_mcp_local.cli.config import connection
from hosted_mcp_local.cli.exits import CliError, Exit


class Api:
    def __init__(self, url: str, token: str | None) -> None:
        import httpx  # here, not at the top: `token`, `serve` and `--help` need no HTTP client

        self.url = url
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(30.0))

    @classmethod
    def of(cls, args: argparse.Namespace) -> Api:
        return cls(*connection(args))

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        import httpx

        try:
            response = self.client.request(method, path, json=body, params=params)
        except httpx.HTTPError as error:
            raise CliError(f"cannot reach {self.url}: {error}", Exit.UNREACHABLE) from error
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
            if error.code != Exit.NOT_FOUND:
                raise
        from hosted_mcp.models.fields import normalize_name

        wanted = normalize_name(ref)
        for server in self.pages("/mcp"):
            if server.get("normalizedName") == wanted:
                return server
        raise CliError(f"no server with id or name {ref}", Exit.NOT_FOUND)

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a paged list (`Items` + `nextToken`)."""
        token: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if token:
                params["nextToken"] = token
            page = self.call("GET", path, params=params)
            yield from page.get("Items", [])
            token = page.get("nextToken")
            if not token:
                return

    def status_events(self, params: dict[str, str], read_timeout: float) -> Iterator[dict[str, Any]]:
        """Status events from GET /events, parsed ({} for a comment: the stream is open); ends when the stream does."""
        import httpx

        with self.client.stream(
            "GET", "/events", params=params, timeout=httpx.Timeout(10.0, read=read_timeout)
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise api_error(response.status_code, response.text)
            data: list[str] = []
            for line in response.iter_lines():
                if line.startswith(":"):
                    yield {}
                elif line.startswith("data:"):
                    data.append(line.removeprefix("data:").strip())
                elif not line and data:
                    yield json.loads("\n".join(data))
                    data = []


def api_error(status: int, text: str) -> CliError:
    try:
        body = json.loads(text)
        message = body.get("message") or text
        if body.get("errors"):
            message = "; ".join(f"{e['field']}: {e['message']}" for e in body["errors"])
    except (ValueError, AttributeError, KeyError, TypeError):
        message = text or "no details"
    code = {401: Exit.AUTH, 403: Exit.AUTH, 404: Exit.NOT_FOUND}.get(status, Exit.API_ERROR)
    return CliError(f"HTTP {status}: {message}", code, status=status)
