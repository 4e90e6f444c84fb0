"""The subset of the EventBridge pattern language the template uses, the records pipe's filter and each reaction's
rule: what decides which reaction wakes for a change of the servers table (contract tests and the choreography test).

A stream record reaches a reaction when the pipe's filter lets it through and the reaction's rule matches the event
the pipe puts on the record-changes bus (`record_changed_event`)."""

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
    """Every key of the pattern must match: a nested object recurses, a list matches when any rule in it does,
    `$or` when any of its patterns does."""
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in expected):
                return False
            continue
        present = key in event
        value = event.get(key)
        if isinstance(expected, dict):
            # an absent object is matched as an empty one: only `exists: false` leaves can match inside it
            if present and not isinstance(value, dict):
                return False
            if not matches(expected, value if present else {}):
                return False
        elif isinstance(expected, list):
            values = value if isinstance(value, list) else [value]
            if not any(_value_matches(rule, v, present) for rule in expected for v in values):
                return False
        else:
            raise AssertionError(f"pattern values are objects or arrays, got {expected!r}")
    return True


PIPE = "ServerRecordsPipe"
PIPE_ARN = "arn:aws:pipes:us-east-1:123456789012:pipe/hosted-mcp-ServerRecordsPipe-1A2B3C4D5E6F"


@cache
def pipe_filters() -> list[dict[str, Any]]:
    """The records pipe's filter patterns (what it reads from the servers table's stream)."""
    filters = load_template()["Resources"][PIPE]["Properties"]["SourceParameters"]["FilterCriteria"]["Filters"]
    return [json.loads(f["Pattern"]) for f in filters]


def pipe_passes(record: dict[str, Any]) -> bool:
    return any(matches(pattern, record) for pattern in pipe_filters())


def record_changed_event(record: dict[str, Any]) -> dict[str, Any]:
    """The event the pipe puts on the record-changes bus for one stream record (no input template: the record is the
    detail), with the source and detail-type the template gives it."""
    target = load_template()["Resources"][PIPE]["Properties"]["TargetParameters"]["EventBridgeEventBusParameters"]
    return {
        "version": "0",
        "id": f"pipe-{record.get('eventID', '')}",
        "detail-type": target["DetailType"],
        "source": target["Source"],
        "account": "123456789012",
        "time": "2026-11-24T01:00:00Z",
        "region": "us-east-1",
        "resources": [PIPE_ARN],
        "detail": record,
    }


@cache
def rule_pattern(function: str) -> dict[str, Any]:
    """The pattern of the one EventBridge rule that wakes `function` (template.yaml)."""
    events = load_template()["Resources"][function]["Properties"]["Events"]
    (rule,) = [e for e in events.values() if e["Type"] == "EventBridgeRule"]
    return _resolve(rule["Properties"]["Pattern"])


def wakes(function: str, record: dict[str, Any]) -> bool:
    """Whether a stream record of the servers table wakes `function`: through the pipe, then the function's rule."""
    return pipe_passes(record) and matches(rule_pattern(function), record_changed_event(record))


SUBSTITUTIONS = {
    "${AWS::Partition}": "aws",
    "${AWS::Region}": "us-east-1",
    "${AWS::AccountId}": "123456789012",
    "${StackNamePrefix}": "hmcp",
}


PLATFORM_STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/hosted-mcp/1a2b3c40-c9c2-11f0-9f1a-0affd3e6a2b1"
)


def _resolve(value: Any) -> Any:
    if value == {"Ref": "AWS::StackId"}:
        return PLATFORM_STACK_ID
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


def stack_rule_pattern() -> dict[str, Any]:
    return rule_pattern("SettleFunction")
