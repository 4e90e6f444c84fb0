"""Hostile requests for the management API, drawn from its own OpenAPI document (Hypothesis strategies).

Every operation the document lists, with path parameters, query strings, content types and bodies chosen to break
a parser rather than to please a validator: control characters, bidi overrides, bytes that are not UTF-8, segments
longer than a file name, JSON nested thousands deep, numbers of thousands of digits, megabyte strings, thousands of
unknown fields, every body format but JSON. Part of the bodies are valid requests with one field made hostile, so
that writes are accepted too and the audit can be counted against them.

`HOSTED_MCP_HOSTILE_EXAMPLES` sets how many requests each suite sends (CI: the default, small).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("HOSTED_MCP_HOSTILE_EXAMPLES") or 60)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# A start command that ends at once wherever it runs: an accepted create never leaves a process behind.
HARMLESS_COMMAND = "python -c pass"
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/mcp"): {"name": "hostile", "serverType": "stdio", "startCommand": HARMLESS_COMMAND},
    ("PUT", "/mcp/{serverId}"): {"description": "changed"},
    ("POST", "/api-keys"): {"name": "agent", "groups": ["demo"], "expiresInDays": 1},
}
WRITES = frozenset({("POST", "/mcp"), ("PUT", "/mcp/{serverId}"), ("DELETE", "/mcp/{serverId}")})

NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\nX-Injected: 1",
    "\u202eevil",
    "\ufeff",
    "\ud7ff\ue000",
    "../../etc/passwd",
    "%2e%2e%2f",
    "%00",
    "{LISA_BEARER_TOKEN}",
    "\u043epen",  # "open" with a Cyrillic o
    "x" * 256,
    "é" * 200,
    "🙂" * 70,
    "null",
    "[]",
    "-1",
    "1e309",
]
hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),
    st.text(min_size=256, max_size=600),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=12,
)
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "Application/JSON",
    "multipart/form-data",
    "multipart/form-data; boundary=xyz",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/xml",
    "application/octet-stream",
    "*/*",
    "",
]
content_types = st.one_of(
    st.sampled_from(["application/json"] * 2 + CONTENT_TYPES),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(str.strip),
    st.none(),
)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    query: tuple[str, ...]
    fields: tuple[str, ...]

    @property
    def is_write(self) -> bool:
        return (self.method, self.template) in WRITES


@dataclass
class HostileRequest:
    """One request, described independently of how it is delivered (a proxy event or real HTTP)."""

    operation: Operation
    path: str  # decoded, as the resolver sees it
    segments: list[str]  # the path's segments, to percent-encode for HTTP
    query: list[tuple[str, str]]
    content_type: str | None
    body: bytes | None
    caller: str  # "admin", "user" or "anonymous"
    headers: dict[str, str] = field(default_factory=dict)

    def url_path(self) -> str:
        return "/" + "/".join(quote(s, safe="") for s in self.segments)

    def url_query(self) -> str:
        return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.query)

    def describe(self) -> str:
        body = self.body[:120] if self.body else self.body
        return f"{self.caller} {self.operation.method} {self.path[:120]!r} ct={self.content_type!r} body={body!r}"


def operations(document: dict[str, Any]) -> list[Operation]:
    """Each operation of an OpenAPI document, with its query parameters and its JSON body's top-level fields."""
    found = []
    schemas = document.get("components", {}).get("schemas", {})
    for template, methods in document["paths"].items():
        for method, spec in methods.items():
            query = tuple(p["name"] for p in spec.get("parameters", []) if p.get("in") == "query")
            schema = spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if "$ref" in schema:
                schema = schemas.get(schema["$ref"].rsplit("/", 1)[1], {})
            found.append(Operation(method.upper(), template, query, tuple(schema.get("properties", {}))))
    return sorted(found, key=lambda o: (o.template, o.method))


def _nested(depth: int) -> bytes:
    return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"


@st.composite
def bodies(draw: st.DrawFn, operation: Operation) -> bytes | None:
    valid = VALID_BODIES.get((operation.method, operation.template))
    kind = draw(st.sampled_from(["valid", "mutated", "mutated", "json", "nested", "utf8", "digits", "huge", "none"]))
    if kind == "none":
        return None
    if kind in ("valid", "mutated") and valid is not None:
        body = dict(valid)
        if "name" in body:
            body["name"] = f"h{draw(st.integers(0, 10**9))}"
        if kind == "mutated":
            key = draw(st.sampled_from(operation.fields) | hostile_text) if operation.fields else draw(hostile_text)
            body[key] = draw(json_values)
        return json.dumps(body).encode()
    if kind == "nested":
        return _nested(draw(st.sampled_from([33, 999, 1000, 5000, 50_000])))
    if kind == "utf8":
        prefix = draw(st.sampled_from([b'{"name": "', b'{"', b""]))
        return prefix + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])) + b'"}'
    if kind == "digits":
        return b'{"cpu": ' + b"9" * draw(st.sampled_from([4300, 4301, 100_000])) + b"}"
    if kind == "huge":
        size = draw(st.sampled_from([70_000, 1 << 20, 7 << 20]))
        if draw(st.booleans()):
            return json.dumps({f"f{i}": i for i in range(size // 12)}).encode()
        return b'{"description": "' + b"x" * size + b'"}'
    return json.dumps(draw(json_values)).encode()


@st.composite
def hostile_requests(draw: st.DrawFn, catalogue: list[Operation], known_ids: list[str]) -> HostileRequest:
    operation = draw(st.sampled_from(catalogue))
    segments = []
    for part in operation.template.strip("/").split("/"):
        if not part.startswith("{"):
            segments.append(part)
        else:  # the same draws whatever `known_ids` holds, so that Hypothesis can replay and shrink
            use_known, index, text = draw(st.booleans()), draw(st.integers(0, 10**6)), draw(hostile_text.filter(bool))
            segments.append(known_ids[index % len(known_ids)] if use_known and known_ids else text)
    if draw(st.integers(0, 9)) == 0:  # now and then a segment too long for any file name, or a path of no route
        segments.append(draw(st.sampled_from(["a" * 300, "é" * 200, "openapi.json", "x"])))
    names = st.sampled_from(operation.query) | hostile_text if operation.query else hostile_text
    query = draw(st.lists(st.tuples(names, hostile_text), max_size=3))
    if draw(st.integers(0, 9)) == 0:
        query.append(("nextToken", "A" * 5000))
    return HostileRequest(
        operation=operation,
        path="/" + "/".join(segments),
        segments=segments,
        query=query,
        content_type=draw(content_types),
        body=draw(bodies(operation)),
        caller=draw(st.sampled_from(["admin"] * 8 + ["user", "anonymous"])),
    )


def assert_client_error_shape(status: int, content_type: str, body: bytes, request: HostileRequest) -> None:
    """No 5xx, and every refusal in the usual error body (`{"code", "message", "field"?}`)."""
    assert status < 500, f"{status} for {request.describe()}: {body[:300]!r}"
    if status >= 400:
        assert content_type.startswith("application/json"), f"{status} {content_type} for {request.describe()}"
        error = json.loads(body)
        assert isinstance(error.get("code"), str), error
        assert isinstance(error.get("message"), str), error
        assert re.fullmatch(r"[A-Za-z]+", error["code"]), error
