"""One route/role table for everyone: the resolver, the authorizer and template.yaml agree with it."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.event_handler.router import Router

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.api.app import ManagementResolver, build_resolver
from hosted_mcp.api.services import ApiServices
from hosted_mcp.auth.policy import MethodArn
from hosted_mcp.auth.roles import MANAGEMENT_ROUTES, Role, data_plane_server, rule_for
from hosted_mcp.errors import InvalidRequest
from tests.support.ddb import load_template
from tests.support.events import ADMIN, USER, api_event
from tests.support.lambdas import FakeLambdaContext


def resolver_routes(app: ManagementResolver) -> set[tuple[str, str]]:
    routes = set()
    for route in app._static_routes + app._dynamic_routes:
        path = route.openapi_path.replace("<", "{").replace(">", "}")
        routes.add((route.method.upper(), path))
    return routes


def test_every_resolver_route_has_a_role_and_every_role_a_route() -> None:
    app = build_resolver(lambda: ApiServices(store=InMemoryServerStore()))
    assert resolver_routes(app) == {(r.method, r.path) for r in MANAGEMENT_ROUTES}


def test_a_route_missing_from_the_table_cannot_be_registered() -> None:
    app = ManagementResolver(lambda: ApiServices(store=InMemoryServerStore()))
    rogue = Router()

    @rogue.get("/secret-admin-thing")
    def secret() -> dict:
        return {}

    with pytest.raises(ValueError, match="no role"):
        app.include_secured(rogue)


def test_every_deployed_api_route_is_in_the_table_and_every_protected_route_is_deployed() -> None:
    deployed = set()
    for resource in load_template()["Resources"].values():
        for event in (resource.get("Properties") or {}).get("Events", {}).values():
            if event.get("Type") == "Api":
                deployed.add((event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
    table = {(r.method, r.path) for r in MANAGEMENT_ROUTES}
    protected = {(r.method, r.path) for r in MANAGEMENT_ROUTES if r.role is not Role.PUBLIC}
    assert {d for d in deployed if not d[1].endswith("{proxy+}")} <= table
    assert protected <= deployed


def test_the_api_sits_behind_the_authorizer_by_default() -> None:
    auth = load_template()["Resources"]["Api"]["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["FunctionPayloadType"] == "REQUEST"
    assert authorizer["Identity"]["Headers"] == ["Authorization"]
    assert set(authorizer["Identity"]["Context"]) == {"httpMethod", "path"}


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("GET", "/mcp", Role.ADMIN),
        ("POST", "/mcp", Role.ADMIN),
        ("GET", "/mcp/abc", Role.ADMIN),
        ("GET", "/mcp/{serverId}", Role.ADMIN),
        ("GET", "/mcp/abc/audit", Role.ADMIN),
        ("DELETE", "/api-keys/0123456789abcdef", Role.ADMIN),
        ("GET", "/connections", Role.USER),
        ("GET", "/openapi.json", Role.PUBLIC),
    ],
)
def test_rules_match_templates_and_real_paths(method: str, path: str, role: Role) -> None:
    rule = rule_for(method, path)
    assert rule is not None
    assert rule.role is role


@pytest.mark.parametrize(
    ("method", "path", "server"),
    [
        ("POST", "/mcp/docs/mcp", "docs"),
        ("GET", "/mcp/docs/sse", "docs"),
        ("DELETE", "/mcp/docs/mcp", "docs"),
        ("GET", "/mcp/docs/mcp/messages", "docs"),
        ("POST", "/mcp/docs/messages/", "docs"),
        ("PUT", "/mcp/docs/mcp", None),
        ("GET", "/mcp/docs/audit", None),
        ("GET", "/mcp/Docs/mcp", None),
        ("GET", "/mcp/do*cs/mcp", None),
        ("GET", "/mcp/docs/mcp/*", None),
        ("GET", "/mcp//mcp", None),
    ],
)
def test_the_data_plane_is_recognised_by_path_and_method(method: str, path: str, server: str | None) -> None:
    assert data_plane_server(method, path) == server


def test_a_method_arn_splits_into_its_parts() -> None:
    arn = MethodArn.parse("arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/POST/mcp/docs/mcp")
    assert (arn.api_id, arn.stage, arn.method, arn.path) == ("a1b2c3", "prod", "POST", "/mcp/docs/mcp")
    assert not arn.has_wildcard
    assert MethodArn.parse("arn:aws:execute-api:us-east-1:1:a/prod/GET/mcp/*").has_wildcard


@pytest.mark.parametrize("arn", ["", "arn:aws:s3:::bucket", "arn:aws:execute-api:us-east-1:1:a", "not-an-arn"])
def test_anything_but_an_execute_api_arn_is_refused(arn: str) -> None:
    with pytest.raises(InvalidRequest):
        MethodArn.parse(arn)


def resolve(event: dict[str, Any]) -> dict[str, Any]:
    app = build_resolver(lambda: ApiServices(store=InMemoryServerStore()))
    result: dict[str, Any] = app.resolve(event, FakeLambdaContext())
    return result


def test_a_non_admin_learns_nothing_about_validation_of_admin_routes() -> None:
    # An invalid body from a member is refused for who they are, not for what they sent
    result = resolve(api_event("POST", "/mcp", body={"nonsense": True}, caller=USER))
    assert result["statusCode"] == 403


def test_unknown_routes_need_authentication_before_they_are_unknown() -> None:
    assert resolve(api_event("GET", "/no-such-route", caller=None))["statusCode"] == 401
    assert int(resolve(api_event("GET", "/no-such-route", caller=USER))["statusCode"]) == 404


def test_a_member_reaches_their_connections_and_an_admin_everything() -> None:
    mine = resolve(api_event("GET", "/connections", query={"placeholder": "true"}, caller=USER))
    assert int(mine["statusCode"]) == 200
    assert int(resolve(api_event("GET", "/mcp", caller=ADMIN))["statusCode"]) == 200
