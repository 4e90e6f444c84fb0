"""Property: hostile requests to the management API Lambda (in process, moto) never get a 5xx, and every accepted
write leaves exactly one audit entry. The requests come from the API's own OpenAPI document (`tests.support.hostile`).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import boto3
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SERVERS_TABLE
from tests.support.events import ADMIN, USER, api_event, response_json
from tests.support.hostile import SETTINGS, HostileRequest, assert_client_error_shape, hostile_requests, operations
from tests.support.lambdas import FakeLambdaContext, load_handler

CALLERS = {"admin": ADMIN, "user": USER, "anonymous": None}


def proxy_event(request: HostileRequest) -> dict[str, Any]:
    """The request as API Gateway hands it to the function: decoded path and query, a binary body in base64."""
    event = api_event(request.operation.method, request.path, caller=CALLERS[request.caller])
    multi: dict[str, list[str]] = {}
    for name, value in request.query:
        multi.setdefault(name, []).append(value)
    event["queryStringParameters"] = {k: v[-1] for k, v in multi.items()} or None
    event["multiValueQueryStringParameters"] = multi or None
    if request.content_type is not None:
        event["headers"]["Content-Type"] = request.content_type
        event["multiValueHeaders"]["Content-Type"] = [request.content_type]
    if request.body is not None:
        try:
            event["body"] = request.body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(request.body).decode(), True
    return event


def audit_entries() -> int:
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=SERVERS_TABLE, ConsistentRead=True)
    return sum(1 for item in items["Items"] if item["sk"]["S"].startswith("AUDIT#"))


def test_hostile_requests_get_client_errors_and_each_accepted_write_one_audit_entry(servers_table: Any) -> None:
    # Given the management API Lambda over an empty servers table, and its OpenAPI document
    from hosted_mcp.wiring import aws

    aws.clear_factories()
    module = load_handler("api")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = module.handler(event, FakeLambdaContext())
        return result

    document = response_json(invoke(api_event("GET", "/openapi.json")))
    catalogue = operations(document)
    assert {(o.method, o.template) for o in catalogue} >= {("POST", "/mcp"), ("PUT", "/mcp/{serverId}")}
    known_ids: list[str] = []
    statuses: Counter[int] = Counter()
    accepted_writes = 0

    @SETTINGS
    @given(st.data())
    def send(data: st.DataObject) -> None:
        nonlocal accepted_writes
        request = data.draw(hostile_requests(catalogue, known_ids))

        # When it is delivered as a proxy event
        result = invoke(proxy_event(request))

        # Then it is answered (never raised), below 500, and a refusal has the usual error body
        status = int(result["statusCode"])
        statuses[status] += 1
        headers = result.get("headers") or {k: v[0] for k, v in (result.get("multiValueHeaders") or {}).items()}
        body = base64.b64decode(result["body"]) if result.get("isBase64Encoded") else str(result["body"]).encode()
        assert_client_error_shape(status, headers.get("Content-Type", ""), body, request)
        if status < 300 and request.operation.is_write:
            accepted_writes += 1
            if request.operation.method == "POST":
                known_ids.append(json.loads(body)["id"])

    send()

    # And the audit holds exactly one entry per accepted write
    assert audit_entries() == accepted_writes
    assert sum(statuses.values()) > 0
    sent = sum(statuses.values())
    print(f"\nhostile requests (Lambda in process): {sent} sent, statuses {dict(sorted(statuses.items()))}")
    aws.clear_factories()
