"""Sample events (`events/**/*.json`) and builders for API Gateway REST proxy events shaped like the real ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hosted_mcp.models.domain import Caller
from tests.support.lambdas import REPO_ROOT

EVENTS_DIR = REPO_ROOT / "events"
API_ID = "a1b2c3d4e5"
STAGE = "prod"
ACCOUNT_ID = "123456789012"

ADMIN = Caller(username="alice", groups=("admins",), isAdmin=True)
USER = Caller(username="bob", groups=("finance",), isAdmin=False)


def event_paths(kind: str) -> list[Path]:
    """Every sample event under events/<kind>/, sorted."""
    return sorted((EVENTS_DIR / kind).glob("*.json"))


def load_event(relative: str) -> dict[str, Any]:
    """events/<relative> (with or without `.json`), parsed; a fresh copy each call."""
    path = EVENTS_DIR / (relative if relative.endswith(".json") else f"{relative}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    caller: Caller | None = ADMIN,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event as API Gateway sends it after our Lambda authorizer allowed the call.

    `caller=None` builds an event without an authorizer context (what a misconfigured route would deliver).
    `resource` defaults to `path` with `{serverId}` substituted back when `path_parameters` are given.
    """
    if raw_body is None and body is not None:
        raw_body = body if isinstance(body, str) else json.dumps(body)
    if resource is None:
        resource = path
        for name, value in (path_parameters or {}).items():
            resource = resource.replace(value, "{" + name + "}", 1)
    headers = {
        "Accept": "application/json",
        "Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig",
        "Host": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if raw_body is not None:
        headers["Content-Type"] = "application/json"
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": API_ID,
        "extendedRequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "httpMethod": method,
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": "203.0.113.7",
            "user": None,
            "userAgent": "curl/8.5.0",
            "userArn": None,
        },
        "path": f"/{STAGE}{path}",
        "protocol": "HTTP/1.1",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "requestTime": "24/Nov/2026:01:00:00 +0000",
        "requestTimeEpoch": 1795482000000,
        "resourceId": "abc123",
        "resourcePath": resource,
        "stage": STAGE,
    }
    if caller is not None:
        request_context["authorizer"] = {
            **caller.to_authorizer_context(),
            "principalId": caller.username,
            "integrationLatency": 12,
        }
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": raw_body,
        "isBase64Encoded": False,
    }


def with_server_id(event: dict[str, Any], server_id: str) -> dict[str, Any]:
    """A copy of a sample event aimed at another server (the samples carry a placeholder id)."""
    result = copy.deepcopy(event)
    old = (result.get("pathParameters") or {}).get("serverId")
    if old is None:
        raise ValueError("event has no serverId path parameter")
    result["pathParameters"]["serverId"] = server_id
    result["path"] = result["path"].replace(old, server_id)
    result["requestContext"]["path"] = result["requestContext"]["path"].replace(old, server_id)
    return result


def with_caller(event: dict[str, Any], caller: Caller | None) -> dict[str, Any]:
    """A copy of an event as another caller would send it (None: without an authorizer context)."""
    result = copy.deepcopy(event)
    if caller is None:
        result["requestContext"].pop("authorizer", None)
    else:
        result["requestContext"]["authorizer"] = {**caller.to_authorizer_context(), "principalId": caller.username}
    return result


def response_json(result: dict[str, Any]) -> Any:
    """The parsed JSON body of a Lambda proxy result."""
    return json.loads(result["body"]) if result.get("body") else None
