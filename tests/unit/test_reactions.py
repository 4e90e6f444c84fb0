"""Reactions over in-memory fakes: the races the AWS choreography meets (a stack settling before its id is noted,
overdue records), and settling each outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.logic.reactions import deploy_server, overdue_records, settle_deployment
from hosted_mcp.logic.servers import create_server, update_server
from hosted_mcp.models.api import CreateServerRequest, UpdateServerRequest
from hosted_mcp.models.domain import ServerRecord
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.models.settlement import Deployment, Settlement
from hosted_mcp.ports import ApplyResult, DeploymentBackend
from tests.support.events import ADMIN

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


class SettlesWhileDeploying(DeploymentBackend):
    """A backend whose stack settles (and gets settled) before deploy_server notes where it lives."""

    def __init__(self, store: InMemoryServerStore) -> None:
        self.store = store

    def deploy(self, record: ServerRecord) -> Deployment:
        settle_deployment(
            self.store,
            None,
            Settlement(
                serverId=record.id, deploymentId="stack-1", outcome="deployed", reason="ok", token=record.requestToken
            ),
            now=NOW,
        )
        return Deployment(deploymentId="stack-1", stackName="hmcp-x")

    def apply(self, record: ServerRecord) -> ApplyResult:
        return ApplyResult.STARTED

    def teardown(self, record: ServerRecord) -> ApplyResult:
        return ApplyResult.STARTED

    def describe(self, record: ServerRecord) -> Settlement | None:
        return None


def a_server(store: InMemoryServerStore, name: str = "docs") -> ServerRecord:
    request = CreateServerRequest.model_validate({"name": name, "serverType": "stdio", "startCommand": "python m.py"})
    return create_server(store, request, ADMIN, now=NOW)


def test_a_stack_that_settles_before_its_id_is_noted_still_ends_in_service_with_the_id() -> None:
    store = InMemoryServerStore()
    record = a_server(store)
    # When the deployment settles while deploy_server is still running
    assert deploy_server(store, SettlesWhileDeploying(store), record.id, now=NOW) is None
    # Then the record is InService and knows its deployment (settling noted it)
    settled = store.get(record.id)
    assert settled is not None
    assert (settled.status, settled.deploymentId) == (ServerStatus.IN_SERVICE, "stack-1")


def test_a_rollback_returns_to_where_the_change_started_with_the_reason_and_the_old_config() -> None:
    store = InMemoryServerStore()
    record = a_server(store)
    record = settle_deployment(
        store, None, Settlement(serverId=record.id, deploymentId="", outcome="deployed", reason="ok"), now=NOW
    )
    assert record is not None
    updating = update_server(
        store, record.id, UpdateServerRequest.model_validate({"environment": {"A": "1"}}), ADMIN, now=NOW
    )
    rolled = settle_deployment(
        store,
        None,
        Settlement(
            serverId=record.id, deploymentId="", outcome="rolledBack", reason="image gone", token=updating.requestToken
        ),
        now=NOW,
    )
    assert rolled is not None
    assert (rolled.status, rolled.lastError, rolled.spec.environment) == (ServerStatus.IN_SERVICE, "image gone", {})


def test_overdue_records_are_the_transitional_ones_past_their_deadline() -> None:
    store = InMemoryServerStore()
    late = a_server(store, "late")
    a_server(store, "fresh")
    done = a_server(store, "done")
    settle_deployment(
        store, None, Settlement(serverId=done.id, deploymentId="", outcome="deployed", reason="ok"), now=NOW
    )
    # Given one record created long ago (its deadline passed), one just now, one already settled
    store._records[late.id] = late.evolve(statusDeadline=NOW - timedelta(seconds=1))
    # Then only the late one is overdue, across pages
    assert [r.id for r in overdue_records(store, now=NOW, page_size=1)] == [late.id]
