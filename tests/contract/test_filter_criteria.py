"""Which reaction wakes for which change, read from template.yaml: the servers table's stream has one reader (the
records pipe, filtering on `dynamodb` keys only), and each reaction's rule on the record-changes bus wakes it for
exactly its own sample changes. The rules agree with statemachine/lifecycle.json (the function a status's `onEnter`
names is the one that wakes when a record enters it), and the stack-status rules deliver exactly their samples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hosted_mcp.adapters.dynamodb_streams import RECORD_CHANGED, RECORD_CHANGES_SOURCE
from hosted_mcp.lifecycle import lifecycle
from hosted_mcp.models.fields import ServerStatus
from tests.support.ddb import load_template
from tests.support.events import EVENTS_DIR
from tests.support.filters import (
    PIPE,
    matches,
    pipe_filters,
    pipe_passes,
    record_changed_event,
    rule_pattern,
    stack_rule_pattern,
    wakes,
)

REACTIONS = {
    "deploy": "DeployFunction",
    "apply": "ApplyFunction",
    "teardown": "TeardownFunction",
    "publish": "PublishFunction",
}
SAMPLE_DIRS = [*REACTIONS, "ignored"]
MAX_STREAM_READERS = 2  # DynamoDB Streams throttles more than two concurrent readers per shard


def test_the_matcher_follows_the_pattern_language() -> None:
    assert matches({"a": ["x"]}, {"a": "x"})
    assert not matches({"a": ["x"]}, {"b": "x"})
    assert matches({"a": [{"anything-but": ["x"]}]}, {"a": "y"})
    assert not matches({"a": [{"anything-but": ["x"]}]}, {})  # anything-but needs the field
    assert matches({"a": {"b": [{"prefix": "ar"}]}}, {"a": {"b": "arn"}})
    assert matches({"a": [{"exists": False}]}, {})
    assert matches({"a": {"b": [{"exists": False}]}}, {})  # absent parents: the leaf is absent too
    assert not matches({"a": {"b": ["x"]}}, {})
    assert matches({"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"b": "y"})
    assert not matches({"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"a": "y"})


# -- who reads the stream -----------------------------------------------------------------------------------------


def stream_readers(template: dict[str, Any], stream_owner: str) -> list[str]:
    """Every resource of the (SAM) template that reads `stream_owner`'s stream: event source mappings, functions'
    stream events, pipes."""
    readers = []
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        sources = []
        if resource["Type"] == "AWS::Pipes::Pipe":
            sources.append(properties.get("Source"))
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            sources.append(properties.get("EventSourceArn"))
        if resource["Type"] == "AWS::Serverless::Function":
            sources += [e["Properties"].get("Stream") for e in properties.get("Events", {}).values()]
        readers += [name for source in sources if source == {"Fn::GetAtt": [stream_owner, "StreamArn"]}]
    return readers


def test_the_servers_table_stream_has_at_most_two_readers() -> None:
    readers = stream_readers(load_template(), "ServersTable")
    assert readers == [PIPE]
    assert len(readers) <= MAX_STREAM_READERS


def test_the_pipe_filters_only_on_dynamodb_keys_and_feeds_the_record_changes_bus() -> None:
    pipe = load_template()["Resources"][PIPE]["Properties"]
    assert [set(pattern) for pattern in pipe_filters()] == [{"dynamodb"}]
    assert pipe_filters()[0]["dynamodb"]["Keys"] == {"sk": {"S": ["META"]}}
    assert pipe["Target"] == {"Fn::GetAtt": ["RecordChangesBus", "Arn"]}
    target = pipe["TargetParameters"]["EventBridgeEventBusParameters"]
    assert (target["Source"], target["DetailType"]) == (RECORD_CHANGES_SOURCE, RECORD_CHANGED)
    assert "InputTemplate" not in pipe.get("TargetParameters", {})  # the record travels unchanged
    assert pipe["SourceParameters"]["DynamoDBStreamParameters"]["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": ["ReactionsFailureQueue", "Arn"]
    }


@pytest.mark.parametrize("reaction", list(REACTIONS))
def test_each_rule_reads_only_the_records_change_and_its_dynamodb_keys(reaction: str) -> None:
    pattern = rule_pattern(REACTIONS[reaction])
    assert pattern["source"] == [RECORD_CHANGES_SOURCE]
    assert pattern["detail-type"] == [RECORD_CHANGED]
    assert set(pattern["detail"]) == {"dynamodb"}  # never the top-level eventName
    events = load_template()["Resources"][REACTIONS[reaction]]["Properties"]["Events"]
    (rule,) = events.values()
    assert rule["Properties"]["EventBusName"] == {"Ref": "RecordChangesBus"}


# -- the template and the samples --------------------------------------------------------------------------------


def sample_records(directory: str) -> list[dict[str, Any]]:
    paths = sorted((EVENTS_DIR / directory).glob("*.json"))
    records = [json.loads(p.read_text(encoding="utf-8"))["detail"] for p in paths]
    assert records, f"no samples in events/{directory}"
    return records


ALL_RECORDS = [(d, r) for d in SAMPLE_DIRS for r in sample_records(d)]


@pytest.mark.parametrize("reaction", list(REACTIONS))
def test_each_reaction_wakes_for_exactly_its_own_samples(reaction: str) -> None:
    # Given every sample change of every function (and the ones nobody should wake for)
    own = sample_records(reaction)
    for directory, record in ALL_RECORDS:
        # When the pipe's filter and the function's rule are applied, Then it wakes exactly for its own records
        # (one fact may be two functions' own: every status change is also announced by publish)
        assert wakes(REACTIONS[reaction], record) == (record in own), (reaction, directory, record["eventID"])


def test_the_pipe_drops_what_is_not_a_server_record() -> None:
    for directory, record in ALL_RECORDS:
        is_server = record["dynamodb"]["Keys"]["sk"] == {"S": "META"}
        assert pipe_passes(record) == is_server, (directory, record["eventID"])
        if not is_server:
            assert directory == "ignored"


def test_every_sample_is_what_the_pipe_puts_on_the_bus() -> None:
    for directory in SAMPLE_DIRS:
        for path in sorted((EVENTS_DIR / directory).glob("*.json")):
            sample = json.loads(path.read_text(encoding="utf-8"))
            built = record_changed_event(sample["detail"])
            assert (sample["source"], sample["detail-type"]) == (built["source"], built["detail-type"]), path


def test_the_rules_agree_with_the_lifecycle() -> None:
    # Given the lifecycle's onEnter table and one sample of a record entering each status
    entered: dict[ServerStatus, dict[str, Any]] = {}
    for directory in REACTIONS:
        for record in sample_records(directory):
            new = record["dynamodb"].get("NewImage")
            old = record["dynamodb"].get("OldImage")
            if new and (not old or old["status"] != new["status"]):
                entered[ServerStatus(new["status"]["S"])] = record
    # Then the function onEnter names wakes for it, and no other state-changing function does
    for status, record in entered.items():
        reaction = lifecycle().on_enter(status)
        assert reaction is not None, status
        assert wakes(REACTIONS[reaction], record), (status, reaction)
        for other in ("deploy", "apply", "teardown"):
            if other != reaction:
                assert not wakes(REACTIONS[other], record), (status, other)
        assert wakes("PublishFunction", record), status  # every status change is announced
    transitional = {s for s in ServerStatus if lifecycle().on_enter(s) in ("deploy", "apply", "teardown")}
    assert transitional <= set(entered), "a status whose onEnter reacts has no sample"


# -- the stack-status rules --------------------------------------------------------------------------------------


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


def test_the_platform_rule_wakes_follow_platform_only_for_the_platforms_own_update() -> None:
    sample = json.loads((EVENTS_DIR / "follow" / "platform-updated.json").read_text(encoding="utf-8"))
    pattern = rule_pattern("FollowPlatformFunction")
    assert matches(pattern, sample)
    for status in ("UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE", "CREATE_COMPLETE"):
        assert not matches(pattern, json.loads(json.dumps(sample).replace('"UPDATE_COMPLETE"', f'"{status}"')))
    for server_event in settle_samples():
        assert not matches(pattern, server_event)
