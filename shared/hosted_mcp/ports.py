"""Ports: the small abstract interfaces logic depends on. Adapters implement them for AWS, one machine and tests."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from hosted_mcp.models.calls import CallRecord
from hosted_mcp.models.domain import AuditEntry, ServerRecord, StatusChange
from hosted_mcp.models.events import ServerEvent
from hosted_mcp.models.settlement import Deployment, Settlement


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


@dataclass(frozen=True)
class CallPage:
    records: list[CallRecord]  # newest first
    next_token: str | None


class CallAudit(ABC):
    """The data-plane audit trail: every call through a gateway (`hosted_mcp.models.calls`), kept for a retention
    period. Gateways append in batches from a background writer; the management API reads a server's newest first."""

    @abstractmethod
    def record(self, calls: Sequence[CallRecord]) -> None: ...

    @abstractmethod
    def calls(self, server_id: str, limit: int, next_token: str | None = None) -> CallPage: ...


class ApplyResult(StrEnum):
    STARTED = "started"  # the deployment is changing; a settlement will follow
    NO_CHANGE = "noChange"  # nothing to change: the deployment already matches the record


class DeploymentBackend(ABC):
    """Where servers run: a CloudFormation stack per server on AWS, supervised processes on one machine.

    Every call is idempotent for the same record version (a deterministic deployment name plus a request token
    derived from the record), and outcomes arrive later as `Settlement`s (CloudFormation status events on
    EventBridge; the local supervisor), never by polling.
    """

    @abstractmethod
    def deploy(self, record: ServerRecord) -> Deployment: ...

    @abstractmethod
    def apply(self, record: ServerRecord) -> ApplyResult: ...

    @abstractmethod
    def teardown(self, record: ServerRecord) -> ApplyResult: ...

    @abstractmethod
    def describe(self, record: ServerRecord) -> Settlement | None:
        """The settled outcome of the record's current deployment action, or None while it is still in progress."""

    @abstractmethod
    def loss(self, record: ServerRecord) -> str | None:
        """For a record in a stable status (InService, Stopped): why its deployment no longer is what the status
        says (gone, broken beyond what the platform repairs by itself, or nothing running while InService), or None
        while it is, or while an action or a restart is under way. What the level-triggered sweep compares."""

    def tidy(self, record: ServerRecord) -> None:  # noqa: B027 - a no-op where nothing is ever left behind
        """Remove what a settled record no longer stands behind (e.g. a stack a redeploy replaced); the sweep calls
        it for every record at rest, so a removal that failed once is tried again."""

    def leftovers(self, record: ServerRecord) -> str | None:
        """For a server whose own deployment is gone: why it cannot be removed yet (e.g. a stack a redeploy replaced
        is still being deleted), or None. A server is never removed while something of it may still run."""
        return None


class ReadinessProbe(ABC):
    """Proves a deployed server answers MCP (initialize + tools/list through the real path)."""

    @abstractmethod
    def problem(self, record: ServerRecord) -> str | None:
        """None when the server answers MCP, otherwise the real reason it does not."""


class StatusEvents(ABC):
    """Where server events (status changes, restarts) go: an EventBridge bus on AWS, local subscribers on one
    machine."""

    @abstractmethod
    def publish(self, event: ServerEvent) -> None: ...


class Connections(ABC):
    """Connection records that chat clients read to find hosted servers."""

    @abstractmethod
    def publish(self, record: ServerRecord, url: str, active: bool) -> None: ...

    @abstractmethod
    def remove(self, server_id: str) -> None: ...


class TransitionMetrics(ABC):
    """Counts each status change (CloudWatch metrics on AWS)."""

    @abstractmethod
    def record(self, change: StatusChange) -> None: ...


class ReactionPorts(Protocol):
    """Everything the reactions act through, as each runtime's composition root provides it (the AWS one builds
    each port on first use, so a function pays only for what its reaction touches)."""

    @property
    def store(self) -> ServerStore: ...

    @property
    def backend(self) -> DeploymentBackend: ...

    @property
    def probe(self) -> ReadinessProbe | None: ...

    @property
    def events(self) -> StatusEvents: ...

    @property
    def connections(self) -> Connections | None: ...

    @property
    def metrics(self) -> TransitionMetrics | None: ...

    @property
    def base_url(self) -> str | None:
        """Where callers reach servers (published connections point there)."""
