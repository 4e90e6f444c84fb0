"""Ports: the small abstract interfaces logic depends on. Adapters implement them for AWS, one machine and tests."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from hosted_mcp.models.domain import AuditEntry, ServerRecord


@dataclass(frozen=True)
class Page:
    records: list[ServerRecord]
    next_token: str | None


class ServerStore(ABC):
    """Records of hosted servers and their audit trail.

    Every write is conditional: `create` fails with NameConflict when the normalised name is taken (checked
    atomically, never by scanning), `replace` and `remove` fail with ConcurrentModification when the stored
    version is not `expected.version`. Each write appends its audit entry in the same transaction.
    """

    @abstractmethod
    def create(self, record: ServerRecord, audit: AuditEntry) -> None: ...

    @abstractmethod
    def get(self, server_id: str) -> ServerRecord | None: ...

    @abstractmethod
    def get_by_name(self, normalized_name: str) -> ServerRecord | None: ...

    @abstractmethod
    def list_page(self, limit: int, next_token: str | None = None) -> Page: ...

    @abstractmethod
    def replace(self, expected: ServerRecord, new: ServerRecord, audit: AuditEntry | None) -> None: ...

    @abstractmethod
    def remove(self, expected: ServerRecord, audit: AuditEntry) -> None: ...

    @abstractmethod
    def audit_trail(self, server_id: str) -> list[AuditEntry]: ...
