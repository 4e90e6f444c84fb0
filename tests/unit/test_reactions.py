"""Reactions over in-memory fakes: the races the AWS choreography meets (a stack settling before its id is noted,
overdue records), and settling each outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.logic.reactions import announce, deploy_server, overdue_records, settle, settle_deployment, sweep
from hosted_mcp.logic.servers import create_server, delete_server, update_server
from hosted_mcp.models.api import CreateServerRequest, UpdateServerRequest
from hosted_mcp.models.domain import ServerRecord, StatusChange
from hosted_mcp.models.events import ServerEvent, ServerRestarted
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.models.settlement import Deployment, Settlement
from hosted_mcp.ports import ApplyResult, Connections, DeploymentBackend, ReadinessProbe, StatusEvents
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

    def loss(self, record: ServerRecord) -> str | None:
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


# -- what really runs, for records in a stable status -----------------------------------------------------------


class Deployments(DeploymentBackend):
    """A backend that knows which deployments are lost, and why."""

    def __init__(self) -> None:
        self.lost: dict[str, str] = {}
        self.left: dict[str, str] = {}
        self.asked: list[str] = []

    def deploy(self, record: ServerRecord) -> Deployment:
        return Deployment(deploymentId=f"d-{record.id}", stackName=record.normalizedName)

    def apply(self, record: ServerRecord) -> ApplyResult:
        return ApplyResult.STARTED

    def teardown(self, record: ServerRecord) -> ApplyResult:
        return ApplyResult.STARTED

    def describe(self, record: ServerRecord) -> Settlement | None:
        return None

    def loss(self, record: ServerRecord) -> str | None:
        self.asked.append(record.id)
        return self.lost.get(record.id)

    def leftovers(self, record: ServerRecord) -> str | None:
        return self.left.get(record.id)


class Announced(StatusEvents):
    def __init__(self) -> None:
        self.events: list[ServerEvent] = []

    def publish(self, event: ServerEvent) -> None:
        self.events.append(event)


@dataclass
class Ports:
    store: InMemoryServerStore = field(default_factory=InMemoryServerStore)
    backend: Deployments = field(default_factory=Deployments)
    events: Announced = field(default_factory=Announced)
    probe: ReadinessProbe | None = None
    connections: Connections | None = None
    metrics: None = None
    base_url: str | None = None


def in_service(store: InMemoryServerStore, name: str) -> ServerRecord:
    record = a_server(store, name)
    settled = settle_deployment(
        store,
        None,
        Settlement(serverId=record.id, deploymentId=f"d-{record.id}", outcome="deployed", reason="ok"),
        now=NOW,
    )
    assert settled is not None
    return settled


def test_the_sweep_fails_a_stable_record_whose_deployment_is_lost_with_the_reason_and_an_audit_entry() -> None:
    ports = Ports()
    # Given two servers InService and one Stopped, and the backend knows the first one's deployment is gone
    gone, fine = in_service(ports.store, "gone"), in_service(ports.store, "fine")
    stopped = update_server(
        ports.store, in_service(ports.store, "parked").id, UpdateServerRequest(enabled=False), ADMIN, now=NOW
    )
    settle_deployment(
        ports.store,
        None,
        Settlement(serverId=stopped.id, deploymentId="", outcome="deployed", reason="ok", token=stopped.requestToken),
        now=NOW,
    )
    ports.backend.lost[gone.id] = "stack hmcp-gone no longer exists"
    # When the scheduled sweep runs
    repaired = sweep(ports, now=NOW)
    # Then only the lost one is Failed, with the reason, and the change is audited as the system's
    assert [r.id for r in repaired] == [gone.id]
    failed = ports.store.get(gone.id)
    assert failed is not None
    assert (failed.status, failed.lastError) == (ServerStatus.FAILED, "stack hmcp-gone no longer exists")
    last = ports.store.audit_trail(gone.id)[-1]
    assert (last.fromStatus, last.toStatus, last.actor, last.reason) == (
        ServerStatus.IN_SERVICE,
        ServerStatus.FAILED,
        "hosted-mcp",
        "stack hmcp-gone no longer exists",
    )
    # And every stable record was compared with what runs, the others left as they were
    assert sorted(ports.backend.asked) == sorted([gone.id, fine.id, stopped.id])
    still = ports.store.get(fine.id)
    assert still is not None
    assert still.status is ServerStatus.IN_SERVICE


def test_the_sweep_leaves_records_in_a_transitional_status_to_their_deadline() -> None:
    ports = Ports()
    # Given a record still Creating, which the backend would call lost
    creating = a_server(ports.store, "young")
    ports.backend.lost[creating.id] = "nothing runs"
    # When the sweep runs before its deadline, Then it is neither compared nor changed
    assert sweep(ports, now=NOW) == []
    assert ports.backend.asked == []
    assert ports.store.get(creating.id) == creating


def test_a_loss_reported_for_a_running_server_fails_it_through_settle() -> None:
    ports = Ports()
    record = in_service(ports.store, "crashy")
    # When the supervisor reports the deployment lost (a crash loop) for the status it saw
    loss = Settlement(
        serverId=record.id,
        deploymentId=record.deploymentId or "",
        outcome="lost",
        reason="crash loop: 3 restarts in 60s; last: exited with code 1",
        status=ServerStatus.IN_SERVICE,
    )
    failed = settle(ports, loss, now=NOW)
    # Then the record is Failed with that reason
    assert failed is not None
    assert (failed.status, failed.lastError) == (ServerStatus.FAILED, loss.reason)


def test_a_loss_reported_after_the_record_moved_on_changes_nothing() -> None:
    ports = Ports()
    record = in_service(ports.store, "busy")
    # Given the record was stopped meanwhile (its old replicas are what crashed)
    stopping = update_server(ports.store, record.id, UpdateServerRequest(enabled=False), ADMIN, now=NOW)
    loss = Settlement(
        serverId=record.id, deploymentId="", outcome="lost", reason="crash loop", status=ServerStatus.IN_SERVICE
    )
    # When the late loss arrives, Then nothing changes
    assert settle(ports, loss, now=NOW) is None
    assert ports.store.get(record.id) == stopping


def test_a_restart_counted_on_a_running_record_is_announced_as_a_restart_not_a_status_change() -> None:
    ports = Ports()
    record = in_service(ports.store, "bouncy")
    # When the supervisor counts a restart on the record (same status, restarts up, the reason as lastError)
    restarted = record.evolve(version=record.version + 1, restarts=1, lastError="replica 0 exited with code 1")
    announce(ports, StatusChange(old=record, new=restarted))
    # Then one restart event says so, with the count and the reason, and no status change is announced
    [event] = ports.events.events
    assert isinstance(event, ServerRestarted)
    assert (event.detail.status, event.detail.restarts, event.detail.reason) == (
        ServerStatus.IN_SERVICE,
        1,
        "replica 0 exited with code 1",
    )
    assert event.correlationId == f"{record.id}:{record.version + 1}"


def test_other_changes_that_keep_the_status_announce_nothing() -> None:
    ports = Ports()
    record = in_service(ports.store, "still")
    announce(ports, StatusChange(old=record, new=record.evolve(version=record.version + 1, deploymentId="d-2")))
    assert ports.events.events == []


def test_a_server_whose_own_deployment_is_gone_is_not_removed_while_something_of_it_is_left() -> None:
    ports = Ports()
    # Given a server being deleted, and the backend still deleting a deployment it replaced
    deleting = delete_server(ports.store, in_service(ports.store, "redeployed").id, ADMIN, now=NOW)
    ports.backend.left[deleting.id] = "stack hmcp-x, which a redeploy replaced, is DELETE_IN_PROGRESS"
    gone = Settlement(
        serverId=deleting.id,
        deploymentId=deleting.deploymentId or "",
        outcome="deployed",
        reason="deleted",
        token=deleting.requestToken,
    )
    # When its own deployment's deletion settles
    failed = settle(ports, gone, now=NOW)
    # Then it is Failed with what is left, not removed; deleting it again once that is gone removes it
    assert failed is not None
    assert (failed.status, failed.lastError) == (ServerStatus.FAILED, ports.backend.left[deleting.id])
    ports.backend.left.clear()
    again = delete_server(ports.store, deleting.id, ADMIN, now=NOW)
    done = Settlement(
        serverId=again.id,
        deploymentId=again.deploymentId or "",
        outcome="deployed",
        reason="deleted",
        token=again.requestToken,
    )
    settle(ports, done, now=NOW)
    assert ports.store.get(deleting.id) is None
