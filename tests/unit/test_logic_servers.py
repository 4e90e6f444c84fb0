"""The management operations over the in-memory store: what each writes, what each refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.errors import InvalidRequest, NameConflict, NotFound, StatusConflict
from hosted_mcp.logic import servers
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest, UpdateServerRequest
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp.models.fields import ServerStatus as S
from tests.support.races import race_two_transitions

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
RACE_ROUNDS = 300


def request(name: str = "docs-mcp", **fields: Any) -> CreateServerRequest:
    return CreateServerRequest.model_validate(
        {"name": name, "serverType": "stdio", "startCommand": "python main.py", **fields}
    )


def given_server(
    store: InMemoryServerStore, admin: Caller, status: S = S.IN_SERVICE, name: str = "docs"
) -> ServerRecord:
    record = servers.create_server(store, request(name), admin, now=NOW)
    if status is S.CREATING:
        return record
    return move(store, record, status, actor="deployer", reason="setup", now=NOW)


def test_create_stores_a_creating_record_with_deadline_token_and_audit(
    memory_store: InMemoryServerStore, admin: Caller
) -> None:
    ids = count(1)

    record = servers.create_server(memory_store, request("Docs MCP"), admin, now=NOW, new_id=lambda: f"id{next(ids)}")

    assert record.id == "id1"
    assert record.status is S.CREATING
    assert record.normalizedName == "docsmcp"
    assert record.owner == "alice"
    assert record.version == 1
    assert record.statusDeadline == NOW + timedelta(minutes=30)
    assert record.requestToken
    assert memory_store.get("id1") == record
    assert [(e.fromStatus, e.toStatus, e.actor) for e in memory_store.audit_trail("id1")] == [
        (None, S.CREATING, "alice")
    ]


def test_a_taken_normalised_name_conflicts(memory_store: InMemoryServerStore, admin: Caller) -> None:
    servers.create_server(memory_store, request("docs_mcp"), admin, now=NOW)
    with pytest.raises(NameConflict, match="Server name conflicts with existing server"):
        servers.create_server(memory_store, request("Docs-MCP"), admin, now=NOW)
    assert len(memory_store.list_page(10).records) == 1


def test_get_of_an_unknown_server_is_not_found(memory_store: InMemoryServerStore) -> None:
    with pytest.raises(NotFound):
        servers.get_server(memory_store, "nope")


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_list_limit_is_bounded(memory_store: InMemoryServerStore, limit: int) -> None:
    with pytest.raises(InvalidRequest) as raised:
        servers.list_servers(memory_store, limit=limit)
    assert raised.value.problems[0].field == "limit"


def test_update_moves_to_updating_and_keeps_the_change_pending(
    memory_store: InMemoryServerStore, admin: Caller
) -> None:
    record = given_server(memory_store, admin)

    updated = servers.update_server(
        memory_store, record.id, UpdateServerRequest(environment={"A": "1"}, groups=["ops"]), admin, now=NOW
    )

    assert updated.status is S.UPDATING
    assert updated.version == record.version + 1
    assert updated.spec == record.spec  # the running config is untouched until the change settles
    assert updated.pending is not None
    assert updated.pending.spec.environment == {"A": "1"}
    assert updated.pending.spec.groups == ["group:ops"]
    assert updated.pending.returnStatus is S.IN_SERVICE
    assert memory_store.audit_trail(record.id)[-1].reason == "update requested"


@pytest.mark.parametrize("status", [S.IN_SERVICE, S.STOPPED])
def test_a_change_of_data_plane_settings_only_applies_at_once_without_a_deployment(
    memory_store: InMemoryServerStore, admin: Caller, status: S
) -> None:
    # Given a server in a status that allows updates
    record = given_server(memory_store, admin, status)
    body = {"toolPolicy": {"*": {"tools": ["echo"]}}, "callLimits": {"ratePerSecond": 5}, "auditCalls": False}

    # When an admin changes its tool policy, call limits and call audit
    updated = servers.update_server(memory_store, record.id, UpdateServerRequest.model_validate(body), admin, now=NOW)

    # Then the running configuration holds them at once, in the same status, with nothing left to deploy
    assert updated.status is status
    assert updated.pending is None
    assert updated.spec.toolPolicy is not None
    assert updated.spec.toolPolicy.rules["*"].tools == ["echo"]
    assert (updated.spec.callLimits.ratePerSecond, updated.spec.auditCalls) == (5, False)
    assert memory_store.get(record.id) == updated
    entry = memory_store.audit_trail(record.id)[-1]
    assert (entry.fromStatus, entry.toStatus, entry.actor) == (status, status, "alice")
    assert entry.reason == "auditCalls, callLimits, toolPolicy changed"


def test_data_plane_settings_with_anything_else_go_through_a_deployment(
    memory_store: InMemoryServerStore, admin: Caller
) -> None:
    record = given_server(memory_store, admin)
    body = UpdateServerRequest.model_validate({"toolPolicy": {"*": {"tools": []}}, "description": "x"})

    updated = servers.update_server(memory_store, record.id, body, admin, now=NOW)

    assert updated.status is S.UPDATING
    assert updated.spec.toolPolicy is None
    assert updated.pending is not None
    assert updated.pending.spec.toolPolicy is not None


@pytest.mark.parametrize("status", [S.CREATING, S.UPDATING])
def test_data_plane_settings_follow_the_same_status_rule_as_any_update(
    memory_store: InMemoryServerStore, admin: Caller, status: S
) -> None:
    record = given_server(memory_store, admin, status)
    with pytest.raises(StatusConflict):
        servers.update_server(memory_store, record.id, UpdateServerRequest(auditCalls=False), admin, now=NOW)
    assert memory_store.get(record.id) == record


def test_data_plane_settings_of_a_failed_server_go_with_its_redeployment(
    memory_store: InMemoryServerStore, admin: Caller
) -> None:
    # Given a server that failed: any update redeploys it
    record = given_server(memory_store, admin, S.FAILED)

    # When only its call audit changes
    updated = servers.update_server(memory_store, record.id, UpdateServerRequest(auditCalls=False), admin, now=NOW)

    # Then it is redeployed like any update of a failed server, the change with it
    assert updated.status is S.CREATING
    assert updated.pending is not None
    assert updated.pending.spec.auditCalls is False


def test_a_policy_naming_a_group_the_server_does_not_have_changes_nothing(
    memory_store: InMemoryServerStore, admin: Caller
) -> None:
    record = servers.create_server(memory_store, request("docs", groups=["ops"]), admin, now=NOW)
    record = move(memory_store, record, S.IN_SERVICE, actor="deployer", reason="setup", now=NOW)
    body = UpdateServerRequest.model_validate({"toolPolicy": {"analysts": {"tools": []}}})

    with pytest.raises(InvalidRequest) as raised:
        servers.update_server(memory_store, record.id, body, admin, now=NOW)

    assert raised.value.problems[0].field == "toolPolicy.group:analysts"
    assert memory_store.get(record.id) == record


@pytest.mark.parametrize(
    ("status", "body", "target", "enabled"),
    [
        (S.IN_SERVICE, {"enabled": False}, S.STOPPING, False),
        (S.STOPPED, {"enabled": True}, S.STARTING, True),
        (S.STOPPED, {"description": "x"}, S.UPDATING, True),
        (S.IN_SERVICE, {"enabled": True, "description": "x"}, S.UPDATING, True),
    ],
)
def test_enabled_picks_stop_start_or_update(
    memory_store: InMemoryServerStore, admin: Caller, status: S, body: dict[str, Any], target: S, enabled: bool
) -> None:
    record = given_server(memory_store, admin, status)
    moved = servers.update_server(memory_store, record.id, UpdateServerRequest.model_validate(body), admin, now=NOW)
    assert moved.status is target
    assert moved.pending is not None
    assert moved.pending.enabled is enabled


def test_an_update_that_changes_nothing_is_refused(memory_store: InMemoryServerStore, admin: Caller) -> None:
    record = given_server(memory_store, admin, S.IN_SERVICE)
    with pytest.raises(InvalidRequest) as raised:
        servers.update_server(memory_store, record.id, UpdateServerRequest(enabled=True), admin, now=NOW)
    assert raised.value.problems[0].field == "enabled"
    assert memory_store.get(record.id) == record


def test_an_update_making_an_invalid_fargate_pair_names_the_field(
    memory_store: InMemoryServerStore, admin: Caller
) -> None:
    record = given_server(memory_store, admin)
    with pytest.raises(InvalidRequest) as raised:
        servers.update_server(memory_store, record.id, UpdateServerRequest(memoryLimitMiB=8192), admin, now=NOW)
    assert raised.value.problems[0].field == "memoryLimitMiB"
    assert memory_store.get(record.id) == record


@pytest.mark.parametrize("status", [S.CREATING, S.UPDATING, S.STARTING, S.STOPPING, S.DELETING])
def test_update_outside_in_service_stopped_or_failed_is_a_status_conflict(
    memory_store: InMemoryServerStore, admin: Caller, status: S
) -> None:
    record = given_server(memory_store, admin, status)
    with pytest.raises(StatusConflict):
        servers.update_server(memory_store, record.id, UpdateServerRequest(description="x"), admin, now=NOW)
    assert memory_store.get(record.id) == record


def failed_server(store: InMemoryServerStore, admin: Caller) -> ServerRecord:
    record = given_server(store, admin, S.IN_SERVICE)
    return move(
        store, record, S.FAILED, actor="hosted-mcp", reason="crash loop", now=NOW, lastError="crash loop", restarts=5
    )


def test_a_failed_server_is_fixed_by_an_update_that_redeploys_it_with_the_change(
    memory_store: InMemoryServerStore, admin: Caller
) -> None:
    # Given a server that failed (its last error and restarts on the record)
    record = failed_server(memory_store, admin)
    # When an admin updates its environment
    later = NOW + timedelta(minutes=5)
    change = UpdateServerRequest.model_validate({"environment": {"DATABASE_URL": "postgres://db"}})
    redeploying = servers.update_server(memory_store, record.id, change, admin, now=later)
    # Then it is redeployed: Creating again, the change pending and meant to run, the old error and restarts cleared
    assert redeploying.status is S.CREATING
    assert redeploying.pending is not None
    assert redeploying.pending.spec.environment == {"DATABASE_URL": "postgres://db"}
    assert (redeploying.pending.enabled, redeploying.pending.returnStatus) == (True, S.FAILED)
    assert (redeploying.lastError, redeploying.restarts) == (None, 0)
    assert redeploying.spec == record.spec  # the running configuration changes only when the deployment settles
    assert redeploying.statusDeadline == later + timedelta(minutes=30)
    assert redeploying.requestToken not in (None, record.requestToken)
    # And it has its own audit entry
    last = memory_store.audit_trail(record.id)[-1]
    assert (last.fromStatus, last.toStatus, last.actor, last.reason) == (
        S.FAILED,
        S.CREATING,
        "alice",
        "redeploy requested",
    )


@pytest.mark.parametrize(("enabled", "runs"), [(True, True), (False, False)])
def test_a_failed_server_is_retried_as_it_is_with_enabled(
    memory_store: InMemoryServerStore, admin: Caller, enabled: bool, runs: bool
) -> None:
    record = failed_server(memory_store, admin)
    redeploying = servers.update_server(memory_store, record.id, UpdateServerRequest(enabled=enabled), admin, now=NOW)
    assert redeploying.status is S.CREATING
    assert redeploying.pending is not None
    assert (redeploying.pending.spec, redeploying.pending.enabled) == (record.spec, runs)


@pytest.mark.parametrize("status", list(S))
def test_delete_only_from_in_service_stopped_or_failed(
    memory_store: InMemoryServerStore, admin: Caller, status: S
) -> None:
    record = given_server(memory_store, admin, status)
    if status in {S.IN_SERVICE, S.STOPPED, S.FAILED}:
        assert servers.delete_server(memory_store, record.id, admin, now=NOW).status is S.DELETING
    else:
        with pytest.raises(StatusConflict):
            servers.delete_server(memory_store, record.id, admin, now=NOW)
        assert memory_store.get(record.id) == record


CONFLICTS = {
    "delete vs stop": (
        lambda s, sid, who: servers.delete_server(s, sid, who, now=NOW),
        lambda s, sid, who: servers.update_server(s, sid, UpdateServerRequest(enabled=False), who, now=NOW),
    ),
    "update vs update": (
        lambda s, sid, who: servers.update_server(s, sid, UpdateServerRequest(description="a"), who, now=NOW),
        lambda s, sid, who: servers.update_server(s, sid, UpdateServerRequest(description="b"), who, now=NOW),
    ),
    "delete vs settle": (
        lambda s, sid, who: servers.delete_server(s, sid, who, now=NOW),
        lambda s, sid, who: move(s, s.get(sid), S.FAILED, actor="reconciler", reason="past deadline", now=NOW),
    ),
}


@pytest.mark.parametrize("conflict", list(CONFLICTS))
def test_two_conflicting_transitions_exactly_one_wins_every_time(admin: Caller, conflict: str) -> None:
    first, second = CONFLICTS[conflict]
    store = InMemoryServerStore()
    for round_ in range(RACE_ROUNDS):
        # Given a record both contenders read at the same version
        record = given_server(store, admin, name=f"race-{round_}")

        # When both write at once,
        # Then one wins, the other is told of the concurrent change, and the winner's write is what is stored
        race_two_transitions(store, record.id, admin, first, second)
        assert len(store.audit_trail(record.id)) == 3
