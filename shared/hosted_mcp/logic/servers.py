"""The management operations behind `/mcp`: create, read, list, update (incl. stop/start), delete."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError

from hosted_mcp.errors import InvalidRequest, NotFound, invalid_request_from
from hosted_mcp.lifecycle import Operation, lifecycle
from hosted_mcp.logic.transitions import move, request_token
from hosted_mcp.models.api import CreateServerRequest, UpdateServerRequest
from hosted_mcp.models.domain import AuditEntry, Caller, PendingChange, ServerRecord, ServerSpec
from hosted_mcp.models.fields import ServerStatus, normalize_name
from hosted_mcp.models.limits import spec_problems
from hosted_mcp.ports import Page, ServerStore

MAX_PAGE_SIZE = 100
# What only the gateways read (the authorizer, the router, the local gateway), from the record on every request:
# changing it needs no deployment, and the next request obeys it.
DATA_PLANE_SETTINGS = frozenset({"toolPolicy", "callLimits", "auditCalls"})


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_server_id() -> str:
    return uuid.uuid4().hex


def create_server(
    store: ServerStore,
    request: CreateServerRequest,
    caller: Caller,
    *,
    now: datetime,
    new_id: Callable[[], str] = new_server_id,
) -> ServerRecord:
    spec = request.to_spec()
    status = lifecycle().operation("create").to
    deadline = lifecycle().deadline(status)
    record = ServerRecord(
        id=new_id(),
        normalizedName=normalize_name(spec.name),
        spec=spec,
        status=status,
        owner=caller.username,
        createdAt=now,
        updatedAt=now,
        statusDeadline=now + deadline if deadline else None,
    )
    record = record.evolve(requestToken=request_token(record.id, record.version))
    audit = AuditEntry(
        serverId=record.id,
        version=record.version,
        at=now,
        actor=caller.username,
        fromStatus=None,
        toStatus=status,
        reason="created",
    )
    store.create(record, audit)
    return record


def get_server(store: ServerStore, server_id: str) -> ServerRecord:
    record = store.get(server_id)
    if record is None:
        raise NotFound(f"Server {server_id} not found")
    return record


def list_servers(store: ServerStore, *, limit: int = 50, next_token: str | None = None) -> Page:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest.of("limit", f"limit must be between 1 and {MAX_PAGE_SIZE}")
    return store.list_page(limit, next_token)


def update_server(
    store: ServerStore, server_id: str, request: UpdateServerRequest, caller: Caller, *, now: datetime
) -> ServerRecord:
    """Accept an update: the record moves to Updating, Stopping or Starting with the change pending; a Failed
    record is redeployed (Creating) with the change, running unless the body says `enabled: false`. An update of
    data-plane settings only (tool policy, call limits, call audit) applies at once, with no deployment."""
    record = get_server(store, server_id)
    operation, enabled = _classify(record, request)
    target = lifecycle().guard(operation, record.status)
    spec = _apply(record.spec, request)
    changed = set(request.config_changes())
    if operation == "update" and request.enabled is None and changed <= DATA_PLANE_SETTINGS:
        reason = f"{', '.join(sorted(changed))} changed"
        return move(store, record, record.status, actor=caller.username, reason=reason, now=now, spec=spec)
    pending = PendingChange(spec=spec, enabled=enabled, returnStatus=record.status)
    reason = REASONS.get(operation, "update requested")
    changes: dict[str, object] = {"pending": pending, "lastError": None}
    if operation == "redeploy":
        changes["restarts"] = 0  # a new deployment: its restarts are counted afresh
    return move(store, record, target, actor=caller.username, reason=reason, now=now, **changes)


def delete_server(store: ServerStore, server_id: str, caller: Caller, *, now: datetime) -> ServerRecord:
    record = get_server(store, server_id)
    target = lifecycle().guard("delete", record.status)
    return move(store, record, target, actor=caller.username, reason="delete requested", now=now)


REASONS: dict[Operation, str] = {
    "stop": "stop requested",
    "start": "start requested",
    "redeploy": "redeploy requested",
}


def _classify(record: ServerRecord, request: UpdateServerRequest) -> tuple[Operation, bool]:
    """Which lifecycle operation an update body asks for, and the desired running state after it."""
    if record.status in lifecycle().operation("redeploy").allowed_from:
        return "redeploy", request.enabled is not False
    if request.enabled is False and record.status is not ServerStatus.STOPPED:
        return "stop", False
    if request.enabled is True and record.status is not ServerStatus.IN_SERVICE:
        return "start", True
    if not request.config_changes():
        state = "running" if request.enabled else "stopped"
        raise InvalidRequest.of("enabled", f"the server is already {state} and nothing else would change")
    return "update", record.enabled


def _apply(spec: ServerSpec, request: UpdateServerRequest) -> ServerSpec:
    changes = request.config_changes()
    if not changes:
        return spec
    dumped = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in changes.items()}
    try:
        changed = ServerSpec.model_validate(spec.model_dump() | dumped)
    except ValidationError as exc:
        raise invalid_request_from(exc) from exc
    problems = spec_problems(changed)
    if problems:
        raise InvalidRequest(problems)
    return changed
