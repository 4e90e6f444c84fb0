"""The reactions of the choreography. Each is triggered by one fact and is safe to run twice, late or out of order.

One module: the choreography read in one place, every reaction, settle and sweep over the same helpers.

| fact                                      | use case                          | reaction                   |
|-------------------------------------------|-----------------------------------|----------------------------|
| record entered Creating                   | `react` -> deploy_server          | deploy                     |
| record entered Updating/Starting/Stopping | `react` -> apply_change           | apply                      |
| record entered Deleting                   | `react` -> tear_down              | teardown                   |
| any status change                         | `react` -> announce               | publish                    |
| a deployment action settled, or was lost  | `settle`                          |                            |
| schedule                                  | `sweep`                           |                            |

Which status triggers which reaction is read from the lifecycle (`statemachine/lifecycle.json`). Both runtimes
call the same use cases with their own `ReactionPorts`: on AWS each function hosts one reaction of `react`, on one
machine the change-feed pump hosts them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from aws_lambda_powertools import Logger

from hosted_mcp.endpoints import server_urls
from hosted_mcp.errors import ConcurrentModification, DeploymentRejected
from hosted_mcp.lifecycle import Outcome, Reaction, lifecycle
from hosted_mcp.logic.transitions import amend, move
from hosted_mcp.models.domain import ServerRecord, StatusChange
from hosted_mcp.models.events import ServerRestarted, ServerRestartedDetail, StatusChanged, StatusChangedDetail
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.models.settlement import Settlement
from hosted_mcp.ports import (
    ApplyResult,
    Connections,
    DeploymentBackend,
    ReactionPorts,
    ReadinessProbe,
    ServerStore,
    StatusEvents,
)

logger = Logger(service="hosted-mcp-reactions")
SYSTEM = "hosted-mcp"
EVERY_REACTION: frozenset[Reaction] = frozenset(("deploy", "apply", "teardown", "publish"))


# -- the use cases both runtimes call ------------------------------------------------------------------------------


def react(
    ports: ReactionPorts, change: StatusChange, *, now: datetime, hosts: frozenset[Reaction] = EVERY_REACTION
) -> None:
    """What one change of the record stream triggers: the news of it (publish) and the step the lifecycle names for
    the status entered. `hosts`: the reactions this caller runs (one per AWS function; all of them on one machine)."""
    if "publish" in hosts:
        announce(ports, change)
    reaction = reaction_for(change)
    if reaction is None or reaction not in hosts or change.new is None:
        return
    server_id, status = change.new.id, change.new.status
    if reaction == "deploy":
        deploy_server(ports.store, ports.backend, server_id, now=now, probe=ports.probe)
    elif reaction == "apply":
        apply_change(ports.store, ports.backend, server_id, status, now=now)
    elif reaction == "teardown":
        tear_down(ports.store, ports.backend, server_id, now=now)


def announce(ports: ReactionPorts, change: StatusChange) -> StatusChanged | None:
    """A record changed status: the status event, the connection (when the platform publishes them), the metrics.
    A running record counted a restart: the restart event."""
    event = publish_status(ports.events, change)
    if event is None:
        publish_restart(ports.events, change)
        return None
    connections, base_url = ports.connections, ports.base_url
    if connections is not None and base_url:
        publish_connection(connections, change, base_url)
    if ports.metrics is not None:
        ports.metrics.record(change)
    return event


def settle(ports: ReactionPorts, settlement: Settlement, *, now: datetime) -> ServerRecord | None:
    """A deployment action settled: move its record (after proving MCP readiness when it deployed). A running
    deployment was lost: fail its record with the reason."""
    if settlement.outcome == "lost":
        return settle_loss(ports.store, settlement, now=now)
    return settle_deployment(ports.store, ports.probe, settlement, now=now, backend=ports.backend)


def sweep(ports: ReactionPorts, *, now: datetime) -> list[ServerRecord]:
    """The scheduled, level-triggered sweep, one pass over the records: every record past its deadline is settled
    from its deployment, or failed; every record in a stable status is compared with what really runs, and failed
    with the reason when its deployment is lost. The records it changed."""
    overdue, stable = [], []
    for record in every_record(ports.store):
        if _is_overdue(record, now):
            overdue.append(record)
            continue
        if not lifecycle().is_transitional(record.status):
            ports.backend.tidy(record)
        if lifecycle().allows(record.status, ServerStatus.FAILED, "lost"):
            stable.append(record)
    repaired = reconcile(ports.store, ports.backend, ports.probe, overdue, now=now)
    return repaired + verify_running(ports.store, ports.backend, stable, now=now)


def reaction_for(change: StatusChange) -> Reaction | None:
    """What the lifecycle says this change triggers (besides publishing it)."""
    if change.new is None or not change.status_changed:
        return None
    return lifecycle().on_enter(change.new.status)


def _current(store: ServerStore, server_id: str, status: ServerStatus) -> ServerRecord | None:
    """The record if it is still in `status`; a late or duplicate trigger finds it moved on and does nothing."""
    record = store.get(server_id)
    if record is None or record.status is not status:
        logger.info("trigger is stale", server_id=server_id, expected=status, found=record and record.status)
        return None
    return record


# -- deploy / apply / teardown -----------------------------------------------------------------------------------


def deploy_server(
    store: ServerStore,
    backend: DeploymentBackend,
    server_id: str,
    *,
    now: datetime,
    probe: ReadinessProbe | None = None,
) -> ServerRecord | None:
    """Create the record's deployment (or, redeploying a Failed server, replace or update what is left of it)."""
    record = _current(store, server_id, ServerStatus.CREATING)
    if record is None:
        return None
    try:
        deployment = backend.deploy(record)
    except DeploymentRejected as rejected:
        return _fail(store, record, rejected.reason, now=now)
    if deployment.unchanged:
        # A redeploy found the deployment already as asked: no outcome will arrive, so settle now (with proof).
        return settle_deployment(store, probe, _settlement(record, "deployed", "nothing to change"), now=now)
    if record.deploymentId == deployment.deploymentId:
        return record
    try:
        return amend(store, record, now=now, deploymentId=deployment.deploymentId, stackName=deployment.stackName)
    except ConcurrentModification:
        # The deployment settled (or the record moved on) before we noted where it lives: settling fills it in.
        logger.info("record moved on while deploying", server_id=record.id, deployment_id=deployment.deploymentId)
        return None


def apply_change(
    store: ServerStore, backend: DeploymentBackend, server_id: str, status: ServerStatus, *, now: datetime
) -> ServerRecord | None:
    record = _current(store, server_id, status)
    if record is None:
        return None
    # A refused change leaves the old configuration running: that is a rollback, not a failure.
    return _drive(store, record, backend.apply, refused="rolledBack", unchanged="nothing to change", now=now)


def tear_down(store: ServerStore, backend: DeploymentBackend, server_id: str, *, now: datetime) -> ServerRecord | None:
    record = _current(store, server_id, ServerStatus.DELETING)
    if record is None:
        return None
    return _drive(
        store, record, backend.teardown, refused="failed", unchanged="nothing left to remove", now=now, backend=backend
    )


def _drive(
    store: ServerStore,
    record: ServerRecord,
    action: Callable[[ServerRecord], ApplyResult],
    *,
    refused: Outcome,
    unchanged: str,
    now: datetime,
    backend: DeploymentBackend | None = None,
) -> ServerRecord | None:
    """Start a backend action; settle at once when the backend refuses it or has nothing to do."""
    try:
        result = action(record)
    except DeploymentRejected as rejected:
        return settle_deployment(store, None, _settlement(record, refused, rejected.reason), now=now)
    if result is ApplyResult.NO_CHANGE:
        return settle_deployment(store, None, _settlement(record, "deployed", unchanged), now=now, backend=backend)
    return record


def _settlement(record: ServerRecord, outcome: Outcome, reason: str) -> Settlement:
    return Settlement(
        serverId=record.id,
        deploymentId=record.deploymentId or "",
        outcome=outcome,
        reason=reason,
        token=record.requestToken,
    )


def _fail(store: ServerStore, record: ServerRecord, reason: str, *, now: datetime) -> ServerRecord:
    return move(
        store, record, ServerStatus.FAILED, actor=SYSTEM, reason=reason, now=now, lastError=reason, pending=None
    )


# -- settle --------------------------------------------------------------------------------------------------------


def settle_target(record: ServerRecord, outcome: Outcome) -> ServerStatus | None:
    """Where a record goes when its current action settles with `outcome` (None: removed)."""
    if outcome == "failed":
        return ServerStatus.FAILED
    if outcome == "rolledBack":
        return record.pending.returnStatus if record.pending else ServerStatus.FAILED
    if record.status is ServerStatus.DELETING:
        return None
    return ServerStatus.IN_SERVICE if record.desired_enabled else ServerStatus.STOPPED


def settle_deployment(
    store: ServerStore,
    probe: ReadinessProbe | None,
    settlement: Settlement,
    *,
    now: datetime,
    backend: DeploymentBackend | None = None,
) -> ServerRecord | None:
    """Move the record the settlement belongs to; stale, duplicate and out-of-order settlements change nothing. A
    server whose deployment is gone is removed only when nothing else of it is left (`backend.leftovers`);
    otherwise it is Failed with what is left, and deleting it again finishes the job."""
    record = store.get(settlement.serverId) if settlement.serverId else None
    if record is None:
        logger.info("settlement for no record", deployment_id=settlement.deploymentId, outcome=settlement.outcome)
        return None
    if not lifecycle().is_transitional(record.status):
        logger.info("settlement after the record settled", server_id=record.id, status=record.status)
        return None
    if settlement.deploymentId and record.deploymentId and settlement.deploymentId != record.deploymentId:
        logger.info("settlement of another deployment", server_id=record.id, deployment_id=settlement.deploymentId)
        return None
    if settlement.token and settlement.token != record.requestToken:
        logger.info("settlement of an earlier action", server_id=record.id, token=settlement.token)
        return None
    target = settle_target(record, settlement.outcome)
    if not lifecycle().allows(record.status, target, settlement.outcome):
        logger.warning(
            "outcome not allowed here", server_id=record.id, status=record.status, outcome=settlement.outcome
        )
        return None
    outcome, reason = settlement.outcome, settlement.reason
    if target is None and backend is not None and (left := backend.leftovers(record)) is not None:
        outcome, reason, target = "failed", left, ServerStatus.FAILED
    if target is ServerStatus.IN_SERVICE and probe is not None:
        problem = probe.problem(record.evolve(spec=record.desired_spec))
        if problem:
            outcome, reason = "failed", f"deployed but does not answer MCP: {problem}"
            target = ServerStatus.FAILED
    try:
        return _settle(store, record, target, outcome, reason, now=now, deployment_id=settlement.deploymentId)
    except ConcurrentModification:
        logger.info("record moved on while settling", server_id=record.id)
        return None


def _settle(
    store: ServerStore,
    record: ServerRecord,
    target: ServerStatus | None,
    outcome: Outcome,
    reason: str,
    *,
    now: datetime,
    deployment_id: str | None = None,
) -> ServerRecord:
    where = {"deploymentId": record.deploymentId or deployment_id or None}
    if outcome == "deployed":
        return move(
            store,
            record,
            target,
            actor=SYSTEM,
            reason=reason,
            now=now,
            spec=record.desired_spec,
            enabled=record.desired_enabled,
            pending=None,
            lastError=None,
            **where,
        )
    return move(store, record, target, actor=SYSTEM, reason=reason, now=now, pending=None, lastError=reason, **where)


def settle_loss(store: ServerStore, settlement: Settlement, *, now: datetime) -> ServerRecord | None:
    """The deployment of a record in a stable status was lost (a restore that failed, a crash loop): Failed with the
    reason, if the record is still in the status the loss was seen in and still on that deployment."""
    record = store.get(settlement.serverId) if settlement.serverId else None
    if record is None:
        logger.info("loss of no record", deployment_id=settlement.deploymentId)
        return None
    if settlement.status is not None and record.status is not settlement.status:
        logger.info("loss after the record moved on", server_id=record.id, status=record.status)
        return None
    if settlement.deploymentId and record.deploymentId and settlement.deploymentId != record.deploymentId:
        logger.info("loss of another deployment", server_id=record.id, deployment_id=settlement.deploymentId)
        return None
    return _lose(store, record, settlement.reason, now=now)


def _lose(store: ServerStore, record: ServerRecord, reason: str, *, now: datetime) -> ServerRecord | None:
    if not lifecycle().allows(record.status, ServerStatus.FAILED, "lost"):
        logger.info("loss not allowed here", server_id=record.id, status=record.status)
        return None
    logger.warning("deployment lost", server_id=record.id, status=record.status, reason=reason)
    try:
        return move(store, record, ServerStatus.FAILED, actor=SYSTEM, reason=reason, now=now, lastError=reason)
    except ConcurrentModification:
        logger.info("record moved on while failing it", server_id=record.id)
        return None


# -- publish -------------------------------------------------------------------------------------------------------


def status_event(change: StatusChange) -> StatusChanged:
    record = change.server
    version = change.new.version if change.new else record.version + 1
    return StatusChanged(
        correlationId=f"{record.id}:{version}",
        detail=StatusChangedDetail(
            serverId=record.id,
            name=record.spec.name,
            normalizedName=record.normalizedName,
            fromStatus=change.old.status if change.old else None,
            toStatus=change.new.status if change.new else None,
            version=version,
            at=change.new.updatedAt if change.new else record.updatedAt,
            deploymentId=record.deploymentId,
            lastError=change.new.lastError if change.new else None,
        ),
    )


def publish_status(events: StatusEvents, change: StatusChange) -> StatusChanged | None:
    if not change.status_changed:
        return None
    event = status_event(change)
    events.publish(event)
    return event


def restart_event(change: StatusChange) -> ServerRestarted | None:
    """The restart a change records (the same status, `restarts` counted up), or None."""
    old, new = change.old, change.new
    if old is None or new is None or old.status is not new.status or new.restarts <= old.restarts:
        return None
    return ServerRestarted(
        correlationId=f"{new.id}:{new.version}",
        detail=ServerRestartedDetail(
            serverId=new.id,
            name=new.spec.name,
            normalizedName=new.normalizedName,
            status=new.status,
            restarts=new.restarts,
            reason=new.lastError,
            version=new.version,
            at=new.updatedAt,
            deploymentId=new.deploymentId,
        ),
    )


def publish_restart(events: StatusEvents, change: StatusChange) -> ServerRestarted | None:
    event = restart_event(change)
    if event is not None:
        events.publish(event)
    return event


def publish_connection(connections: Connections, change: StatusChange, base_url: str) -> None:
    """InService: an active connection; Stopped or Failed: an inactive one; removed: none."""
    if not change.status_changed:
        return
    if change.new is None:
        connections.remove(change.server.id)
    elif change.new.status is ServerStatus.IN_SERVICE:
        connections.publish(change.new, server_urls(base_url, change.new).primary, active=True)
    elif change.new.status in (ServerStatus.STOPPED, ServerStatus.FAILED):
        connections.publish(change.new, server_urls(base_url, change.new).primary, active=False)


# -- reconcile -----------------------------------------------------------------------------------------------------


def every_record(store: ServerStore, *, page_size: int = 100) -> Iterator[ServerRecord]:
    token: str | None = None
    while True:
        page = store.list_page(page_size, token)
        yield from page.records
        if not page.next_token:
            return
        token = page.next_token


def _is_overdue(record: ServerRecord, now: datetime) -> bool:
    deadline = record.statusDeadline
    return lifecycle().is_transitional(record.status) and deadline is not None and deadline <= now


def overdue_records(store: ServerStore, *, now: datetime, page_size: int = 100) -> list[ServerRecord]:
    """Records in a transitional status past their deadline (what the scheduled reconciler repairs)."""
    return [r for r in every_record(store, page_size=page_size) if _is_overdue(r, now)]


def verify_running(
    store: ServerStore, backend: DeploymentBackend, records: list[ServerRecord], *, now: datetime
) -> list[ServerRecord]:
    """Level-triggered truth for stable records: one whose deployment the backend reports lost is Failed with the
    reason (conditionally: a record that moved on since it was read is left to its new status)."""
    failed = []
    for record in records:
        reason = backend.loss(record)
        if reason is None:
            continue
        result = _lose(store, record, reason, now=now)
        if result is not None:
            failed.append(result)
    return failed


def reconcile(
    store: ServerStore,
    backend: DeploymentBackend,
    probe: ReadinessProbe | None,
    records: list[ServerRecord],
    *,
    now: datetime,
) -> list[ServerRecord]:
    """Level-triggered repair: a record past its deadline is settled from the real deployment, or failed."""
    repaired = []
    for record in records:
        if record.statusDeadline is None or record.statusDeadline > now:
            continue
        settled = backend.describe(record)
        if settled is not None:
            result = settle_deployment(
                store, probe, settled.model_copy(update={"token": None}), now=now, backend=backend
            )
        else:
            target = lifecycle().on_deadline(record.status)
            reason = f"no outcome {int((now - record.updatedAt).total_seconds())}s after entering {record.status}"
            try:
                result = move(
                    store, record, target, actor=SYSTEM, reason=reason, now=now, lastError=reason, pending=None
                )
            except ConcurrentModification:
                result = None
        if result is not None:
            repaired.append(result)
    return repaired
