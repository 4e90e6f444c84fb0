"""The management API reads JSON and nothing else: a body is UTF-8 JSON of bounded size and depth, or a 4xx.

Why a rule of our own in front of the resolver: Powertools' request validation also parses form and multipart
bodies (a multipart type without a boundary raises a bare ValueError), decodes a base64 body without handling
bytes that are not UTF-8, and lets `json.loads` fail with RecursionError (arrays nested about 1,000 deep) or
ValueError (an integer of more than 4,300 digits). Each of those escaped as a 500 (a Lambda error on AWS). Here
each is a client error with the usual body:

- a body whose Content-Type is not JSON (RFC 8259 `application/json`, parameters allowed) is 415;
- a body that is not UTF-8 (RFC 8259 section 8.1: JSON exchanged between systems is UTF-8) is 400;
- a body that is not JSON, or nests deeper than `MAX_DEPTH`, or carries a number Python refuses to read, is 400;
- a body over `MAX_BODY_BYTES` is 413: 6 MiB, the most a Lambda function can be invoked with, so the local platform
  refuses what the Lambda could never receive (API Gateway itself stops at 10 MB).

The check runs for any body on any route, and for the declared type of any POST, PUT or PATCH even when its body
is empty, before routing: no route of this API reads anything but JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from hosted_mcp.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

MAX_BODY_BYTES = 6 << 20
# Our deepest document (loadBalancerConfig.healthCheckConfig.*) is 3 levels: 32 leaves room and stays far below
# the recursion limits of the JSON parser and of pydantic.
MAX_DEPTH = 32
JSON_MEDIA_TYPE = "application/json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def check_json_body(event: Mapping[str, Any]) -> None:
    """Raise the client error a REST proxy event's body deserves, or return when it is absent or acceptable."""
    body = event.get("body")
    if body or str(event.get("httpMethod", "")).upper() in BODY_METHODS:  # an empty body is read by its type too
        media_type = _media_type(event.get("headers") or {})
        if media_type not in ("", JSON_MEDIA_TYPE):
            raise UnsupportedMediaType(f"The body must be {JSON_MEDIA_TYPE}, not {media_type[:100]}")
    if not body:
        return
    raw = _raw_bytes(str(body), encoded=bool(event.get("isBase64Encoded")))
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest.of("body", f"is not valid UTF-8 (byte {error.start})") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidRequest.of("body", f"is not valid JSON ({error.msg} at line {error.lineno})") from error
    except RecursionError as error:
        raise InvalidRequest.of("body", f"nests deeper than {MAX_DEPTH} levels") from error
    except ValueError as error:  # a number Python will not convert (sys.get_int_max_str_digits)
        raise InvalidRequest.of("body", "holds a number too long to read") from error
    if _depth(document) > MAX_DEPTH:
        raise InvalidRequest.of("body", f"nests deeper than {MAX_DEPTH} levels")


def _media_type(headers: Mapping[str, Any]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return str(value).split(";", 1)[0].strip().lower()
    return ""


def _raw_bytes(body: str, *, encoded: bool) -> bytes:
    if not encoded:
        return body.encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidRequest.of("body", "is not valid base64") from error


def _depth(document: Any) -> int:
    """How deeply arrays and objects nest (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        level += 1
        if level > MAX_DEPTH:
            return level
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest
