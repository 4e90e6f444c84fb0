"""Reading the data-plane audit trail: a server's calls, newest first (gateways write it; see `CallAudit`)."""

from __future__ import annotations

from hosted_mcp.logic.servers import get_server
from hosted_mcp.ports import CallAudit, CallPage, ServerStore


def server_calls(
    store: ServerStore, audit: CallAudit, server_id: str, *, limit: int, next_token: str | None = None
) -> CallPage:
    """A page of the server's calls; NotFound for a server that does not exist (its calls may outlive it in the
    store until retention removes them, but the API answers for existing servers only)."""
    get_server(store, server_id)
    return audit.calls(server_id, limit, next_token)
