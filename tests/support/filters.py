"""The subset of the Lambda event-filtering / EventBridge pattern language the template uses, and the template's
stream filters: what decides which reaction wakes for a stream record (contract tests and the choreography test)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from tests.support.ddb import load_template


def _value_matches(rule: Any, value: Any, present: bool) -> bool:
    if isinstance(rule, dict):
        (operator, operand), *rest = rule.items()
        assert not rest, f"one operator per rule: {rule}"
        if operator == "anything-but":
            return present and value not in (operand if isinstance(operand, list) else [operand])
        if operator == "prefix":
            return present and isinstance(value, str) and value.startswith(operand)
        if operator == "exists":
            return present is operand
        raise AssertionError(f"operator {operator} is not part of the supported subset")
    return present and value == rule


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Every key of the pattern must match: a nested object recurses, a list matches when any rule in it does."""
    for key, expected in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(expected, dict):
            if not present or not isinstance(value, dict) or not matches(expected, value):
                return False
        elif isinstance(expected, list):
            values = value if isinstance(value, list) else [value]
            if not any(_value_matches(rule, v, present) for rule in expected for v in values):
                return False
        else:
            raise AssertionError(f"pattern values are objects or arrays, got {expected!r}")
    return True


@cache
def stream_filters(function: str) -> list[dict[str, Any]]:
    resource = load_template()["Resources"][function]
    (event,) = [e for e in resource["Properties"]["Events"].values() if e["Type"] == "DynamoDB"]
    filters = event["Properties"]["FilterCriteria"]["Filters"]
    return [json.loads(f["Pattern"]) for f in filters]


def wakes(function: str, record: dict[str, Any]) -> bool:
    """Lambda ORs the filters of one event source mapping."""
    return any(matches(pattern, record) for pattern in stream_filters(function))


SUBSTITUTIONS = {
    "${AWS::Partition}": "aws",
    "${AWS::Region}": "us-east-1",
    "${AWS::AccountId}": "123456789012",
    "${StackNamePrefix}": "hmcp",
}


def _resolve(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        for name, replacement in SUBSTITUTIONS.items():
            text = text.replace(name, replacement)
        return text
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


@cache
def stack_rule_pattern() -> dict[str, Any]:
    events = load_template()["Resources"]["SettleFunction"]["Properties"]["Events"]
    (rule,) = [e for e in events.values() if e["Type"] == "EventBridgeRule"]
    return _resolve(rule["Properties"]["Pattern"])
