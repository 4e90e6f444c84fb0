"""A server's replica set on one machine: started together, swapped in once every replica answers MCP, each kept
alive by its `Keeper`, stopped together, given up on together when one of them crash-loops.

`ReplicaSets` holds what every set shares (the exit watcher, the record of the platform's own MCP traffic, the
crash-loop policy, log settings, the process tag of this data directory); the supervisor decides when a set starts,
is replaced or stops.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aws_lambda_powertools import Logger

from hosted_mcp.endpoints import upstream_path
from hosted_mcp.models.domain import ServerSpec
from hosted_mcp.models.fields import ServerType
from hosted_mcp_local import launch
from hosted_mcp_local.keeper import READY_POLL_SECONDS, CrashLoopPolicy, Keeper
from hosted_mcp_local.processes import LOOPBACK, STOP_GRACE_SECONDS, ExitWatcher, end_many, free_port
from hosted_mcp_local.replica import Replica, wait_ready
from hosted_mcp_local.replica_output import ProbeTraffic, ReplicaLog, redact
from hosted_mcp_local.settings import SupervisionSettings

logger = Logger(service="hosted-mcp-supervisor", child=True)


@dataclass
class LocalDeployment:
    server_id: str
    name: str
    home: Path
    spec: ServerSpec | None = None
    replicas: list[Replica] = field(default_factory=list)
    action_token: str | None = None
    busy: int = 0  # actions (deploy, apply, teardown, restore) under way or waiting for their turn
    restoring: bool = False
    lost: str | None = None  # why its replicas are gone, when they were given up on
    lock: threading.RLock = field(default_factory=threading.RLock)  # short: the fields above
    acting: threading.Lock = field(default_factory=threading.Lock)  # held through an action: one at a time

    @property
    def workdir(self) -> Path:
        return self.home / "work"

    @property
    def logs(self) -> Path:
        return self.home / "logs"


class ReplicaSets:
    def __init__(
        self,
        *,
        tag: str,
        interpreter_dir: str,
        settings: SupervisionSettings,
        startup_timeout: float,
        closing: threading.Event,
        on_restart: Callable[[str, str], None],
        on_lost: Callable[[str, str], None],
        shared_secret: Callable[[str], str] | None = None,
    ) -> None:
        self.tag = tag
        self.shared_secret = shared_secret
        self.interpreter_dir = interpreter_dir
        self.settings = settings
        self.startup_timeout = startup_timeout
        self.closing = closing
        self.on_restart = on_restart
        self.on_lost = on_lost
        self.policy = CrashLoopPolicy(settings.crash_loop_restarts, settings.crash_loop_window)
        self.noise = ProbeTraffic()  # the platform's own MCP calls, kept out of servers' logs
        self.watcher = ExitWatcher()
        self._fifos: bool | None = None

    def start(self, deployment: LocalDeployment, spec: ServerSpec) -> str | None:
        """Start a full replica set for `spec`; swap it in once every replica answers MCP (each gets up to
        max(startup timeout, startPeriod)), else stop it and keep the old one. None, or why it did not start."""
        count = spec.autoScalingConfig.minCapacity
        generation = time.monotonic_ns()
        fresh = [self._new_replica(deployment, spec, i, generation) for i in range(count)]
        deadline = time.monotonic() + max(self.startup_timeout, float(spec.containerHealthCheckConfig.startPeriod))
        try:
            for replica in fresh:
                replica.launch()
            for replica in fresh:
                problem = wait_ready(replica, deadline, self.closing, READY_POLL_SECONDS)
                if problem:
                    self.stop(fresh)
                    return f"replica {replica.index}: {problem}"
        except OSError as error:
            self.stop(fresh)
            return f"cannot start the server: {error}"
        self.replace(deployment, fresh, spec)
        if self.closing.is_set():  # stopped by replace, or taken by the closing platform with the rest
            return "the platform is stopping"
        for replica in fresh:
            self._keep(deployment, replica)
        logger.info("replicas running", server_id=deployment.server_id, replicas=count)
        return None

    def replace(self, deployment: LocalDeployment, fresh: list[Replica], spec: ServerSpec | None) -> int:
        """Swap `fresh` in and stop the replicas it replaces; how many were stopped. Once the platform is closing
        nothing is swapped in: `fresh` is stopped instead, so that no replica that finished starting while the
        platform stopped outlives it."""
        with deployment.lock:
            if self.closing.is_set():
                old = fresh
            else:
                old, deployment.replicas = deployment.replicas, fresh
                deployment.spec = spec
                deployment.lost = None
        self.stop(old)
        return len(old)

    def stop(self, replicas: list[Replica]) -> None:
        """End replicas together: their keepers, their processes (one shared grace period), their output."""
        for replica in replicas:
            replica.halt()
        end_many([(r.process, r.tag) for r in replicas if r.process is not None])
        for replica in replicas:
            replica.finish(STOP_GRACE_SECONDS)
            replica.log.close()

    def lose(self, deployment: LocalDeployment, reason: str) -> None:
        """Stop what is left of the set and report the deployment lost (its InService record goes Failed)."""
        with deployment.lock:
            gone, deployment.replicas = deployment.replicas, []
            deployment.lost = reason
        self.stop(gone)
        logger.error("deployment lost", server_id=deployment.server_id, reason=reason)
        if not self.closing.is_set():
            self.on_lost(deployment.server_id, reason)

    def close(self) -> None:
        self.watcher.close()

    def launch_spec(self, deployment: LocalDeployment, spec: ServerSpec, replica: Replica) -> launch.Launch:
        wrapped = spec.serverType is ServerType.STDIO and self._fifos_work(deployment.logs)
        fifo = deployment.logs / f"replica-{replica.index}.stderr" if wrapped else None
        env = launch.environment(
            spec,
            server=deployment.name,
            replica=replica.index,
            port=replica.port,
            tag=replica.tag,
            interpreter_dir=self.interpreter_dir,
            secret=self.shared_secret(deployment.server_id) if self.shared_secret is not None else None,
        )
        command = launch.command(spec, replica.port, stderr_fifo=fifo)
        return launch.Launch(command=command, cwd=deployment.workdir, env=env, fifo=fifo)

    def _fifos_work(self, directory: Path) -> bool:
        """Whether FIFOs can be made where servers' logs are (not on every file system): without them a wrapped
        server's stderr stays mixed with the bridge's output, and failure reasons quote both."""
        if self._fifos is None:
            probe = directory / ".fifo-check"
            try:
                probe.unlink(missing_ok=True)
                os.mkfifo(probe, 0o600)
                probe.unlink()
                self._fifos = True
            except OSError as error:
                logger.warning("no FIFOs in the data directory", error=str(error))
                self._fifos = False
        return self._fifos

    def _new_replica(self, deployment: LocalDeployment, spec: ServerSpec, index: int, generation: int) -> Replica:
        deployment.logs.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log = ReplicaLog(
            deployment.logs / f"replica-{index}.log",
            max_bytes=self.settings.log_max_bytes,
            backups=self.settings.log_backups,
            secrets=spec.environment.values(),
        )
        replica = Replica(
            index=index,
            port=port,
            tag=f"{self.tag}:{deployment.server_id}:{index}:{generation}",
            log=log,
            spec=spec,
            url=f"http://{LOOPBACK}:{port}{upstream_path(spec)}",
            watcher=self.watcher,
            noise=self.noise,
            launch_spec=lambda: self.launch_spec(deployment, spec, replica),
        )
        return replica

    def _keep(self, deployment: LocalDeployment, replica: Replica) -> None:
        secrets = tuple(replica.spec.environment.values())  # a reason may quote the server, or its answers

        def restarted(reason: str) -> None:
            reason = redact(reason, secrets)
            logger.warning("replica restarted", server_id=deployment.server_id, replica=replica.index, reason=reason)
            self.on_restart(deployment.server_id, reason)

        def give_up(reason: str) -> None:
            with deployment.lock:
                if replica not in deployment.replicas:
                    return  # replaced or stopped meanwhile: not this set's to give up
            self.lose(deployment, redact(reason, secrets))

        health = replica.spec.containerHealthCheckConfig
        replica.keeper = Keeper(replica, health, policy=self.policy, on_restart=restarted, on_give_up=give_up)
        replica.keeper.start()
