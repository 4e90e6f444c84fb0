"""Servers follow the platform: after the platform itself changed, every running or stopped server is re-applied.

A server's stack reads the platform's values (network, listener, images, ...) when it is created or updated, and
its template comes from the synthesizer of the platform's current code. So following the platform is an ordinary
update to the configuration a server already has: through the lifecycle (`update` from InService or Stopped, an
audit entry, a status event), applied by the same reaction as any update, settled by the same stack events; a stack
with nothing to change settles at once. Records in a transitional status are left alone (their own action applies
the platform's current values); Failed ones are not running.
"""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger

from hosted_mcp.errors import ConcurrentModification
from hosted_mcp.lifecycle import lifecycle
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.domain import PendingChange, ServerRecord
from hosted_mcp.ports import ServerStore

logger = Logger(service="hosted-mcp-platform", child=True)
PLATFORM_ACTOR = "hosted-mcp:platform"
REASON = "platform changed: re-applied"


def follow_platform(store: ServerStore, *, now: datetime, page_size: int = 100) -> list[ServerRecord]:
    """Move every InService or Stopped record to Updating with its own configuration; return the moved records."""
    moved: list[ServerRecord] = []
    allowed = lifecycle().operation("update").allowed_from
    token: str | None = None
    while True:
        page = store.list_page(page_size, token)
        for record in page.records:
            if record.status not in allowed:
                continue
            pending = PendingChange(spec=record.spec, enabled=record.enabled, returnStatus=record.status)
            target = lifecycle().guard("update", record.status)
            try:
                moved.append(move(store, record, target, actor=PLATFORM_ACTOR, reason=REASON, now=now, pending=pending))
            except ConcurrentModification:
                # Somebody changed it meanwhile: their action synthesizes with the platform's current values too.
                logger.info("record moved on before the platform sweep", server_id=record.id)
        if not page.next_token:
            return moved
        token = page.next_token
