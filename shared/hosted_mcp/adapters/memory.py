"""In-memory stores with the same semantics as the real ones, for unit tests."""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence

from hosted_mcp.errors import ConcurrentModification, InvalidRequest, NameConflict
from hosted_mcp.models.calls import CallRecord
from hosted_mcp.models.domain import AuditEntry, ServerRecord
from hosted_mcp.ports import CallAudit, CallPage, Page, ServerStore


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def decode_token(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest.of("nextToken", "nextToken is not a token this API issued") from exc


class InMemoryServerStore(ServerStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, ServerRecord] = {}
        self._names: dict[str, str] = {}
        self._audit: dict[str, list[AuditEntry]] = {}

    def create(self, record: ServerRecord, audit: AuditEntry) -> None:
        with self._lock:
            if record.normalizedName in self._names or record.id in self._records:
                raise NameConflict()
            self._records[record.id] = record
            self._names[record.normalizedName] = record.id
            self._audit.setdefault(record.id, []).append(audit)

    def get(self, server_id: str) -> ServerRecord | None:
        return self._records.get(server_id)

    def get_by_name(self, normalized_name: str) -> ServerRecord | None:
        server_id = self._names.get(normalized_name)
        return self._records.get(server_id) if server_id else None

    def list_page(self, limit: int, next_token: str | None = None) -> Page:
        start = decode_token(next_token) if next_token else 0
        ordered = sorted(self._records.values(), key=lambda r: (r.createdAt, r.id))
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        return Page(records=page, next_token=encode_token(start + limit) if more else None)

    def replace(self, expected: ServerRecord, new: ServerRecord, audit: AuditEntry | None) -> None:
        with self._lock:
            self._check(expected)
            self._records[new.id] = new
            if audit:
                self._audit.setdefault(new.id, []).append(audit)

    def remove(self, expected: ServerRecord, audit: AuditEntry) -> None:
        with self._lock:
            self._check(expected)
            del self._records[expected.id]
            del self._names[expected.normalizedName]
            self._audit.setdefault(expected.id, []).append(audit)

    def audit_trail(self, server_id: str) -> list[AuditEntry]:
        return list(self._audit.get(server_id, []))

    def _check(self, expected: ServerRecord) -> None:
        current = self._records.get(expected.id)
        if current is None or current.version != expected.version or current.status != expected.status:
            raise ConcurrentModification()


class InMemoryCallAudit(CallAudit):
    """The data-plane audit trail in a list, for unit tests and in-process runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[CallRecord] = []

    def record(self, calls: Sequence[CallRecord]) -> None:
        with self._lock:
            self._calls.extend(calls)

    def calls(self, server_id: str, limit: int, next_token: str | None = None) -> CallPage:
        start = decode_token(next_token) if next_token else 0
        with self._lock:
            mine = sorted((c for c in self._calls if c.serverId == server_id), key=lambda c: c.at, reverse=True)
        page = mine[start : start + limit]
        more = start + limit < len(mine)
        return CallPage(records=page, next_token=encode_token(start + limit) if more else None)
