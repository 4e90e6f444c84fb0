"""The one way a record changes status: checked against the lifecycle, conditional, audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hosted_mcp.lifecycle import lifecycle
from hosted_mcp.models.domain import AuditEntry, ServerRecord
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.ports import ServerStore


def request_token(server_id: str, version: int) -> str:
    """Deterministic per status entry: retries of one action reuse it; a newer action never does."""
    return f"hmcp-{server_id}-{version}"


def move(
    store: ServerStore,
    record: ServerRecord,
    target: ServerStatus | None,
    *,
    actor: str,
    reason: str,
    now: datetime,
    **changes: Any,
) -> ServerRecord:
    """Write `record` in status `target` (None removes it) with `changes`, only if nobody changed it meanwhile.

    The caller has already checked that the lifecycle allows the move (an API guard or a reaction's outcome).
    Raises ConcurrentModification when the stored record is no longer `record`.
    """
    audit = AuditEntry(
        serverId=record.id,
        version=record.version + 1,
        at=now,
        actor=actor,
        fromStatus=record.status,
        toStatus=target,
        reason=reason,
    )
    if target is None:
        store.remove(record, audit)
        return record
    deadline = lifecycle().deadline(target)
    version = record.version + 1
    new = record.evolve(
        status=target,
        version=version,
        updatedAt=now,
        statusDeadline=now + deadline if deadline else None,
        requestToken=request_token(record.id, version) if lifecycle().is_transitional(target) else None,
        **changes,
    )
    store.replace(record, new, audit)
    return new


def amend(store: ServerStore, record: ServerRecord, *, now: datetime, **changes: Any) -> ServerRecord:
    """Change fields other than the status (e.g. the deployment id), conditionally, without an audit entry."""
    new = record.evolve(version=record.version + 1, updatedAt=now, **changes)
    store.replace(record, new, None)
    return new
