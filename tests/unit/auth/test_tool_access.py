"""The tool policy: how it is written and validated on a record, and the one decision every gateway takes from it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hosted_mcp.auth.tool_access import (
    Target,
    allows,
    decoded_header,
    grant_for,
    target_of,
    target_of_headers,
    visible,
)
from hosted_mcp.errors import invalid_request_from
from hosted_mcp.models.api import READ_ONLY_FIELDS, CreateServerRequest, UpdateServerRequest
from hosted_mcp.models.call_rules import CallLimits, ToolPolicy

MINIMAL: dict[str, Any] = {"name": "docs", "serverType": "stdio", "startCommand": "python main.py"}
POLICY = {
    "analysts": {"tools": ["search", "report_*"], "prompts": [], "resources": ["docs://public/*"]},
    "ops": {"prompts": ["runbook"]},
    "*": {"tools": ["status"], "prompts": [], "resources": []},
}


def policy(rules: dict[str, Any] | None = None) -> ToolPolicy:
    return ToolPolicy.model_validate(POLICY if rules is None else rules)


def problem_field(model: type, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(data)
    return invalid_request_from(raised.value, READ_ONLY_FIELDS).problems[0].field


# -- on the record ---------------------------------------------------------------------------------------------


def test_group_keys_are_normalised_like_groups_and_star_stays() -> None:
    # Given a create request naming groups with and without the prefix
    request = CreateServerRequest.model_validate({**MINIMAL, "groups": ["analysts", "ops"], "toolPolicy": POLICY})

    # When it becomes the stored configuration
    spec = request.to_spec()

    # Then the policy's keys are the groups' stored form, and `*` is kept
    assert spec.toolPolicy is not None
    assert list(spec.toolPolicy.rules) == ["group:analysts", "group:ops", "*"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"groups": ["analysts"], "toolPolicy": {"ops": {}}}, "toolPolicy.group:ops"),
        ({"toolPolicy": {"lisa:public": {}}}, "toolPolicy.lisa:public"),
        ({"toolPolicy": {"a": {}, "group:a": {}}}, "toolPolicy.group:a"),
        ({"toolPolicy": {"a": {"tool": ["x"]}}}, "toolPolicy.group:a.tool"),
        ({"toolPolicy": {"a": {"tools": [""]}}}, "toolPolicy.group:a.tools.0"),
        ({"toolPolicy": {"a": {"tools": ["bad\nname"]}}}, "toolPolicy.group:a.tools.0"),
        ({"toolPolicy": {"a": {"tools": "search"}}}, "toolPolicy.group:a.tools"),
        ({"toolPolicy": {"two words": {}}}, "toolPolicy.group:two words.[key]"),
        ({"toolPolicy": ["search"]}, "toolPolicy"),
        ({"toolPolicy": {f"g{n}": {"tools": ["x" * 1000] * 10} for n in range(7)}}, "toolPolicy"),
        ({"callLimits": {"burst": 5}}, "callLimits.burst"),
        ({"callLimits": {"ratePerSecond": 0}}, "callLimits.ratePerSecond"),
        ({"callLimits": {"maxConcurrentPerReplica": 0}}, "callLimits.maxConcurrentPerReplica"),
        ({"callLimits": {"rate": 5}}, "callLimits.rate"),
        ({"auditCalls": "sometimes"}, "auditCalls"),
    ],
)
def test_a_bad_policy_or_limit_is_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    # The field is named as stored: a group key with its `group:` prefix
    assert problem_field(CreateServerRequest, {**MINIMAL, **body}) == field


def test_a_public_server_may_name_any_group() -> None:
    spec = CreateServerRequest.model_validate({**MINIMAL, "toolPolicy": POLICY}).to_spec()
    assert spec.is_public
    assert spec.toolPolicy is not None


def test_an_empty_policy_is_no_policy() -> None:
    spec = CreateServerRequest.model_validate({**MINIMAL, "toolPolicy": {}}).to_spec()
    assert spec.toolPolicy is None


def test_an_update_may_carry_only_data_plane_settings() -> None:
    update = UpdateServerRequest.model_validate({"toolPolicy": {"*": {"tools": []}}})
    assert set(update.config_changes()) == {"toolPolicy"}


def test_a_burst_defaults_to_one_seconds_worth() -> None:
    assert CallLimits(ratePerSecond=2.5).bucket_size == 3
    assert CallLimits(ratePerSecond=0.1).bucket_size == 1
    assert CallLimits(ratePerSecond=2, burst=10).bucket_size == 10


# -- the decision ----------------------------------------------------------------------------------------------

# (groups, kind, name, allowed): a listed group gets its rule (globs included), several listed groups the union,
# a caller in no listed group the `*` rule; a kind left out of a rule is all of it, [] none of it.
DECISIONS = [
    (["analysts"], "tools", "search", True),
    (["analysts"], "tools", "report_weekly", True),
    (["analysts"], "tools", "report", False),
    (["analysts"], "tools", "status", False),
    (["analysts"], "prompts", "runbook", False),
    (["analysts"], "resources", "docs://public/a/b?x=1", True),
    (["analysts"], "resources", "docs://private/a", False),
    (["ops"], "tools", "anything", True),
    (["ops"], "prompts", "runbook", True),
    (["ops"], "prompts", "other", False),
    (["ops"], "resources", "file:///etc/passwd", True),
    (["analysts", "ops"], "tools", "delete_everything", True),
    (["analysts", "ops"], "prompts", "runbook", True),
    (["group:analysts"], "tools", "search", True),
    (["nobody"], "tools", "status", True),
    (["nobody"], "tools", "search", False),
    ([], "prompts", "runbook", False),
    ([], "resources", "docs://public/a", False),
]


@pytest.mark.parametrize(("groups", "kind", "name", "allowed"), DECISIONS)
def test_the_decision(groups: list[str], kind: str, name: str, allowed: bool) -> None:
    assert allows(policy(), groups, Target(kind, name)) is allowed


def test_without_a_policy_or_a_matching_rule_everything_is_allowed() -> None:
    assert allows(None, ["anyone"], Target("tools", "x"))
    assert allows(policy({"analysts": {"tools": []}}), ["someone"], Target("tools", "x"))


@pytest.mark.parametrize("name", ["a.b", "a+b", "a(b)", "[ab]", "a?b"])
def test_only_star_is_special_in_a_pattern(name: str) -> None:
    # Given a policy whose patterns contain characters other glob and regex syntaxes treat as special
    rules = policy({"*": {"tools": ["a.b", "a+b", "a(b)", "[ab]", "a?b"]}})

    # Then each matches only itself
    assert allows(rules, [], Target("tools", name))
    assert not allows(rules, [], Target("tools", name.replace("a", "x", 1) + "z"))


def test_a_governed_request_without_a_name_is_refused_unless_all_of_its_kind_is_allowed() -> None:
    assert not allows(policy(), ["analysts"], Target("tools", None))
    assert allows(policy(), ["ops"], Target("tools", None))


@pytest.mark.parametrize(
    ("method", "params", "target"),
    [
        ("tools/call", {"name": "search", "arguments": {"name": "x"}}, Target("tools", "search")),
        ("prompts/get", {"name": "runbook"}, Target("prompts", "runbook")),
        ("resources/read", {"uri": "docs://a"}, Target("resources", "docs://a")),
        ("resources/subscribe", {"uri": "docs://a"}, Target("resources", "docs://a")),
        ("completion/complete", {"ref": {"type": "ref/prompt", "name": "runbook"}}, Target("prompts", "runbook")),
        ("completion/complete", {"ref": {"type": "ref/resource", "uri": "t://{x}"}}, Target("resources", "t://{x}")),
        ("completion/complete", {"ref": {"type": "ref/other"}}, Target("prompts", None)),
        ("tools/call", {"name": 7}, Target("tools", None)),
        ("tools/call", None, Target("tools", None)),
        ("tools/list", {}, None),
        ("initialize", {}, None),
    ],
)
def test_what_a_request_is_about(method: str, params: Any, target: Target | None) -> None:
    assert target_of(method, params) == target


def test_headers_name_the_target_of_calls_only_and_are_decoded() -> None:
    assert target_of_headers("tools/call", "=?base64?c2VhcmNo?=") == Target("tools", "search")
    assert target_of_headers("resources/read", "docs://a") == Target("resources", "docs://a")
    assert target_of_headers("tools/call", "=?base64?%%%?=") == Target("tools", None)
    assert target_of_headers("resources/subscribe", "docs://a") is None  # no Mcp-Name for it: the body decides
    assert target_of_headers("tools/list", None) is None
    assert decoded_header("plain") == "plain"


def test_lists_keep_what_the_caller_may_use() -> None:
    grant = grant_for(policy(), ["analysts"])
    tools = [{"name": "search"}, {"name": "status"}, {"name": "report_x"}, {"title": "no name"}, "junk"]
    assert visible(grant, "tools", tools) == [{"name": "search"}, {"name": "report_x"}]
    assert visible(grant, "prompts", [{"name": "runbook"}]) == []
    assert visible(grant, "resources", [{"uri": "docs://public/1"}, {"uri": "x"}]) == [{"uri": "docs://public/1"}]
    assert visible(grant_for(policy(), ["ops"]), "tools", tools) is tools


def test_a_grant_is_compiled_once_per_policy_and_group_set() -> None:
    rules = policy()
    assert grant_for(rules, ["analysts"]) is grant_for(rules, ["group:analysts"])
    assert grant_for(rules, ["analysts"]) is not grant_for(rules, ["ops"])
    assert grant_for(None, ["x"]).unrestricted
