"""API Gateway as the tests see it: REQUEST authorizer events, and how a returned policy is evaluated."""

from __future__ import annotations

import re
from typing import Any

from tests.support.events import ACCOUNT_ID, API_ID, STAGE

REGION = "us-east-1"


def method_arn(method: str, path: str, *, stage: str = STAGE) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{stage}/{method}{path}"


def resource_of(path: str) -> tuple[str, dict[str, str]]:
    """The API resource a path hits and its path parameters (the data plane is one greedy route)."""
    from hosted_mcp.auth.roles import MANAGEMENT_ROUTES

    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "mcp" and parts[2] in ("mcp", "sse", "messages"):
        return "/mcp/{serverId}/{proxy+}", {"serverId": parts[1], "proxy": "/".join(parts[2:])}
    for rule in MANAGEMENT_ROUTES:
        template = rule.path.strip("/").split("/")
        if len(template) == len(parts) and all(
            t == p or t.startswith("{") for t, p in zip(template, parts, strict=True)
        ):
            params = {t[1:-1]: p for t, p in zip(template, parts, strict=True) if t.startswith("{")}
            return rule.path, params
    return path, {}


def authorizer_event(method: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A REST API REQUEST authorizer event, as API Gateway sends it."""
    resource, path_parameters = resource_of(path)
    all_headers = {"Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com", "User-Agent": "curl/8.5.0"}
    all_headers.update(headers or {})
    return {
        "type": "REQUEST",
        "methodArn": method_arn(method, path),
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": {},
        "multiValueQueryStringParameters": {},
        "pathParameters": path_parameters,
        "stageVariables": {},
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "resourcePath": resource,
        },
    }


def _iam_pattern(resource: str) -> re.Pattern[str]:
    """IAM resource matching: `*` any run of characters, `?` any one character, everything else literal."""
    return re.compile("^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in resource) + "$")


def policy_allows(response: dict[str, Any], arn: str) -> bool:
    """What API Gateway does with a (possibly cached) policy for a request: explicit Deny wins, then Allow."""
    matching = []
    for statement in response["policyDocument"]["Statement"]:
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        if statement["Action"] in ("execute-api:Invoke", "execute-api:*", "*") and any(
            _iam_pattern(r).match(arn) for r in resources
        ):
            matching.append(statement)
    if any(s["Effect"] == "Deny" for s in matching):
        return False
    return any(s["Effect"] == "Allow" for s in matching)
