"""API keys and connections end to end on the AWS handlers: issue, use, revoke; list what a caller may use.

Also the hygiene rule: no credential reaches a log line, a stored item or an error body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.support.auth_platform import API_KEYS_TABLE, OPTED_IN, Platform, aws_auth_platform
from tests.support.events import response_json


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    with aws_auth_platform() as running:
        yield running


def header_of(result: dict[str, Any], name: str) -> str | None:
    for key, value in (result.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    for key, values in (result.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return str(values[0])
    return None


def admin(platform: Platform) -> dict[str, str]:
    return platform.credentials["admin"]


def test_an_issued_key_works_until_it_is_revoked(platform: Platform) -> None:
    # Given an admin issues a key for an agent in the finance group
    issued = platform.send(
        admin(platform), "POST", "/api-keys", body={"name": "report-bot", "groups": ["finance"], "expiresInDays": 7}
    )
    assert issued["statusCode"] == 201
    assert header_of(issued, "Cache-Control") == "no-store"
    body = response_json(issued)
    key, key_id = body["apiKey"], body["keyId"]
    assert body["state"] == "active"
    assert body["owner"] == "apikey/report-bot"
    # Then the agent can use the finance server with it
    agent = {"Authorization": f"Bearer {key}"}
    assert platform.send(agent, "POST", f"/mcp/{platform.values['private.name']}/mcp")["statusCode"] == 200
    # And listing keys shows it without the secret or its hash
    listed = platform.send(admin(platform), "GET", "/api-keys")
    assert listed["statusCode"] == 200
    assert key not in listed["body"]
    assert "secretHash" not in listed["body"]
    assert key_id in [item["keyId"] for item in response_json(listed)["Items"]]
    # When the admin revokes it
    revoked = platform.send(admin(platform), "DELETE", f"/api-keys/{key_id}")
    assert revoked["statusCode"] == 200
    assert response_json(revoked)["state"] == "revoked"
    # Then the key no longer authenticates
    assert platform.send(agent, "POST", f"/mcp/{platform.values['private.name']}/mcp")["statusCode"] == 401


def test_the_key_table_holds_no_key(platform: Platform) -> None:
    issued = response_json(platform.send(admin(platform), "POST", "/api-keys", body={"name": "stored-bot"}))
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=API_KEYS_TABLE)["Items"]
    assert issued["apiKey"] not in json.dumps(items)
    assert issued["apiKey"].split("_", 2)[2] not in json.dumps(items)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "expiresInDays": 0}, "expiresInDays"),
        ({"name": "x", "expiresInDays": 366}, "expiresInDays"),
        ({"name": ""}, "name"),
        ({"name": "x", "secretHash": "00"}, "secretHash"),
        ({"name": "x", "groups": ["has space"]}, "groups.0"),
    ],
)
def test_a_bad_key_request_is_400_naming_the_field(platform: Platform, body: dict[str, Any], field: str) -> None:
    result = platform.send(admin(platform), "POST", "/api-keys", body=body)
    assert result["statusCode"] == 400
    assert response_json(result)["field"] == field


def test_revoking_an_unknown_key_is_404(platform: Platform) -> None:
    assert platform.send(admin(platform), "DELETE", "/api-keys/0123456789abcdef")["statusCode"] == 404


def names(result: dict[str, Any]) -> set[str]:
    return {item["normalizedName"] for item in response_json(result)["Items"]}


def test_a_member_lists_the_servers_they_may_use_with_their_own_token(platform: Platform) -> None:
    member = platform.credentials["member"]
    result = platform.send(member, "GET", "/connections")
    assert result["statusCode"] == 200
    assert header_of(result, "Cache-Control") == "no-store"
    assert names(result) == {platform.values["private.name"], platform.values["public.name"], OPTED_IN.replace("-", "")}
    for item in response_json(result)["Items"]:
        assert item["customHeaders"] == {"Authorization": member["Authorization"]}
        assert item["url"].endswith(f"/prod/mcp/{item['normalizedName']}/mcp")
        assert item["status"] == "active"


def test_the_placeholder_is_kept_when_asked(platform: Platform) -> None:
    result = platform.send(platform.credentials["member"], "GET", "/connections", query={"placeholder": "true"})
    assert result["statusCode"] == 200
    items = response_json(result)["Items"]
    assert items
    assert all(i["customHeaders"] == {"Authorization": "Bearer {LISA_BEARER_TOKEN}"} for i in items)


def test_a_non_member_and_an_admin_see_only_what_their_groups_allow(platform: Platform) -> None:
    public = {platform.values["public.name"], OPTED_IN.replace("-", "")}
    assert names(platform.send(platform.credentials["non-member"], "GET", "/connections")) == public
    assert names(platform.send(platform.credentials["admin"], "GET", "/connections")) == public


def test_a_server_not_in_service_is_not_listed(platform: Platform) -> None:
    created = platform.send(
        admin(platform),
        "POST",
        "/mcp",
        body={"name": "still-creating", "serverType": "stdio", "startCommand": "python s.py"},
    )
    assert created["statusCode"] == 201
    assert "stillcreating" not in names(platform.send(platform.credentials["member"], "GET", "/connections"))


def test_no_credential_reaches_logs_or_error_bodies(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    # Given requests with good, bad, expired and revoked credentials, and a freshly issued key
    issued = response_json(platform.send(admin(platform), "POST", "/api-keys", body={"name": "log-bot"}))
    secrets = [issued["apiKey"], *(c["Authorization"].split(" ", 1)[1] for c in platform.credentials.values() if c)]
    bad_jwt = platform.idp.mint("mallory", ["admins"], aud="someone-else")
    secrets.append(bad_jwt)
    bodies = []
    for headers in [*platform.credentials.values(), {"Authorization": f"Bearer {bad_jwt}"}]:
        platform.send(headers, "GET", "/connections")  # answers with the caller's own token: logs only
        for method, path in [("GET", "/mcp"), ("GET", "/api-keys"), ("POST", "/mcp/nosuchserver/mcp")]:
            bodies.append(str(platform.send(headers, method, path).get("body")))
    # Then no token, key or key secret appears in what was logged, nor in any answer but the caller's own records
    logged = capsys.readouterr()
    text = logged.out + logged.err + "\n".join(bodies)
    for secret in secrets:
        assert secret not in text
        assert secret.rsplit(".", 1)[-1] not in text
