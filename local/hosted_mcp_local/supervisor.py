"""The supervisor: the one-machine DeploymentBackend. Each server runs as local processes, one port per replica.

- stdio servers run behind the real `mcp-proxy` (`--port P --host 127.0.0.1 --pass-environment -- <command>`);
  HTTP/SSE servers run their start command with `PORT=<port>`. Commands are split with `shlex`, never handed
  to a shell. The environment is a small base (PATH with the platform's interpreter first, HOME, locale) plus
  the record's `environment`.
- Each replica is a process group of its own, and every process it starts carries a tag in its environment
  (`HOSTED_MCP_PROCESS`). Stopping a replica ends its group and every tagged process (mcp-proxy starts the
  stdio server in a session of its own, so the group alone would miss it); a restarted platform ends the tagged
  processes an earlier, killed platform left behind.
- Actions (deploy, apply, teardown) run on a worker thread and end in a `Settlement` reported to `on_settled`
  (which settles the record); readiness is a real MCP initialize + tools/list.
- A keeper thread per replica checks liveness with a real MCP call every `containerHealthCheckConfig.interval`
  and restarts a dead replica with backoff, reporting each restart to `on_restart`.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from aws_lambda_powertools import Logger

from hosted_mcp.adapters.mcp_probe import McpProbeError, check_server
from hosted_mcp.endpoints import upstream_path
from hosted_mcp.logic.reactions import DeploymentRejected
from hosted_mcp.models.domain import ServerRecord, ServerSpec
from hosted_mcp.models.fields import ServerStatus, ServerType
from hosted_mcp.models.settlement import Deployment, Settlement
from hosted_mcp.ports import ApplyResult, DeploymentBackend
from hosted_mcp_local.processes import (
    LOOPBACK,
    PROCESS_TAG,
    STOP_GRACE_SECONDS,
    end,
    end_many,
    free_port,
    reap_tagged,
    spawn,
    wait_for_exit,
)

logger = Logger(service="hosted-mcp-supervisor")
T = TypeVar("T")

BASE_ENV_NAMES = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "SYSTEMROOT")
MAX_BACKOFF_SECONDS = 30.0
READY_POLL_SECONDS = 0.25


def deployment_id(server_id: str) -> str:
    return f"local-{server_id}"


def container_runtime_problem() -> str:
    """Why `image` cannot run here; a docker client whose daemon does not answer counts as no runtime."""
    for client in ("docker", "podman"):
        path = shutil.which(client)
        if path is None:
            continue
        try:
            done = subprocess.run([path, "info"], capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return f"running container images is not supported by the local platform (found {client})"
    return "image requires a container runtime, and none is usable on this machine (no docker or podman daemon)"


@dataclass
class Replica:
    index: int
    port: int
    log_path: Path
    tag: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)  # the process exited, or stop
    keeper: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@dataclass
class LocalDeployment:
    server_id: str
    name: str
    home: Path
    spec: ServerSpec | None = None
    replicas: list[Replica] = field(default_factory=list)
    action_token: str | None = None
    busy: int = 0  # actions (deploy, apply, teardown, restore) under way
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def workdir(self) -> Path:
        return self.home / "work"


class ProcessSupervisor(DeploymentBackend):
    def __init__(
        self,
        data_dir: Path,
        *,
        proxy_bin: str,
        on_settled: Callable[[Settlement], None],
        on_restart: Callable[[str, str], None] = lambda server_id, reason: None,
        startup_timeout: float = 60.0,
        interpreter_dir: str | None = None,
    ) -> None:
        self.servers_dir = data_dir / "servers"
        self.artifacts_dir = data_dir / "artifacts"
        self.servers_dir.mkdir(parents=True, exist_ok=True)
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        self.proxy_bin = proxy_bin
        self.on_settled = on_settled
        self.on_restart = on_restart
        self.startup_timeout = startup_timeout
        self.interpreter_dir = interpreter_dir or str(Path(sys.executable).parent)
        self._deployments: dict[str, LocalDeployment] = {}
        self._settled: dict[str, Settlement] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._workers: list[threading.Thread] = []
        # Tags processes as this data directory's, so two platforms on one machine never end each other's.
        self.tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]

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
        """An InService record with no replica and no action under way has lost its processes. A Stopped record
        runs nothing by design; its files stay until it is deleted."""
        if record.status is not ServerStatus.IN_SERVICE:
            return None
        deployment = self._deployments.get(record.id)
        if deployment is None:
            return "no process runs for it: this platform never started it"
        with deployment.lock:
            if deployment.busy or deployment.replicas:
                return None
        return "none of its replicas is running"

    # -- what the gateway and the probe need ----------------------------------------------------------------

    def replica_urls(self, server_id: str) -> list[str]:
        """Base URLs of the running replicas of a server, in replica order."""
        deployment = self._deployments.get(server_id)
        if deployment is None:
            return []
        return [r.base_url for r in deployment.replicas]

    def endpoints(self, record: ServerRecord) -> list[str]:
        """The MCP endpoint of every running replica (what readiness probes)."""
        path = upstream_path(record.spec)
        return [url + path for url in self.replica_urls(record.id)]

    def processes(self, server_id: str) -> list[int]:
        deployment = self._deployments.get(server_id)
        if deployment is None:
            return []
        return [r.process.pid for r in deployment.replicas if r.process is not None and r.process.poll() is None]

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
        """Bring back the processes of a server that was running when the platform stopped (join to await it)."""
        deployment = self._deployment(record)
        return self._spawn(lambda: self._busy(deployment, lambda: self._start_set(deployment, record.spec)))

    def reap_orphans(self) -> int:
        """End processes an earlier platform on this data directory left running (it was killed, not stopped)."""
        return reap_tagged(f"{self.tag}:")

    def close(self) -> None:
        """Stop every replica of every server (the platform is shutting down)."""
        self._closing.set()
        everything = [r for d in list(self._deployments.values()) for r in d.replicas]
        self._stop_replicas(everything)
        for deployment in list(self._deployments.values()):
            deployment.replicas = []
        for worker in list(self._workers):
            worker.join(timeout=STOP_GRACE_SECONDS)

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
        with deployment.lock:
            deployment.busy += 1
        try:
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
        return Settlement.model_validate(
            {
                "serverId": record.id,
                "deploymentId": deployment_id(record.id),
                "outcome": outcome,
                "reason": reason,
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
            return self._settlement(record, "deployed", "deployed stopped")
        problem = self._start_set(deployment, record.desired_spec)
        if problem:
            return self._settlement(record, "failed", problem)
        count = len(deployment.replicas)
        return self._settlement(record, "deployed", f"{count} replica(s) answer MCP")

    def _do_apply(self, deployment: LocalDeployment, record: ServerRecord) -> Settlement:
        if not record.desired_enabled:
            with deployment.lock:
                stopped = len(deployment.replicas)
                self._stop_replicas(deployment.replicas)
                deployment.replicas = []
                deployment.spec = record.desired_spec
            return self._settlement(record, "deployed", f"stopped {stopped} replica(s)")
        deployment.workdir.mkdir(parents=True, exist_ok=True)
        problem = self._start_set(deployment, record.desired_spec)
        if problem:
            if record.enabled and not deployment.replicas:
                # The old configuration was running before a platform restart: a rollback must leave it running.
                self._start_set(deployment, record.spec)
            return self._settlement(record, "rolledBack", problem)
        return self._settlement(record, "deployed", f"{len(deployment.replicas)} replica(s) answer MCP")

    def _do_teardown(self, deployment: LocalDeployment, record: ServerRecord) -> Settlement:
        with deployment.lock:
            self._stop_replicas(deployment.replicas)
            deployment.replicas = []
        shutil.rmtree(deployment.home, ignore_errors=True)
        with self._lock:
            self._deployments.pop(record.id, None)
        return self._settlement(record, "deployed", "processes stopped and working directory removed")

    def _start_set(self, deployment: LocalDeployment, spec: ServerSpec) -> str | None:
        """Start a full replica set for `spec`; swap it in once every replica answers MCP, else keep the old one."""
        count = spec.autoScalingConfig.minCapacity
        generation = time.monotonic_ns()
        fresh = [self._new_replica(deployment, i, generation) for i in range(count)]
        try:
            for replica in fresh:
                self._launch(deployment, replica, spec)
            for replica in fresh:
                problem = self._wait_ready(replica, spec)
                if problem:
                    self._stop_replicas(fresh)
                    return f"replica {replica.index}: {problem}"
        except OSError as error:
            self._stop_replicas(fresh)
            return f"cannot start the server: {error}"
        with deployment.lock:
            old = deployment.replicas
            deployment.replicas = fresh
            deployment.spec = spec
        self._stop_replicas(old)
        for replica in fresh:
            self._keep(deployment, replica, spec)
        logger.info("replicas running", server_id=deployment.server_id, replicas=count)
        return None

    def _new_replica(self, deployment: LocalDeployment, index: int, generation: int) -> Replica:
        logs = deployment.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return Replica(
            index=index,
            port=free_port(),
            log_path=logs / f"replica-{index}.log",
            tag=f"{self.tag}:{deployment.server_id}:{index}:{generation}",
        )

    def command(self, spec: ServerSpec, port: int) -> list[str]:
        args = shlex.split(spec.startCommand)
        if spec.serverType is ServerType.STDIO:
            return [self.proxy_bin, "--port", str(port), "--host", LOOPBACK, "--pass-environment", "--", *args]
        return args

    def environment(self, deployment: LocalDeployment, spec: ServerSpec, replica: Replica) -> dict[str, str]:
        env = {name: os.environ[name] for name in BASE_ENV_NAMES if name in os.environ}
        env["PATH"] = os.pathsep.join(p for p in (self.interpreter_dir, os.environ.get("PATH", os.defpath)) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(spec.environment)
        env["HOSTED_MCP_SERVER"] = deployment.name
        env["HOSTED_MCP_REPLICA"] = str(replica.index)
        env[PROCESS_TAG] = replica.tag
        if spec.serverType is not ServerType.STDIO:
            env["PORT"] = str(replica.port)
        return env

    def _launch(self, deployment: LocalDeployment, replica: Replica, spec: ServerSpec) -> None:
        with replica.log_path.open("ab") as log:
            replica.process = spawn(
                self.command(spec, replica.port),
                cwd=deployment.workdir,
                env=self.environment(deployment, spec, replica),
                output=log,
            )
        process = replica.process
        threading.Thread(target=self._watch_exit, args=(replica, process), name="supervisor-exit", daemon=True).start()
        logger.info(
            "replica started",
            server_id=deployment.server_id,
            replica=replica.index,
            port=replica.port,
            pid=replica.process.pid,
        )

    def _wait_ready(self, replica: Replica, spec: ServerSpec) -> str | None:
        deadline = time.monotonic() + max(self.startup_timeout, float(spec.containerHealthCheckConfig.startPeriod))
        url = replica.base_url + upstream_path(spec)
        problem = "did not answer MCP"
        while time.monotonic() < deadline and not self._closing.is_set():
            assert replica.process is not None
            code = replica.process.poll()
            if code is not None:
                return f"exited with code {code} before answering MCP (see `hosted-mcp logs`)"
            try:
                check_server(url, spec.serverType, timeout=float(spec.containerHealthCheckConfig.timeout))
                return None
            except McpProbeError as error:
                problem = str(error)
            if replica.stop.wait(READY_POLL_SECONDS):
                return "stopped before it was ready"
        return f"not ready within {int(self.startup_timeout)}s: {problem}"

    def _stop_replicas(self, replicas: list[Replica]) -> None:
        for replica in replicas:
            replica.stop.set()
            replica.wake.set()
        end_many([(r.process, r.tag) for r in replicas if r.process is not None])
        for replica in replicas:
            if replica.keeper is not None and replica.keeper is not threading.current_thread():
                replica.keeper.join(timeout=STOP_GRACE_SECONDS)

    # -- liveness ------------------------------------------------------------------------------------------------

    def _keep(self, deployment: LocalDeployment, replica: Replica, spec: ServerSpec) -> None:
        replica.keeper = threading.Thread(
            target=self._keeper, args=(deployment, replica, spec), name="supervisor-keeper", daemon=True
        )
        replica.keeper.start()

    def _keeper(self, deployment: LocalDeployment, replica: Replica, spec: ServerSpec) -> None:
        health = spec.containerHealthCheckConfig
        failures = 0
        consecutive_restarts = 0
        url = replica.base_url + upstream_path(spec)
        while True:
            # Woken at once when the process exits; otherwise the real MCP call runs every interval.
            replica.wake.wait(health.interval)
            if replica.stop.is_set():
                return
            replica.wake.clear()
            problem = self._liveness_problem(replica, url, spec)
            if problem is None:
                failures, consecutive_restarts = 0, 0
                continue
            failures += 1
            logger.warning(
                "replica unhealthy", server_id=deployment.server_id, replica=replica.index, failures=failures
            )
            exited = replica.process is not None and replica.process.poll() is not None
            if failures < health.retries and not exited:
                continue
            delay = min(MAX_BACKOFF_SECONDS, 2.0**consecutive_restarts - 1)
            if delay and replica.stop.wait(delay):
                return
            consecutive_restarts += 1
            failures = 0
            if not self._restart(deployment, replica, spec, problem):
                return

    @staticmethod
    def _watch_exit(replica: Replica, process: subprocess.Popen[bytes]) -> None:
        """Wake the keeper when this process exits by itself (not when it was replaced or stopped).

        `waitid(WNOWAIT)` waits without reaping and without Popen's lock, so `poll()` elsewhere keeps working."""
        wait_for_exit(process)
        if replica.process is process and not replica.stop.is_set():
            replica.wake.set()

    def _liveness_problem(self, replica: Replica, url: str, spec: ServerSpec) -> str | None:
        assert replica.process is not None
        code = replica.process.poll()
        if code is not None:
            return f"replica {replica.index} exited with code {code}"
        try:
            check_server(url, spec.serverType, timeout=float(spec.containerHealthCheckConfig.timeout))
        except McpProbeError as error:
            return f"replica {replica.index} does not answer MCP: {error}"
        return None

    def _restart(self, deployment: LocalDeployment, replica: Replica, spec: ServerSpec, reason: str) -> bool:
        with deployment.lock:
            if replica.stop.is_set() or replica not in deployment.replicas:
                return False
            if replica.process is not None:
                end(replica.process, replica.tag)
            replica.restarts += 1
            try:
                self._launch(deployment, replica, spec)
            except OSError as error:
                logger.error("replica restart failed", server_id=deployment.server_id, error=str(error))
                return True
        logger.warning("replica restarted", server_id=deployment.server_id, replica=replica.index, reason=reason)
        self.on_restart(deployment.server_id, reason)
        return True
