"""The one-machine platform: the shared logic wired to local adapters.

| AWS                                   | here                                             |
|---------------------------------------|--------------------------------------------------|
| DynamoDB table + stream               | SqliteServerStore + its change feed              |
| stream -> Lambda reactions            | ChangeFeedPump -> the same reaction functions    |
| CloudFormation stacks + EventBridge   | ProcessSupervisor reporting Settlements          |
| EventBridge bus                       | LocalStatusEvents                                |
| scheduled reconciler                  | a timer thread calling the same `reconcile`      |
| API Gateway + authorizer              | the gateway in `app.py` + the shared Authenticator |
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from aws_lambda_powertools import Logger

from hosted_mcp.adapters.mcp_probe import McpReadinessProbe
from hosted_mcp.api.app import build_resolver
from hosted_mcp.api.services import ApiServices
from hosted_mcp.auth import Authenticator
from hosted_mcp.errors import ConcurrentModification
from hosted_mcp.lifecycle import lifecycle
from hosted_mcp.logic import reactions
from hosted_mcp.logic.servers import utc_now
from hosted_mcp.logic.transitions import amend
from hosted_mcp.models.calls import CallRecord
from hosted_mcp.models.domain import StatusChange
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.models.settlement import Settlement
from hosted_mcp.ports import (
    CallAudit,
    CallPage,
    Connections,
    DeploymentBackend,
    ReadinessProbe,
    ServerStore,
    StatusEvents,
    TransitionMetrics,
)
from hosted_mcp_gateway.call_recorder import CallRecorder
from hosted_mcp_local.events import LocalStatusEvents
from hosted_mcp_local.identity import LocalIssuer, gateway_key, local_auth_settings, server_secret
from hosted_mcp_local.pump import ChangeFeedPump
from hosted_mcp_local.settings import SupervisionSettings
from hosted_mcp_local.store import SqliteApiKeyStore, SqliteCallAudit, SqliteServerStore
from hosted_mcp_local.supervisor import ProcessSupervisor

logger = Logger(service="hosted-mcp-local")
DB_FILE = "hosted-mcp.db"
LOCK_FILE = "platform.lock"


class DataDirInUse(RuntimeError):
    """Another platform process holds this data directory."""


@dataclass(frozen=True)
class PlatformConfig:
    data_dir: Path
    base_url: str
    reconcile_interval: float = 60.0
    startup_timeout: float = 60.0
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    supervision: SupervisionSettings = field(default_factory=SupervisionSettings.from_environ)
    audit_retention_days: float = 30.0


@dataclass(frozen=True)
class LocalReactionPorts:
    """`ReactionPorts` of one machine: built up front, no connections table, no CloudWatch metrics."""

    store: ServerStore
    backend: DeploymentBackend
    probe: ReadinessProbe
    events: StatusEvents
    base_url: str
    connections: Connections | None = None
    metrics: TransitionMetrics | None = None


class CallsReadAfterWrites(CallAudit):
    """The call audit trail as the management API reads it on one machine: what the gateway handed over is written
    before a read, so a call is in the trail as soon as its answer is complete."""

    def __init__(self, audit: CallAudit, recorder: CallRecorder) -> None:
        self.audit = audit
        self.recorder = recorder

    def record(self, calls: Sequence[CallRecord]) -> None:
        self.audit.record(calls)

    def calls(self, server_id: str, limit: int, next_token: str | None = None) -> CallPage:
        self.recorder.flush()
        return self.audit.calls(server_id, limit, next_token)


class Platform:
    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock: TextIO | None = None
        self._lock_data_dir()
        self.store = SqliteServerStore(config.data_dir / DB_FILE)
        self.api_keys = SqliteApiKeyStore(self.store)
        self.issuer = LocalIssuer(config.data_dir)
        self.gateway_key = gateway_key(config.data_dir)
        self.authenticator = Authenticator(local_auth_settings(), self.issuer.jwks(), self.api_keys)
        self.events = LocalStatusEvents()
        self.supervisor = ProcessSupervisor(
            config.data_dir,
            on_settled=self.settle,
            on_restart=self.count_restart,
            startup_timeout=config.startup_timeout,
            shared_secret=lambda server_id: server_secret(self.gateway_key, server_id),
            settings=config.supervision,
        )
        self.probe = McpReadinessProbe(
            self.supervisor.endpoints, timeout=5.0, attempts=3, retry_delay=0.5, observer=self.supervisor.noise
        )
        self.ports = LocalReactionPorts(
            store=self.store, backend=self.supervisor, probe=self.probe, events=self.events, base_url=config.base_url
        )
        self.pump = ChangeFeedPump(self.store, self.react)
        retention = timedelta(days=config.audit_retention_days)
        self.call_audit = SqliteCallAudit(config.data_dir / DB_FILE, retention=retention)
        self.call_recorder = CallRecorder(self.call_audit, prune=self.call_audit.prune)
        self.services = ApiServices(
            store=self.store,
            base_url=config.base_url,
            api_keys=self.api_keys,
            calls=CallsReadAfterWrites(self.call_audit, self.call_recorder),
        )
        self.resolver = build_resolver(lambda: self.services)
        self._stopping = threading.Event()
        self._reconciler: threading.Thread | None = None

    @staticmethod
    def now() -> datetime:
        return utc_now()

    # -- lifecycle of the platform itself -------------------------------------------------------------------

    def start(self) -> None:
        reaped = self.supervisor.reap_orphans()
        if reaped:
            logger.warning("ended processes left by an earlier run", process_groups=reaped)
        self.pump.drain()
        self.resume()
        self.pump.start()
        self._reconciler = threading.Thread(target=self._reconcile_loop, name="reconciler", daemon=True)
        self._reconciler.start()
        logger.info("platform started", base_url=self.config.base_url, data_dir=str(self.config.data_dir))

    def stop(self) -> None:
        self._stopping.set()
        self.pump.stop()
        if self._reconciler is not None:
            self._reconciler.join(timeout=5)
        self.supervisor.close()
        self.call_recorder.close()
        self.call_audit.close()
        self.store.close()
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None
        logger.info("platform stopped")

    def _lock_data_dir(self) -> None:
        """One platform per data directory: a second one would end the first one's servers as orphans."""
        import fcntl

        handle = (self.config.data_dir / LOCK_FILE).open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.close()
            raise DataDirInUse(f"another hosted-mcp serve is using {self.config.data_dir}") from error
        self._lock = handle

    def resume(self) -> list[threading.Thread]:
        """Processes do not outlive the platform: bring back running servers and re-drive transitional records.

        Every change already in the feed was delivered (`drain` ran first), but the processes those reactions
        started died with the previous run, so each record's current status is acted on again. The supervisor
        deduplicates by request token, and settlement is conditional, so this is safe to repeat.

        Servers restore in the background and in parallel: the platform opens its doors at once, a server's
        requests get 503 until its replicas answer, and one that does not start again is settled `Failed` with
        the reason. The restoring threads are returned (tests join them).
        """
        restoring = []
        for record in self.store.all_records():
            if record.status is ServerStatus.IN_SERVICE and record.enabled:
                logger.info("restoring server", server_id=record.id, server_name=record.normalizedName)
                restoring.append(self.supervisor.restore(record))
            elif lifecycle().is_transitional(record.status):
                logger.info("resuming server", server_id=record.id, status=record.status)
                self.react(StatusChange(old=None, new=record), publish=False)
        return restoring

    # -- reactions -------------------------------------------------------------------------------------------

    def react(self, change: StatusChange, *, publish: bool = True) -> None:
        """What the stream-triggered Lambdas do on AWS, for one change of the feed: the same `react`."""
        hosts = reactions.EVERY_REACTION if publish else reactions.EVERY_REACTION - {"publish"}
        reactions.react(self.ports, change, now=self.now(), hosts=hosts)

    def settle(self, settlement: Settlement) -> None:
        reactions.settle(self.ports, settlement, now=self.now())

    def count_restart(self, server_id: str, reason: str) -> None:
        """Make a supervisor restart visible on the record (`restarts`, `lastError`: the reason), retrying if the
        record moves meanwhile; the change feed announces it as a restart event."""
        for _attempt in range(5):
            record = self.store.get(server_id)
            if record is None or record.status is not ServerStatus.IN_SERVICE:
                return
            try:
                amend(self.store, record, now=self.now(), restarts=record.restarts + 1, lastError=reason)
                logger.info("restart recorded", server_id=server_id, restarts=record.restarts + 1)
                return
            except ConcurrentModification:
                continue

    def _reconcile_loop(self) -> None:
        while not self._stopping.wait(self.config.reconcile_interval):
            try:
                repaired = reactions.sweep(self.ports, now=self.now())
                if repaired:
                    logger.info("reconciled", repaired=[r.id for r in repaired])
            except Exception:  # the next sweep retries; the failure is logged with its trace
                logger.exception("reconcile sweep failed")
