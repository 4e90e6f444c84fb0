"""The authorizer's tool decision: per request, from the MCP headers it sees, and never served from a cache."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.auth import Authenticator, InMemoryApiKeyStore, RefreshingJwks
from hosted_mcp.auth.gateway import AuthorizerRequest, authorize
from hosted_mcp.logic.servers import create_server
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.domain import Caller
from hosted_mcp.models.fields import ServerStatus
from tests.support.ddb import load_template
from tests.support.gateway import authorizer_event, method_arn, policy_allows
from tests.support.policy_matrix import ALLOWED, EVERY, GROUPS, POLICY, PROMPTS_TRIED, RESOURCES_TRIED, TOOLS_TRIED
from tests.support.tokens import TestIdp

PATH = "/mcp/policied/mcp"
KIND = {"tools/call": "tools", "prompts/get": "prompts", "resources/read": "resources"}
TRIED = {"tools/call": TOOLS_TRIED, "prompts/get": list(PROMPTS_TRIED), "resources/read": RESOURCES_TRIED}


@pytest.fixture(scope="module")
def setting() -> tuple[TestIdp, Authenticator, InMemoryServerStore]:
    idp = TestIdp()
    store = InMemoryServerStore()
    body = {"name": "policied", "serverType": "http", "startCommand": "x", "groups": GROUPS, "toolPolicy": POLICY}
    admin = Caller(username="admin", isAdmin=True)
    record = create_server(store, CreateServerRequest.model_validate(body), admin, now=datetime.now(UTC))
    move(store, record, ServerStatus.IN_SERVICE, actor="t", reason="ready", now=datetime.now(UTC))
    return idp, Authenticator(idp.settings(), RefreshingJwks(idp.source()), InMemoryApiKeyStore()), store


def decide(setting: tuple[TestIdp, Authenticator, InMemoryServerStore], caller: str, headers: dict[str, str]) -> bool:
    idp, authenticator, store = setting
    token = idp.mint(caller.replace("+", "-"), ALLOWED[caller][0])
    event = authorizer_event("POST", PATH, {"Authorization": f"Bearer {token}", **headers})
    answer = authorize(AuthorizerRequest.model_validate(event), authenticator, store)
    return policy_allows(answer, method_arn("POST", PATH))


CELLS = [
    pytest.param(caller, method, name, id=f"{caller}-{method}-{name}")
    for caller in ALLOWED
    for method, names in TRIED.items()
    for name in names
]


@pytest.mark.parametrize(("caller", "method", "name"), CELLS)
def test_a_2026_request_is_decided_at_the_edge_by_its_headers(
    setting: tuple[TestIdp, Authenticator, InMemoryServerStore], caller: str, method: str, name: str
) -> None:
    # Given a caller's request that names its target in the mirrored MCP headers
    allowed = ALLOWED[caller][1][KIND[method]]
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method, "Mcp-Name": name}

    # Then the authorizer allows exactly what the caller's groups may use
    assert decide(setting, caller, headers) is (allowed is EVERY or name in allowed)


@pytest.mark.parametrize("caller", list(ALLOWED))
def test_a_name_in_base64_is_decided_on_what_it_says(
    setting: tuple[TestIdp, Authenticator, InMemoryServerStore], caller: str
) -> None:
    encoded = "=?base64?" + base64.b64encode(b"test_simple_text").decode() + "?="
    allowed = "test_simple_text" in (ALLOWED[caller][1]["tools"] or set())
    assert decide(setting, caller, {"Mcp-Method": "tools/call", "Mcp-Name": encoded}) is allowed


@pytest.mark.parametrize("caller", list(ALLOWED))
def test_what_the_headers_do_not_name_is_left_to_the_router(
    setting: tuple[TestIdp, Authenticator, InMemoryServerStore], caller: str
) -> None:
    # A 2025 request (no mirrored headers) and a list: the caller may use the server; the body is the router's
    assert decide(setting, caller, {})
    assert decide(setting, caller, {"Mcp-Method": "tools/list"})


def test_the_data_plane_authorizer_is_never_cached_and_keys_on_nothing_a_request_may_lack() -> None:
    # An Allow for one tool must not be reused for another: API Gateway evaluates a cached policy against the method
    # ARN, which names no tool, so the data plane's authorizer answers are not cached at all
    api = load_template()["Resources"]["Api"]["Properties"]
    route = api["DefinitionBody"]["paths"]["/mcp/{serverId}/{proxy+}"]["x-amazon-apigateway-any-method"]
    (name,) = route["security"][0]
    authorizer = api["Auth"]["Authorizers"][name]
    assert authorizer["Identity"]["ReauthorizeEvery"] == 0
    # and no MCP header is an identity source: API Gateway would answer 401 to every request without it
    assert authorizer["Identity"]["Headers"] == ["Authorization"]
    assert name != api["Auth"]["DefaultAuthorizer"]
