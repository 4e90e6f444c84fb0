"""Every sample in events/ (of the reactions) parses into the model its function reads, and means what its name says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hosted_mcp.adapters.cloudformation import StackStatusChanged, settlement_from_stack_event
from hosted_mcp.adapters.dynamodb_streams import ServerRecordChanged
from hosted_mcp.adapters.eventbridge import ScheduledTick, put_events_entry
from hosted_mcp.logic.reactions import reaction_for, status_event
from hosted_mcp.models.events import StatusChanged
from tests.support.events import EVENTS_DIR

STREAM_DIRS = ["deploy", "apply", "teardown", "publish"]
STREAM_SAMPLES = [p for d in STREAM_DIRS for p in sorted((EVENTS_DIR / d).glob("*.json"))]
SETTLE_SAMPLES = sorted((EVENTS_DIR / "settle").glob("*.json"))
EXPECTED_OUTCOME = {
    "create-complete": "deployed",
    "rollback-complete": "failed",
    "update-complete": "deployed",
    "update-rollback-complete": "rolledBack",
    "update-rollback-failed": "failed",
    "delete-complete": "deployed",
    "delete-failed": "failed",
}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", STREAM_SAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_record_change_samples_are_server_record_changes(path: Path) -> None:
    change = ServerRecordChanged.model_validate(load(path)).change()
    assert change is not None
    assert change.status_changed
    reaction = reaction_for(change)
    if path.parent.name in ("deploy", "apply", "teardown"):
        assert reaction == path.parent.name
    # every change also becomes a schema-valid status event
    event = status_event(change)
    assert StatusChanged.model_validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize("path", sorted((EVENTS_DIR / "ignored").glob("*.json")), ids=lambda p: p.stem)
def test_ignored_samples_change_no_status(path: Path) -> None:
    change = ServerRecordChanged.model_validate(load(path)).change()
    assert change is None or not change.status_changed


@pytest.mark.parametrize("path", SETTLE_SAMPLES, ids=lambda p: p.stem)
def test_settle_samples_are_stack_outcomes_of_our_server(path: Path) -> None:
    event = StackStatusChanged.model_validate(load(path))
    settlement = settlement_from_stack_event(event, "hmcp")
    assert settlement is not None
    assert settlement.serverId == "3f5a9c0e1b2d4f6a8c0e1b2d4f6a8c0e"
    assert settlement.outcome == EXPECTED_OUTCOME[path.stem]
    assert settlement.token == event.detail.client_request_token
    assert settlement.reason


def test_the_follow_sample_is_the_platform_stacks_own_update() -> None:
    event = StackStatusChanged.model_validate(load(EVENTS_DIR / "follow" / "platform-updated.json"))
    assert event.detail.status_details.status == "UPDATE_COMPLETE"
    assert settlement_from_stack_event(event, "hmcp") is None  # never mistaken for a server's stack


def test_the_reconcile_sample_is_a_schedule_tick() -> None:
    tick = ScheduledTick.model_validate(load(EVENTS_DIR / "reconcile" / "scheduled.json"))
    assert tick.detail_type == "Scheduled Event"


def test_a_status_event_on_the_bus_carries_the_documented_envelope() -> None:
    change = ServerRecordChanged.model_validate(load(EVENTS_DIR / "publish" / "record-entered-inservice.json")).change()
    assert change is not None
    entry = put_events_entry(status_event(change), "hosted-mcp-status")
    detail = json.loads(entry["Detail"])
    assert (entry["Source"], entry["DetailType"]) == ("hosted-mcp", "Hosted MCP Server Status Changed")
    assert detail["schemaVersion"] == "1"
    assert (detail["fromStatus"], detail["toStatus"]) == ("Creating", "InService")
    assert detail["correlationId"] == f"{detail['serverId']}:{detail['version']}"
    documented = (Path(__file__).parents[2] / "docs" / "events.md").read_text(encoding="utf-8")
    for field in detail:
        assert f"`{field}`" in documented, f"docs/events.md does not describe {field}"
