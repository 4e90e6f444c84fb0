"""Malformed requests to the management API Lambda are client errors with the usual body, never a Lambda error."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.events import api_event, response_json
from tests.support.lambdas import FakeLambdaContext, load_handler

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
MINIMAL = '{"name": "docs-mcp", "serverType": "stdio", "startCommand": "python main.py"}'


@pytest.fixture
def api(servers_table: Any) -> Iterator[Invoke]:
    from hosted_mcp.wiring import aws

    aws.clear_factories()
    module = load_handler("api")
    yield lambda event: module.handler(event, FakeLambdaContext())
    aws.clear_factories()


def with_body(method: str, path: str, raw: bytes, content_type: str | None = "application/json") -> dict[str, Any]:
    """An event carrying `raw` as API Gateway does for a binary media type (base64), with that Content-Type."""
    event = api_event(method, path, raw_body=base64.b64encode(raw).decode())
    event["isBase64Encoded"] = True
    for key in ("headers", "multiValueHeaders"):
        event[key].pop("Content-Type", None)
    if content_type is not None:
        event["headers"]["Content-Type"] = content_type
        event["multiValueHeaders"]["Content-Type"] = [content_type]
    return event


def assert_error(result: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    assert result["statusCode"] == status, result["body"]
    content_type = (result.get("headers") or {}).get("Content-Type") or result["multiValueHeaders"]["Content-Type"][0]
    assert content_type == "application/json"
    body: dict[str, Any] = response_json(result)
    assert body["code"] == code
    assert body["message"]
    return body


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"[" * 1000 + b"]" * 1000, "nests deeper than", id="arrays-nested-1000-deep"),
        pytest.param(b'{"a":' * 5000 + b"1" + b"}" * 5000, "nests deeper than", id="objects-nested-5000-deep"),
        pytest.param(b'{"name": "\xff\xfe"}', "not valid UTF-8", id="invalid-utf8"),
        pytest.param(b'{"name": "\xed\xa0\x80"}', "not valid UTF-8", id="utf8-encoded-surrogate"),
        pytest.param(b'{"cpu": 1' + b"0" * 5000 + b"}", "number too long", id="integer-of-5000-digits"),
        pytest.param(b'{"name": "x"', "not valid JSON", id="truncated-json"),
    ],
)
@pytest.mark.parametrize("path", ["/mcp", "/api-keys"])
def test_a_body_that_is_not_readable_json_is_a_400_naming_the_body(
    api: Invoke, path: str, raw: bytes, reason: str
) -> None:
    # Given a body no JSON reader should accept as it stands
    event = with_body("POST", path, raw)

    # When it is sent to a write route
    result = api(event)

    # Then the answer is a 400 about the body, and nothing is written
    body = assert_error(result, 400, "ValidationError")
    assert body["field"] == "body"
    assert reason in body["message"]


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/xml",
        "application/octet-stream",
    ],
)
def test_a_body_in_another_format_than_json_is_415(api: Invoke, content_type: str) -> None:
    # Given a create request in a format the API does not read
    event = with_body("POST", "/mcp", b"--xyz\r\nname=docs\r\n--xyz--\r\n", content_type)

    # When
    result = api(event)

    # Then it is refused as such, with the usual error body
    body = assert_error(result, 415, "UnsupportedMediaType")
    assert content_type.split(";")[0] in body["message"]


def test_a_write_declaring_multipart_without_a_body_is_415(api: Invoke) -> None:
    # Given a create request with no body, declared as multipart without a boundary
    event = api_event("POST", "/mcp")
    event["headers"]["Content-Type"] = "multipart/form-data"

    # When / Then the declared format is refused before anyone tries to read it
    assert_error(api(event), 415, "UnsupportedMediaType")


def test_json_with_a_charset_parameter_or_no_content_type_is_still_read(api: Invoke) -> None:
    # Given the same valid create request, labelled with parameters, and not labelled at all
    labelled = with_body("POST", "/mcp", MINIMAL.encode(), "application/json; charset=utf-8")
    unlabelled = with_body("POST", "/mcp", MINIMAL.replace("docs-mcp", "other-mcp").encode(), None)

    # When / Then both are created
    assert api(labelled)["statusCode"] == 201
    assert api(unlabelled)["statusCode"] == 201


def test_a_body_over_the_size_limit_is_413(api: Invoke) -> None:
    # Given a request body of 7 MiB (a Lambda function is invoked with at most 6 MB)
    event = with_body("POST", "/mcp", b'{"description": "' + b"x" * (7 << 20) + b'"}')

    # When / Then
    assert_error(api(event), 413, "PayloadTooLarge")


def test_thousands_of_unknown_fields_are_reported_briefly(api: Invoke) -> None:
    # Given a create request with 5,000 unknown fields
    fields = ", ".join(f'"f{i}": 1' for i in range(5000))
    event = with_body("POST", "/mcp", ("{" + fields + "}").encode())

    # When
    body = assert_error(api(event), 400, "ValidationError")

    # Then the answer names some of them, not all five thousand
    assert 0 < len(body["errors"]) <= 20


def test_an_unknown_route_is_404_with_the_usual_body(api: Invoke) -> None:
    # Given a path no route has, with a segment longer than a file name may be
    event = api_event("GET", "/" + "a" * 300)

    # When / Then
    body = assert_error(api(event), 404, "NotFound")
    assert body["message"] == "No such route"
