"""Which tools, prompts and resources a caller may use on a server: the one decision, for every place that decides.

The local gateway, the AWS authorizer and the AWS router all call `allows` (and `visible` to filter list answers),
so a tool cannot be allowed in one place and refused in another. The decision is pure: a server's `toolPolicy`
(`hosted_mcp.models.call_rules`), the caller's groups, the MCP method and the name or URI it is about.

What each method is about:

| method                                          | kind      | name                          |
|-------------------------------------------------|-----------|-------------------------------|
| `tools/call`                                    | tools     | `params.name`                 |
| `prompts/get`                                   | prompts   | `params.name`                 |
| `resources/read`, `resources/subscribe`, `resources/unsubscribe` | resources | `params.uri` |
| `completion/complete` (`ref/prompt`, `ref/resource`) | prompts, resources | `params.ref.name`, `params.ref.uri` |
| `tools/list`, `prompts/list`, `resources/list`  | answers filtered to what `visible` keeps              |
| anything else                                   | not governed by the tool policy                       |

A governed request without a name (malformed) is refused unless the caller may use everything of its kind. For
requests of MCP 2026-07-28 the method and name come from the validated `Mcp-Method` / `Mcp-Name` headers
(`=?base64?...?=` values decoded here); 2025-revision requests carry them only in the body.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hosted_mcp.models.call_rules import EVERYONE_ELSE, ToolAccess, ToolPolicy, glob_regex
from hosted_mcp.models.fields import normalize_group

KIND_OF = {
    "tools/call": "tools",
    "prompts/get": "prompts",
    "resources/read": "resources",
    "resources/subscribe": "resources",
    "resources/unsubscribe": "resources",
}
NAME_PARAM = {"tools": "name", "prompts": "name", "resources": "uri"}
LISTS = {"tools/list": "tools", "prompts/list": "prompts", "resources/list": "resources"}
CALLS = frozenset({"tools/call", "prompts/get", "resources/read"})  # what the audit trail and the metrics count
COMPLETION_REF = {"ref/prompt": ("prompts", "name"), "ref/resource": ("resources", "uri")}
SENTINEL_PREFIX, SENTINEL_SUFFIX = "=?base64?", "?="
GRANTS_PER_PROCESS = 4096


@dataclass(frozen=True)
class Matcher:
    """What one kind allows: everything, or exact names plus globs."""

    everything: bool
    exact: frozenset[str] = frozenset()
    globs: re.Pattern[str] | None = None

    def __call__(self, name: str | None) -> bool:
        if self.everything:
            return True
        if name is None:
            return False
        return name in self.exact or (self.globs is not None and self.globs.match(name) is not None)


EVERYTHING = Matcher(everything=True)


@dataclass(frozen=True)
class Grant:
    """What one caller may use on one server."""

    tools: Matcher = EVERYTHING
    prompts: Matcher = EVERYTHING
    resources: Matcher = EVERYTHING

    @property
    def unrestricted(self) -> bool:
        return self.tools.everything and self.prompts.everything and self.resources.everything

    def of(self, kind: str) -> Matcher:
        matcher: Matcher = getattr(self, kind)
        return matcher


UNRESTRICTED = Grant()


@dataclass(frozen=True)
class Target:
    """What a governed request is about."""

    kind: str
    name: str | None


def target_of(method: str | None, params: Any) -> Target | None:
    """The kind and name a request is about, from its JSON-RPC body; None when the policy does not govern it."""
    params = params if isinstance(params, Mapping) else {}
    kind = KIND_OF.get(method or "")
    if kind is not None:
        name = params.get(NAME_PARAM[kind])
        return Target(kind, name if isinstance(name, str) else None)
    if method == "completion/complete":
        ref = params.get("ref")
        ref = ref if isinstance(ref, Mapping) else {}
        kind_and_key = COMPLETION_REF.get(str(ref.get("type")))
        if kind_and_key is None:
            return Target("prompts", None)  # a reference of no known type: only who may use every prompt
        name = ref.get(kind_and_key[1])
        return Target(kind_and_key[0], name if isinstance(name, str) else None)
    return None


def target_of_headers(method: str | None, name_header: str | None) -> Target | None:
    """The kind and name from MCP 2026-07-28's mirrored headers (`Mcp-Method`, `Mcp-Name`), as the authorizer sees
    them; None when the method is not governed or names no single target in its headers."""
    kind = KIND_OF.get(method or "")
    if kind is None or method not in CALLS:
        return None
    try:
        name = decoded_header(name_header) if name_header is not None else None
    except ValueError:
        name = None
    return Target(kind, name)


def decoded_header(value: str) -> str:
    """A header value with the `=?base64?...?=` encoding undone (ValueError when the encoding is broken)."""
    if value.startswith(SENTINEL_PREFIX) and value.endswith(SENTINEL_SUFFIX) and len(value) >= 11:
        inner = value[len(SENTINEL_PREFIX) : -len(SENTINEL_SUFFIX)]
        try:
            return base64.b64decode(inner, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise ValueError("not valid Base64 of UTF-8") from error
    return value


def allows(policy: ToolPolicy | None, groups: Iterable[str], target: Target | None) -> bool:
    """The decision: may a caller in `groups` make a request about `target` on a server with `policy`?"""
    if target is None or policy is None:
        return True
    return grant_for(policy, groups).of(target.kind)(target.name)


def visible(grant: Grant, kind: str, items: list[Any]) -> list[Any]:
    """The entries of a `tools/list`, `prompts/list` or `resources/list` answer the caller may use."""
    matcher, key = grant.of(kind), NAME_PARAM[kind]
    if matcher.everything:
        return items
    return [item for item in items if isinstance(item, Mapping) and matcher(_str(item.get(key)))]


def grant_for(policy: ToolPolicy | None, groups: Iterable[str]) -> Grant:
    """What a caller in `groups` may use under `policy` (compiled once per policy and group set, then kept)."""
    if policy is None:
        return UNRESTRICTED
    key = frozenset(normalize_group(g) for g in groups)
    return _GRANTS.get(policy, key)


def compile_grant(policy: ToolPolicy, groups: frozenset[str]) -> Grant:
    rules = [rule for key, rule in policy.rules.items() if key in groups]
    if not rules:
        fallback = policy.rules.get(EVERYONE_ELSE)
        if fallback is None:
            return UNRESTRICTED
        rules = [fallback]
    return Grant(**{kind: _matcher(rules, kind) for kind in NAME_PARAM})


def _matcher(rules: list[ToolAccess], kind: str) -> Matcher:
    lists: list[list[str]] = []
    for rule in rules:
        patterns = getattr(rule, kind)
        if patterns is None:
            return EVERYTHING
        lists.append(patterns)
    patterns = [p for found in lists for p in found]
    if "*" in patterns:
        return EVERYTHING
    return Matcher(False, frozenset(p for p in patterns if "*" not in p), glob_regex(patterns))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class _GrantCache:
    """Compiled grants by (policy object, caller groups). A policy is held while its grants are, so the identity
    used as the key cannot be reused by another object meanwhile; bounded, the oldest compiled first out."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: OrderedDict[tuple[int, frozenset[str]], tuple[ToolPolicy, Grant]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, policy: ToolPolicy, groups: frozenset[str]) -> Grant:
        key = (id(policy), groups)
        found = self._entries.get(key)
        if found is not None and found[0] is policy:
            return found[1]
        grant = compile_grant(policy, groups)
        with self._lock:
            self._entries[key] = (policy, grant)
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)
        return grant


_GRANTS = _GrantCache(GRANTS_PER_PROCESS)
