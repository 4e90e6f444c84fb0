"""Hostile requests against a real `hosted-mcp serve`: the local gateway, its static files and the same resolver.

A malformed request is a client error with the usual body, never a 5xx; and, as in the Lambda, every accepted
write leaves exactly one audit entry by the caller who made it.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e.platform import LocalPlatform
from tests.support.hostile import SETTINGS, HostileRequest, assert_client_error_shape, hostile_requests, operations

HOSTILE_ADMIN = "hostile-admin"


def send(
    platform: LocalPlatform, client: httpx.Client, request: HostileRequest, tokens: dict[str, str]
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {tokens[request.caller]}"} if request.caller in tokens else {}
    if request.content_type is not None:
        headers["Content-Type"] = request.content_type
    query = request.url_query()
    url = f"{platform.url}{request.url_path()}" + (f"?{query}" if query else "")
    return client.request(request.operation.method, url, content=request.body, headers=headers)


def audit_entries_by(platform: LocalPlatform, actor: str) -> int:
    with sqlite3.connect(platform.data_dir / "hosted-mcp.db") as db:
        rows = db.execute("SELECT body FROM audit").fetchall()
    return sum(1 for (body,) in rows if json.loads(body)["actor"] == actor)


@pytest.mark.parametrize(
    ("method", "path", "content_type", "body", "status", "code"),
    [
        # no route: the authorizer's decision refuses it, as API Gateway's would (it was a 500 "File name too long")
        ("GET", "/" + "a" * 300, None, None, 403, "Forbidden"),
        ("GET", "/web/" + "é" * 200, None, None, 403, "Forbidden"),
        ("POST", "/mcp", "application/json", b"[" * 1000 + b"]" * 1000, 400, "ValidationError"),
        ("POST", "/mcp", "application/json", b'{"name": "\xff"}', 400, "ValidationError"),
        ("POST", "/api-keys", "application/json", b'{"name": "\xc3\x28"}', 400, "ValidationError"),
        ("POST", "/mcp", "multipart/form-data", b"--x\r\n", 415, "UnsupportedMediaType"),
        ("POST", "/mcp", "text/plain", b"name=x", 415, "UnsupportedMediaType"),
    ],
    ids=["long-segment", "long-utf8-segment", "nested-json", "bad-utf8-mcp", "bad-utf8-api-keys", "multipart", "text"],
)
def test_each_malformed_request_of_the_issue_is_a_client_error(
    platform: LocalPlatform,
    method: str,
    path: str,
    content_type: str | None,
    body: bytes | None,
    status: int,
    code: str,
) -> None:
    # Given an admin of the running platform
    headers = {"Authorization": f"Bearer {platform.token('root', admin=True)}"}
    if content_type:
        headers["Content-Type"] = content_type

    # When the malformed request is sent
    answer = httpx.request(method, f"{platform.url}{path}", content=body, headers=headers)

    # Then it is refused with the usual error body
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code


def test_hostile_requests_get_client_errors_and_each_accepted_write_one_audit_entry(platform: LocalPlatform) -> None:
    # Given the running platform's OpenAPI document and credentials of an admin, a user and nobody
    tokens = {"admin": platform.token(HOSTILE_ADMIN, admin=True), "user": platform.token("hostile-user", ["demo"])}
    with platform.admin() as api:
        catalogue = operations(api.get("/openapi.json").json())
    known_ids: list[str] = []
    statuses: Counter[int] = Counter()
    accepted_writes = 0

    with httpx.Client(timeout=30) as client:

        @SETTINGS
        @given(st.data())
        def exchange(data: st.DataObject) -> None:
            nonlocal accepted_writes
            request = data.draw(hostile_requests(catalogue, known_ids))

            # When it is sent over HTTP
            answer = send(platform, client, request, tokens)

            # Then it is below 500, and a refusal has the usual error body
            statuses[answer.status_code] += 1
            assert_client_error_shape(
                answer.status_code, answer.headers.get("content-type", ""), answer.content, request
            )
            if answer.status_code < 300 and request.operation.is_write:
                accepted_writes += 1
                if request.operation.method == "POST":
                    known_ids.append(answer.json()["id"])

        exchange()

    # And the audit holds exactly one entry by that admin per write accepted from them
    assert audit_entries_by(platform, HOSTILE_ADMIN) == accepted_writes
    sent = sum(statuses.values())
    print(f"\nhostile requests (hosted-mcp serve): {sent} sent, statuses {dict(sorted(statuses.items()))}")
