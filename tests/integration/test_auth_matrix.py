"""The role x route matrix against the real Lambda authorizer and management API handler, in-process.

Each request goes through the authorizer; when it allows a management route, the API handler gets the
authorizer's context, as API Gateway would pass it (tests/support/auth_platform.py). The cases come from
tests/support/auth_matrix.py, which the local gateway's suite runs too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hosted_mcp.auth.gateway import UPSTREAM_AUTHORIZATION
from hosted_mcp.models.domain import Caller
from tests.support.auth_matrix import (
    MatrixCase,
    Outcome,
    every_management_route_covered,
    matrix_cases,
    outcome_of,
)
from tests.support.auth_platform import OPTED_IN, Platform, aws_auth_platform
from tests.support.events import api_event
from tests.support.gateway import method_arn, policy_allows
from tests.support.lambdas import FakeLambdaContext


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    with aws_auth_platform() as running:
        yield running


def test_the_matrix_covers_every_management_route() -> None:
    assert every_management_route_covered() == set()


CASES = matrix_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_role_by_route(platform: Platform, case: MatrixCase) -> None:
    # Given the caller and route of this case, When the request goes through API Gateway's authorizer (and the
    # API handler when it is a management route), Then the outcome is the expected one: no surprise allow or deny.
    status = platform.status(case.principal, case.route)
    assert outcome_of(status) is case.expected, f"status {status}"


def test_the_matrix_expects_both_allows_and_denies() -> None:
    by_principal: dict[str, set[Outcome]] = {}
    for case in CASES:
        by_principal.setdefault(case.principal.name, set()).add(case.expected)
    assert by_principal["member"] == {Outcome.ALLOW, Outcome.FORBIDDEN}
    assert by_principal["non-member"] == {Outcome.ALLOW, Outcome.FORBIDDEN}
    assert by_principal["admin"] == {Outcome.ALLOW, Outcome.FORBIDDEN}
    assert by_principal["anonymous"] == {Outcome.ALLOW, Outcome.UNAUTHENTICATED}  # allowed: the OpenAPI document
    assert by_principal["revoked-api-key"] == by_principal["expired-api-key"] == by_principal["anonymous"]


# -- the cached-policy case ----------------------------------------------------------------------------------


def member_headers(platform: Platform) -> dict[str, str]:
    return platform.credentials["member"]


def test_a_cached_allow_for_one_server_and_method_opens_nothing_else(platform: Platform) -> None:
    # Given API Gateway cached the member's Allow for GET on the private server's streamable endpoint
    private, public = platform.values["private.name"], platform.values["public.name"]
    decided = f"/mcp/{private}/mcp"
    answer = platform.authorize("GET", decided, member_headers(platform))
    assert answer is not None
    assert policy_allows(answer, method_arn("GET", decided))
    # When it is evaluated for any other method, route or server, Then it matches none of them
    others = [
        ("POST", decided),
        ("DELETE", decided),
        ("GET", f"/mcp/{private}/sse"),
        ("GET", f"/mcp/{public}/mcp"),
        ("GET", f"/mcp/{platform.values[OPTED_IN + '.name']}/mcp"),
        ("GET", "/mcp"),
        ("GET", f"/mcp/{platform.values['private.id']}"),
        ("POST", "/api-keys"),
        ("GET", "/connections"),
        ("GET", f"/mcp/{private}/mcp/extra"),
    ]
    for method, path in others:
        assert not policy_allows(answer, method_arn(method, path)), (method, path)
    # And the policy names exactly one resource, without wildcards
    statements = answer["policyDocument"]["Statement"]
    assert len(statements) == 1
    assert statements[0]["Resource"] == method_arn("GET", decided)


def test_an_admins_cached_allow_does_not_open_a_server_outside_their_groups(platform: Platform) -> None:
    answer = platform.authorize("GET", "/mcp", platform.credentials["admin"])
    assert answer is not None
    assert policy_allows(answer, method_arn("GET", "/mcp"))
    assert not policy_allows(answer, method_arn("POST", f"/mcp/{platform.values['private.name']}/mcp"))
    assert not policy_allows(answer, method_arn("GET", f"/mcp/{platform.values['private.id']}"))


@pytest.mark.parametrize("path", ["/mcp/*/mcp", "/mcp/*", "/mcp/fin*/mcp", "/mcp/financetools/mcp/*", "/*"])
@pytest.mark.parametrize("principal", ["admin", "member"])
def test_a_wildcard_in_the_path_never_becomes_a_wildcard_policy(platform: Platform, path: str, principal: str) -> None:
    answer = platform.authorize("GET", path, platform.credentials[principal])
    assert answer is not None
    assert all(s["Effect"] == "Deny" for s in answer["policyDocument"]["Statement"])


# -- what the data-plane integration receives ---------------------------------------------------------------


def test_the_context_carries_identity_headers_and_no_token_by_default(platform: Platform) -> None:
    answer = platform.authorize("POST", f"/mcp/{platform.values['public.name']}/mcp", member_headers(platform))
    assert answer is not None
    context = answer["context"]
    assert context["upstreamUser"] == "bob"
    assert context["upstreamGroups"] == '["finance"]'
    assert context[UPSTREAM_AUTHORIZATION] == ""
    assert Caller.from_authorizer_context(context) == Caller(username="bob", groups=("finance",))


def test_a_server_that_opted_in_gets_the_callers_jwt_but_never_an_api_key(platform: Platform) -> None:
    path = f"/mcp/{platform.values[OPTED_IN + '.name']}/mcp"
    jwt_answer = platform.authorize("POST", path, member_headers(platform))
    key_answer = platform.authorize("POST", path, platform.credentials["api-key"])
    assert jwt_answer is not None
    assert key_answer is not None
    assert jwt_answer["context"][UPSTREAM_AUTHORIZATION] == member_headers(platform)["Authorization"]
    assert key_answer["context"][UPSTREAM_AUTHORIZATION] == ""


# -- the API handler holds the line on its own -----------------------------------------------------------------


@pytest.mark.parametrize("caller", [None, Caller(username="bob", groups=("finance",))], ids=["none", "member"])
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/mcp"), ("GET", "/mcp"), ("GET", "/api-keys"), ("DELETE", "/api-keys/x")]
)
def test_the_api_refuses_admin_routes_even_if_an_authorizer_let_them_through(
    platform: Platform, caller: Caller | None, method: str, path: str
) -> None:
    event = api_event(method, path, body={"name": "x"} if method == "POST" else None, caller=caller)
    result = platform.api.handler(event, FakeLambdaContext())
    assert result["statusCode"] == (401 if caller is None else 403)
    if caller is None:
        assert result["headers"]["WWW-Authenticate"].startswith("Bearer")
