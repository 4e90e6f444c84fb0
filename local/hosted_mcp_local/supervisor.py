"""The supervisor: the one-machine DeploymentBackend. Each server runs as local processes, one port per replica.

- stdio servers run behind the platform's bridge (`hosted_mcp_bridge`), HTTP/SSE servers on their own with `PORT`
  (`launch.py`).
- Actions (deploy, apply, teardown) run on a worker thread and end in a `Settlement` reported to `on_settled`
  (which settles the record); readiness is a real MCP initialize + tools/list, for up to
  max(startup timeout, `startPeriod`).
- A `Keeper` per replica keeps it alive (see `keeper.py`: liveness, the start period, backoff, crash loops) and
  reports each restart to `on_restart`. A replica that crash-loops, and a server that does not start again after a
  platform restart, are reported as a `lost` settlement: the record goes `Failed` with the reason.
- Replica sets (started together, swapped in, kept alive, given up on) are in `replica_sets.py`; a replica's
  process and watches in `replica.py`; process mechanics in `processes.py`; output capture and log rotation in
  `replica_output.py`; command lines and environments in `launch.py`.
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from aws_lambda_powertools import Logger

from hosted_mcp.endpoints import upstream_path
from hosted_mcp.errors import DeploymentRejected
from hosted_mcp.models.domain import ServerRecord, ServerSpec
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.models.settlement import Deployment, Settlement
from hosted_mcp.ports import ApplyResult, DeploymentBackend
from hosted_mcp_local import launch
from hosted_mcp_local.launch import container_runtime_problem
from hosted_mcp_local.processes import STOP_GRACE_SECONDS, data_dir_tag, reap_tagged
from hosted_mcp_local.replica_output import redact
from hosted_mcp_local.replica_sets import LocalDeployment, ReplicaSets
from hosted_mcp_local.settings import SupervisionSettings

logger = Logger(service="hosted-mcp-supervisor")
T = TypeVar("T")


def deployment_id(server_id: str) -> str:
    return f"local-{server_id}"


class ProcessSupervisor(DeploymentBackend):
    def __init__(
        self,
        data_dir: Path,
        *,
        on_settled: Callable[[Settlement], None],
        on_restart: Callable[[str, str], None] = lambda server_id, reason: None,
        startup_timeout: float = 60.0,
        interpreter_dir: str | None = None,
        settings: SupervisionSettings | None = None,
        shared_secret: Callable[[str], str] | None = None,
    ) -> None:
        self.servers_dir = data_dir / "servers"
        self.artifacts_dir = data_dir / "artifacts"
        self.servers_dir.mkdir(parents=True, exist_ok=True)
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        self.on_settled = on_settled
        self._deployments: dict[str, LocalDeployment] = {}
        self._settled: dict[str, Settlement] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._workers: list[threading.Thread] = []
        # Tags processes as this data directory's, so two platforms on one machine never end each other's.
        self.tag = data_dir_tag(data_dir)
        self.sets = ReplicaSets(
            tag=self.tag,
            interpreter_dir=interpreter_dir or str(Path(sys.executable).parent),
            settings=settings or SupervisionSettings(),
            startup_timeout=startup_timeout,
            closing=self._closing,
            on_restart=on_restart,
            on_lost=self._report_lost,
            shared_secret=shared_secret,
        )
        self.noise = self.sets.noise

    # -- DeploymentBackend --------------------------------------------------------------------------------------

    def deploy(self, record: ServerRecord) -> Deployment:
        spec = record.desired_spec
        if spec.image:
            raise DeploymentRejected(container_runtime_problem())
        source = self.artifact_source(spec) if spec.s3Path else None
        deployment = self._deployment(record)
        self._begin(deployment, record, lambda: self._do_deploy(deployment, record, source))
        return Deployment(deploymentId=deployment_id(record.id), stackName=f"local-{record.normalizedName}")

    def apply(self, record: ServerRecord) -> ApplyResult:
        if record.desired_spec.image:
            raise DeploymentRejected(container_runtime_problem())
        deployment = self._deployment(record)
        self._begin(deployment, record, lambda: self._do_apply(deployment, record))
        return ApplyResult.STARTED

    def teardown(self, record: ServerRecord) -> ApplyResult:
        deployment = self._deployment(record)
        self._begin(deployment, record, lambda: self._do_teardown(deployment, record))
        return ApplyResult.STARTED

    def describe(self, record: ServerRecord) -> Settlement | None:
        return self._settled.get(record.requestToken or "")

    def loss(self, record: ServerRecord) -> str | None:
        """An InService record with no replica and nothing under way (no action, no restore) has lost its
        processes. A Stopped record runs nothing by design."""
        if record.status is not ServerStatus.IN_SERVICE:
            return None
        deployment = self._deployments.get(record.id)
        if deployment is None:
            return "no process runs for it: this platform never started it"
        with deployment.lock:
            if deployment.busy or deployment.replicas:
                return None
            return deployment.lost or "none of its replicas is running"

    # -- what the gateway and the probe need ----------------------------------------------------------------

    def replica_urls(self, server_id: str) -> list[str]:
        """Base URLs of the running replicas of a server, in replica order."""
        deployment = self._deployments.get(server_id)
        return [r.base_url for r in deployment.replicas] if deployment is not None else []

    def endpoints(self, record: ServerRecord) -> list[str]:
        """The MCP endpoint of every running replica (what readiness probes)."""
        path = upstream_path(record.spec)
        return [url + path for url in self.replica_urls(record.id)]

    def unavailable(self, server_id: str) -> str:
        """Why a server the gateway would forward to has no replica to take the request (what a 503 says)."""
        deployment = self._deployments.get(server_id)
        if deployment is None:
            return "no replica runs on this platform"
        if deployment.restoring:
            return "its replicas are starting again after a platform restart"
        if deployment.busy:
            return "its replicas are starting"
        return f"no replica runs ({deployment.lost})" if deployment.lost else "no replica runs"

    def processes(self, server_id: str) -> list[int]:
        deployment = self._deployments.get(server_id)
        return [r.process.pid for r in deployment.replicas if r.running() and r.process] if deployment else []

    def log_paths(self, server_id: str) -> list[Path]:
        logs = self.servers_dir / server_id / "logs"
        return sorted(logs.glob("*.log")) if logs.is_dir() else []

    def artifact_source(self, spec: ServerSpec) -> Path:
        """`s3Path` resolved under the artifact directory; anything that would escape it is rejected."""
        assert spec.s3Path is not None
        relative = spec.s3Path.removeprefix("s3://").strip("/")
        root = self.artifacts_dir.resolve()
        source = (root / relative).resolve()
        if not source.is_relative_to(root) or source == root:
            raise DeploymentRejected(f"s3Path {spec.s3Path} points outside the artifact directory")
        if not source.exists():
            raise DeploymentRejected(f"s3Path {spec.s3Path} not found in the artifact directory")
        return source

    # -- platform lifecycle ------------------------------------------------------------------------------------

    def restore(self, record: ServerRecord) -> threading.Thread:
        """Bring back, in the background, the processes of a server that was InService when the platform stopped.
        If they do not answer, the record is settled `Failed` with the reason (outcome `lost`)."""
        deployment = self._deployment(record)
        with deployment.lock:
            deployment.restoring = True

        def run() -> None:
            try:
                problem = self._busy(deployment, lambda: self.sets.start(deployment, record.spec))
            finally:
                with deployment.lock:
                    deployment.restoring = False
            if problem is not None and not self._closing.is_set():
                reason = f"does not start again after a platform restart: {problem}"
                self.sets.lose(deployment, redact(reason, record.spec.environment.values()))

        return self._spawn(run)

    def reap_orphans(self) -> int:
        """End processes an earlier platform on this data directory left running (it was killed, not stopped)."""
        return reap_tagged(f"{self.tag}:")

    def close(self) -> None:
        """Stop every replica of every server (the platform is shutting down)."""
        self._closing.set()
        everything = []
        for deployment in list(self._deployments.values()):
            with deployment.lock:  # a start finishing now swaps its replicas in before this, or sees closing
                everything += deployment.replicas
                deployment.replicas = []
        self.sets.stop(everything)
        for worker in list(self._workers):
            worker.join(timeout=STOP_GRACE_SECONDS)
        self.sets.close()

    # -- actions -------------------------------------------------------------------------------------------------

    def _deployment(self, record: ServerRecord) -> LocalDeployment:
        with self._lock:
            deployment = self._deployments.get(record.id)
            if deployment is None:
                deployment = LocalDeployment(
                    server_id=record.id, name=record.normalizedName, home=self.servers_dir / record.id
                )
                self._deployments[record.id] = deployment
            return deployment

    def _begin(self, deployment: LocalDeployment, record: ServerRecord, action: Callable[[], Settlement]) -> None:
        """Run `action` unless this very action (same request token) already runs or ran: calls are idempotent."""
        token = record.requestToken
        with deployment.lock:
            if token is not None and deployment.action_token == token:
                logger.info("action already under way", server_id=record.id, token=token)
                return
            deployment.action_token = token

        def run() -> None:
            try:
                settlement = self._busy(deployment, action)
            except Exception as error:  # the reason becomes the record's lastError; nothing is swallowed
                logger.exception("deployment action failed", server_id=record.id)
                settlement = self._settlement(record, "failed", f"{type(error).__name__}: {error}")
            if token is not None:
                self._settled[token] = settlement
            if not self._closing.is_set():
                self.on_settled(settlement)

        self._spawn(run)

    @staticmethod
    def _busy(deployment: LocalDeployment, action: Callable[[], T]) -> T:
        """Run an action of the deployment after the one under way, if any: a stop or a delete asked for while the
        server is being restored after a platform restart waits for the restore, then undoes it, instead of
        racing it (and leaving processes running for a Stopped or deleted server)."""
        with deployment.lock:
            deployment.busy += 1
        try:
            with deployment.acting:
                return action()
        finally:
            with deployment.lock:
                deployment.busy -= 1

    def _spawn(self, target: Callable[[], object]) -> threading.Thread:
        worker = threading.Thread(target=target, name="supervisor-action", daemon=True)
        self._workers = [*(w for w in self._workers if w.is_alive()), worker]
        worker.start()
        return worker

    @staticmethod
    def _settlement(record: ServerRecord, outcome: str, reason: str) -> Settlement:
        """An action's outcome; its reason (the record's next lastError) never shows an environment value."""
        secrets = [*record.spec.environment.values(), *record.desired_spec.environment.values()]
        return Settlement.model_validate(
            {
                "serverId": record.id,
                "deploymentId": deployment_id(record.id),
                "outcome": outcome,
                "reason": redact(reason, secrets),
                "token": record.requestToken,
            }
        )

    def _do_deploy(self, deployment: LocalDeployment, record: ServerRecord, source: Path | None) -> Settlement:
        deployment.workdir.mkdir(parents=True, exist_ok=True)
        if source is not None:
            if source.is_dir():
                shutil.copytree(source, deployment.workdir, dirs_exist_ok=True, symlinks=True)  # links stay links
            else:
                shutil.copy2(source, deployment.workdir / source.name)
        if not record.desired_enabled:
            self.sets.replace(deployment, [], record.desired_spec)
            return self._settlement(record, "deployed", "deployed stopped")
        problem = self.sets.start(deployment, record.desired_spec)
        if problem:
            return self._settlement(record, "failed", problem)
        return self._settlement(record, "deployed", f"{len(deployment.replicas)} replica(s) answer MCP")

    def _do_apply(self, deployment: LocalDeployment, record: ServerRecord) -> Settlement:
        if not record.desired_enabled:
            stopped = self.sets.replace(deployment, [], record.desired_spec)
            return self._settlement(record, "deployed", f"stopped {stopped} replica(s)")
        deployment.workdir.mkdir(parents=True, exist_ok=True)
        problem = self.sets.start(deployment, record.desired_spec)
        if problem:
            if record.enabled and not deployment.replicas:
                # The old configuration was running before a platform restart: a rollback must leave it running.
                self.sets.start(deployment, record.spec)
            return self._settlement(record, "rolledBack", problem)
        return self._settlement(record, "deployed", f"{len(deployment.replicas)} replica(s) answer MCP")

    def _do_teardown(self, deployment: LocalDeployment, record: ServerRecord) -> Settlement:
        self.sets.replace(deployment, [], None)
        shutil.rmtree(deployment.home, ignore_errors=True)
        with self._lock:
            self._deployments.pop(record.id, None)
        return self._settlement(record, "deployed", "processes stopped and working directory removed")

    def _report_lost(self, server_id: str, reason: str) -> None:
        self.on_settled(
            Settlement(
                serverId=server_id,
                deploymentId=deployment_id(server_id),
                outcome="lost",
                reason=reason,
                status=ServerStatus.IN_SERVICE,
            )
        )

    # -- what tests and the CLI ask about how servers are run ------------------------------------------------

    def command(self, spec: ServerSpec, port: int, stderr_fifo: Path | None = None) -> list[str]:
        return launch.command(spec, port, stderr_fifo=stderr_fifo)
