"""The URLs the API shows for a server point where callers reach it, also when no base URL is configured."""

from __future__ import annotations

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.api.app import build_resolver
from hosted_mcp.api.services import ApiServices
from tests.support.events import api_event, response_json

CREATE = {"name": "Docs MCP", "serverType": "stdio", "startCommand": "python server.py"}


def test_without_a_configured_base_url_the_urls_use_the_request_domain_and_stage() -> None:
    # Given an API whose deployment did not configure its public URL (as on AWS, where it cannot name itself)
    services = ApiServices(store=InMemoryServerStore())
    app = build_resolver(lambda: services)
    event = api_event("POST", "/mcp", body=CREATE)
    context = event["requestContext"]

    # When a server is created through API Gateway
    created = response_json(app.resolve(event, None))

    # Then its URLs are built from the domain and stage the request came through
    base = f"https://{context['domainName']}/{context['stage']}"
    assert created["url"] == f"{base}/mcp/docsmcp/mcp"
    assert created["sseUrl"] == f"{base}/mcp/docsmcp/sse"


def test_a_configured_base_url_wins_over_the_request() -> None:
    services = ApiServices(store=InMemoryServerStore(), base_url="https://mcp.example.com/")
    app = build_resolver(lambda: services)

    created = response_json(app.resolve(api_event("POST", "/mcp", body=CREATE), None))

    assert created["url"] == "https://mcp.example.com/mcp/docsmcp/mcp"
