"""Identity to the server, never the credential: template.yaml's data-plane integration maps the caller the
authorizer established onto the identity headers (replacing any the client sent under those names), sets
`Authorization` from the authorizer's `upstreamAuthorization` (empty unless the server opted in), blanks `X-Api-Key`
and `Cookie`, and sends the path the router serves, without the stage. Then, through the real router, a forged
identity and the caller's credentials never reach the server, whether API Gateway sends an empty mapped header or
leaves it out.

Every expectation is read from template.yaml and from `hosted_mcp.auth.gateway`, so neither can drift.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

import httpx
import pytest

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.auth.forwarding import CREDENTIAL_TYPE_HEADER, GROUPS_HEADER, USER_HEADER, identity_headers
from hosted_mcp.auth.gateway import UPSTREAM_AUTHORIZATION, UPSTREAM_CONTEXT
from hosted_mcp.auth.roles import data_plane_server
from hosted_mcp.models.domain import Caller
from hosted_mcp_gateway.router import DATA_PLANE_ROUTE, create_app
from tests.support.ddb import load_template
from tests.support.events import STAGE
from tests.support.router import INITIALIZE, Replica, in_service, settings

ROUTE = "/mcp/{serverId}/{proxy+}"
HEADER = "integration.request.header."
JWT = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl"
API_KEY = "hmk_0123456789abcdef_" + "a" * 43
ADA = Caller(username="ada", groups=("demo",), credentialType="jwt")


def integration() -> dict[str, Any]:
    paths = load_template()["Resources"]["Api"]["Properties"]["DefinitionBody"]["paths"]
    return dict(paths[ROUTE]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"])


def header_mappings() -> dict[str, str]:
    """Integration request header -> its source, as template.yaml maps them."""
    return {k.removeprefix(HEADER): v for k, v in integration()["requestParameters"].items() if k.startswith(HEADER)}


# -- the mapping itself --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "key"), sorted(UPSTREAM_CONTEXT.items()))
def test_each_identity_header_is_set_from_the_authorizers_context(header: str, key: str) -> None:
    assert header_mappings().get(header) == f"context.authorizer.{key}", f"{header} is not mapped from the caller"


def test_the_identity_headers_are_the_ones_the_router_trusts() -> None:
    assert set(UPSTREAM_CONTEXT) == {USER_HEADER, GROUPS_HEADER, CREDENTIAL_TYPE_HEADER}


def test_authorization_is_replaced_by_what_the_authorizer_decided_to_forward() -> None:
    assert header_mappings().get("Authorization") == f"context.authorizer.{UPSTREAM_AUTHORIZATION}"


@pytest.mark.parametrize("header", ["X-Api-Key", "Cookie"])
def test_platform_credentials_the_client_may_send_are_blanked(header: str) -> None:
    assert header_mappings().get(header) == "''"


def test_no_header_is_copied_from_the_client_by_the_mapping() -> None:
    # The mapping only sets headers from the authorizer or blanks them; a `method.request.header.*` source would copy
    # what the client sent
    for header, source in header_mappings().items():
        assert source.startswith("context.authorizer.") or source == "''", (header, source)


# -- the path -------------------------------------------------------------------------------------------------------


def integration_path(server_id: str, proxy: str) -> str:
    """The path API Gateway sends to the ALB for `/mcp/{serverId}/{proxy+}`: the integration URI's, filled in."""
    uri = integration()["uri"]["Fn::Sub"]
    path = re.sub(r"^http://\$\{[^}]+\}", "", uri)
    return path.replace("{serverId}", server_id).replace("{proxy}", proxy)


@pytest.mark.parametrize(
    ("proxy", "rest"),
    [("mcp", "mcp"), ("sse", "sse"), ("messages/", "messages/"), ("mcp/extra/part", "mcp/extra/part")],
)
def test_the_integration_sends_the_path_the_router_serves_without_the_stage(proxy: str, rest: str) -> None:
    # Given a client calling <stage>/mcp/docs/<proxy>
    path = integration_path("docs", proxy)
    # Then the router gets /mcp/docs/<proxy>: its route matches, it names the same server the authorizer judged
    assert not path.startswith(f"/{STAGE}/")
    match = DATA_PLANE_ROUTE.match(path)
    assert match is not None, path
    assert match.group("rest") == rest
    assert data_plane_server("POST", path) == "docs"
    params = integration()["requestParameters"]
    assert params["integration.request.path.serverId"] == "method.request.path.serverId"
    assert params["integration.request.path.proxy"] == "method.request.path.proxy"


# -- through the edge and the router to the server -------------------------------------------------------------------

EmptyValue = Literal["sent empty", "left out"]


def through_the_edge(client: dict[str, str], context: dict[str, str], empty: EmptyValue) -> dict[str, str]:
    """The headers the router receives: the client's, with every mapped header replaced as template.yaml says.
    `empty` is what API Gateway does with a mapped value that is empty (sends it empty, or leaves the header out
    and the client's passes): the outcome must be safe either way."""
    headers = dict(client)
    for header, source in header_mappings().items():
        if source.startswith("context.authorizer."):
            value = context[source.removeprefix("context.authorizer.")]
        else:
            value = source.strip("'")
        if value == "" and empty == "left out":
            continue
        headers = {k: v for k, v in headers.items() if k.lower() != header.lower()}
        headers[header] = value
    return headers


def authorizer_context(caller: Caller, forwarded: str) -> dict[str, str]:
    """What `hosted_mcp.auth.gateway.authorize` puts in the context of an allowed data-plane call."""
    context = {UPSTREAM_CONTEXT[name]: value for name, value in identity_headers(caller).items()}
    context[UPSTREAM_AUTHORIZATION] = forwarded
    return context


@pytest.mark.parametrize("empty", ["sent empty", "left out"])
@pytest.mark.parametrize("opted_in", [False, True], ids=["default", "opted-in"])
def test_a_forged_identity_and_the_callers_credentials_never_reach_the_server(
    empty: EmptyValue, opted_in: bool
) -> None:
    # Given a client who signs in with a JWT, claims to be an admin and adds an API key and a cookie
    client = {
        "Authorization": JWT,
        "X-Api-Key": API_KEY,
        "Cookie": "session=1",
        USER_HEADER: "admin",
        GROUPS_HEADER: '["admin"]',
        "X-Hosted-Mcp-Role": "admin",
        "Content-Type": "application/json",
    }
    context = authorizer_context(ADA, JWT if opted_in else "")
    store = InMemoryServerStore()

    async def scenario() -> bytes:
        replica = Replica("a")
        await replica.start()
        record = in_service(store, ["demo"], replica.port)
        if opted_in:
            spec = record.spec.model_copy(update={"forwardCallerToken": True})
            store.replace(record, record.evolve(spec=spec), None)
        app = create_app(settings(), store.get_by_name, resolve=lambda host: ["127.0.0.1"])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alb.internal") as http:
            # When the call crosses the edge (the template's mapping) and the router
            answer = await http.post(
                integration_path("echo", "mcp"), json=INITIALIZE, headers=through_the_edge(client, context, empty)
            )
        assert answer.status_code == 200, answer.text
        return replica.heads[0].decode("latin-1").lower()

    head = asyncio.run(asyncio.wait_for(scenario(), 20))
    received = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
    # Then the server hears who really called, once, and nothing else under the platform's prefix
    assert {k: v for k, v in received.items() if k.startswith("x-hosted-mcp-")} == {
        k.lower(): v.lower() for k, v in identity_headers(ADA).items()
    }
    # And no platform credential; the caller's JWT only where the server opted in
    assert "x-api-key" not in received
    assert "cookie" not in received
    assert received.get("authorization") == (JWT.lower() if opted_in else None)
