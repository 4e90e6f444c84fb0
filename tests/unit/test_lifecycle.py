"""The lifecycle document drives the API guards, the reactions and the deadlines."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from hosted_mcp.errors import StatusConflict
from hosted_mcp.lifecycle import Lifecycle, Outcome, lifecycle, load_document
from hosted_mcp.models.fields import ServerStatus as S

UPDATABLE = {S.IN_SERVICE, S.STOPPED}
DELETABLE = {S.IN_SERVICE, S.STOPPED, S.FAILED}


@pytest.mark.parametrize("status", list(S))
def test_update_is_allowed_only_in_service_or_stopped(status: S) -> None:
    if status in UPDATABLE:
        assert lifecycle().guard("update", status) is S.UPDATING
    else:
        with pytest.raises(StatusConflict, match="InService or Stopped"):
            lifecycle().guard("update", status)


@pytest.mark.parametrize("status", list(S))
def test_delete_is_allowed_only_in_service_stopped_or_failed(status: S) -> None:
    if status in DELETABLE:
        assert lifecycle().guard("delete", status) is S.DELETING
    else:
        with pytest.raises(StatusConflict, match="Failed or InService or Stopped"):
            lifecycle().guard("delete", status)


def test_stop_and_start_are_the_enabled_flag_moves() -> None:
    assert lifecycle().guard("stop", S.IN_SERVICE) is S.STOPPING
    assert lifecycle().guard("start", S.STOPPED) is S.STARTING
    with pytest.raises(StatusConflict):
        lifecycle().guard("start", S.IN_SERVICE)
    with pytest.raises(StatusConflict):
        lifecycle().guard("stop", S.STOPPED)


@pytest.mark.parametrize("status", list(S))
def test_only_a_failed_server_is_redeployed_and_that_deploys_it_again(status: S) -> None:
    if status is S.FAILED:
        assert lifecycle().guard("redeploy", status) is S.CREATING
    else:
        with pytest.raises(StatusConflict, match="allowed only in Failed"):
            lifecycle().guard("redeploy", status)


def test_creation_enters_creating_which_deploys() -> None:
    assert lifecycle().operation("create").to is S.CREATING
    assert lifecycle().on_enter(S.CREATING) == "deploy"


@pytest.mark.parametrize(
    ("current", "target", "outcome", "allowed"),
    [
        (S.CREATING, S.IN_SERVICE, "deployed", True),
        (S.CREATING, S.FAILED, "failed", True),
        (S.CREATING, S.STOPPED, "deployed", True),  # a Failed server redeployed stopped
        (S.CREATING, S.FAILED, "rolledBack", True),  # a redeploy whose stack update rolled back
        (S.CREATING, S.IN_SERVICE, "rolledBack", False),
        (S.UPDATING, S.IN_SERVICE, "rolledBack", True),
        (S.STOPPING, S.STOPPED, "deployed", True),
        (S.DELETING, None, "deployed", True),
        (S.IN_SERVICE, S.FAILED, "failed", False),
        (S.STOPPED, S.IN_SERVICE, "deployed", False),
        (S.IN_SERVICE, S.FAILED, "lost", True),
        (S.STOPPED, S.FAILED, "lost", True),
        (S.UPDATING, S.FAILED, "lost", False),
        (S.FAILED, S.FAILED, "lost", False),
    ],
)
def test_outcomes_allow_only_the_documented_transitions(
    current: S, target: S | None, outcome: Outcome, allowed: bool
) -> None:
    assert lifecycle().allows(current, target, outcome) is allowed


def test_every_transitional_status_has_a_deadline_and_a_way_out() -> None:
    transitional = set(lifecycle().transitional_statuses())
    assert transitional == {S.CREATING, S.UPDATING, S.STARTING, S.STOPPING, S.DELETING}
    for status in transitional:
        assert lifecycle().deadline(status) == timedelta(minutes=30)
        assert lifecycle().on_deadline(status) is S.FAILED
    for status in set(S) - transitional:
        assert lifecycle().deadline(status) is None


def test_a_document_with_other_statuses_than_the_wire_contract_is_refused() -> None:
    doc = load_document()
    doc["statuses"]["Paused"] = {"transitional": False}
    with pytest.raises(ValueError, match="wire contract"):
        Lifecycle.from_document(doc)


def test_a_transitional_status_without_deadline_is_refused() -> None:
    doc = copy.deepcopy(load_document())
    del doc["statuses"]["Updating"]["deadlineSeconds"]
    with pytest.raises(ValueError, match="deadline"):
        Lifecycle.from_document(doc)


def test_guards_follow_the_document_not_code() -> None:
    doc = load_document()
    doc["operations"]["update"]["from"] = ["Failed"]
    edited = Lifecycle.from_document(doc)
    assert edited.guard("update", S.FAILED) is S.UPDATING
    with pytest.raises(StatusConflict):
        edited.guard("update", S.IN_SERVICE)
