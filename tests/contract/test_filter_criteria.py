"""Each stream consumer's FilterCriteria (read from template.yaml) wakes it for exactly its own sample records, and the
stack-status rule delivers exactly the settle samples. The patterns must also agree with statemachine/lifecycle.json:
the function a status's `onEnter` names is the one that wakes when a record enters it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hosted_mcp.lifecycle import lifecycle
from hosted_mcp.models.fields import ServerStatus
from tests.support.events import EVENTS_DIR
from tests.support.filters import matches, stack_rule_pattern, stream_filters, wakes

STREAM_CONSUMERS = {
    "deploy": "DeployFunction",
    "apply": "ApplyFunction",
    "teardown": "TeardownFunction",
    "publish": "PublishFunction",
}
SAMPLE_DIRS = [*STREAM_CONSUMERS, "ignored"]


def test_the_matcher_follows_the_pattern_language() -> None:
    assert matches({"a": ["x"]}, {"a": "x"})
    assert not matches({"a": ["x"]}, {"b": "x"})
    assert matches({"a": [{"anything-but": ["x"]}]}, {"a": "y"})
    assert not matches({"a": [{"anything-but": ["x"]}]}, {})  # anything-but needs the field
    assert matches({"a": {"b": [{"prefix": "ar"}]}}, {"a": {"b": "arn"}})
    assert matches({"a": [{"exists": False}]}, {})


# -- the template and the samples --------------------------------------------------------------------------------


def sample_records(directory: str) -> list[dict[str, Any]]:
    records = []
    for path in sorted((EVENTS_DIR / directory).glob("*.json")):
        records.extend(json.loads(path.read_text(encoding="utf-8"))["Records"])
    assert records, f"no samples in events/{directory}"
    return records


ALL_RECORDS = [(d, r) for d in SAMPLE_DIRS for r in sample_records(d)]


@pytest.mark.parametrize("reaction", list(STREAM_CONSUMERS))
def test_each_consumer_wakes_for_exactly_its_own_samples(reaction: str) -> None:
    # Given every sample stream record of every function (and the ones nobody should wake for)
    own = sample_records(reaction)
    for directory, record in ALL_RECORDS:
        # When the function's filters are applied, Then it wakes exactly for the records that are its own
        # (one fact may be two functions' own: every status change is also announced by publish)
        assert wakes(STREAM_CONSUMERS[reaction], record) == (record in own), (reaction, directory, record["eventID"])


def test_every_filter_accepts_only_server_records() -> None:
    for function in STREAM_CONSUMERS.values():
        for pattern in stream_filters(function):
            assert pattern["dynamodb"]["Keys"] == {"sk": {"S": ["META"]}}


def test_the_patterns_agree_with_the_lifecycle() -> None:
    # Given the lifecycle's onEnter table and one sample of a record entering each status
    entered: dict[ServerStatus, dict[str, Any]] = {}
    for directory in STREAM_CONSUMERS:
        for record in sample_records(directory):
            new = record["dynamodb"].get("NewImage")
            old = record["dynamodb"].get("OldImage")
            if new and (not old or old["status"] != new["status"]):
                entered[ServerStatus(new["status"]["S"])] = record
    # Then the function onEnter names wakes for it, and no other state-changing function does
    for status, record in entered.items():
        reaction = lifecycle().on_enter(status)
        assert reaction is not None, status
        assert wakes(STREAM_CONSUMERS[reaction], record), (status, reaction)
        for other in ("deploy", "apply", "teardown"):
            if other != reaction:
                assert not wakes(STREAM_CONSUMERS[other], record), (status, other)
        assert wakes("PublishFunction", record), status  # every status change is announced
    transitional = {s for s in ServerStatus if lifecycle().on_enter(s) in ("deploy", "apply", "teardown")}
    assert transitional <= set(entered), "a status whose onEnter reacts has no sample"


# -- the stack-status rule ---------------------------------------------------------------------------------------


def settle_samples() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((EVENTS_DIR / "settle").glob("*.json"))]


def test_the_stack_rule_delivers_every_settle_sample() -> None:
    samples = settle_samples()
    statuses = {s["detail"]["status-details"]["status"] for s in samples}
    assert {"CREATE_COMPLETE", "ROLLBACK_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"} <= statuses
    assert {"UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED"} <= statuses
    for sample in samples:
        assert matches(stack_rule_pattern(), sample), sample["detail"]["status-details"]["status"]


def test_the_stack_rule_ignores_other_stacks_and_intermediate_statuses() -> None:
    sample = settle_samples()[0]
    other = json.loads(json.dumps(sample).replace("stack/hmcp-", "stack/payroll-"))
    assert not matches(stack_rule_pattern(), other)
    in_progress = json.loads(json.dumps(sample).replace('"CREATE_COMPLETE"', '"UPDATE_IN_PROGRESS"'))
    assert not matches(stack_rule_pattern(), in_progress)
