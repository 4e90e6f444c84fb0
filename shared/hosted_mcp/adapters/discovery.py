"""Where a server's tasks are on AWS, and the readiness probe that calls each of them.

Every server's ECS service registers its tasks in the platform's Cloud Map private DNS namespace: the name
`<server id>.<namespace>` resolves, inside the VPC, to one A record per task that ECS finds healthy (the MCP health
sidecar's check), with a TTL of a few seconds. The data-plane router resolves it to pick a task; the settle and
reconcile functions (attached to the VPC) resolve it to prove each task answers MCP before a server goes InService.

Why the probe calls the tasks and not the router: the router serves only InService servers (the record decides
what clients may reach), and trusts identity headers only from API Gateway, which alone reaches the ALB. A probe
through the router would need a trusted probe identity and a way past the InService rule, so two exceptions in the
data plane's trust model; calling the tasks needs neither, and proves every task rather than one picked in turn.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hosted_mcp.adapters.mcp_probe import McpProbeError, check_server
from hosted_mcp.endpoints import upstream_path
from hosted_mcp.models.domain import ServerRecord
from hosted_mcp.models.fields import ServerType
from hosted_mcp.ports import ReadinessProbe

Resolve = Callable[[str], list[str]]
Check = Callable[..., int]
PARALLEL_CHECKS = 16  # tasks checked at once: a settle function (120 s) outlasts three attempts of a hung server


def discovery_name(server_id: str, namespace: str) -> str:
    """The DNS name a server's tasks are registered under (its Cloud Map service is named after the server id)."""
    return f"{server_id}.{namespace.strip('.')}"


def task_addresses(host: str) -> list[str]:
    """The IPv4 addresses `host` resolves to, sorted; none when it does not resolve (no task registered yet)."""
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return sorted({str(info[4][0]) for info in infos})


def task_url(address: str, record: ServerRecord) -> str:
    """Where one task of the server answers MCP: its address, the server's port, the transport's path."""
    return f"http://{address}:{record.spec.port}{upstream_path(record.spec)}"


class TasksProbe(ReadinessProbe):
    """Ready = the server has a registered task, and every registered task answers initialize + tools/list.

    The name is resolved again for every attempt: a task still starting appears, a task stopped by a deployment
    or a scale-in disappears, so only the tasks the router could pick are judged.
    """

    def __init__(
        self,
        namespace: str,
        *,
        resolve: Resolve = task_addresses,
        check: Check = check_server,
        timeout: float = 5.0,
        attempts: int = 3,
        retry_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._namespace = namespace
        self._resolve, self._check = resolve, check
        self._timeout, self._attempts, self._retry_delay, self._sleep = timeout, max(1, attempts), retry_delay, sleep

    def problem(self, record: ServerRecord) -> str | None:
        name = discovery_name(record.id, self._namespace)
        problem: str | None = None
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._retry_delay)
            addresses = self._resolve(name)
            if not addresses:
                problem = f"no task is registered as {name}"
                continue
            failures = self._failures(addresses, record)
            if not failures:
                return None
            address, why = failures[0]
            problem = f"{len(failures)} of {len(addresses)} tasks do not answer MCP ({address}: {why})"
        return problem

    def _failures(self, addresses: list[str], record: ServerRecord) -> list[tuple[str, str]]:
        server_type: ServerType = record.spec.serverType

        def failure(address: str) -> tuple[str, str] | None:
            try:
                self._check(task_url(address, record), server_type, timeout=self._timeout)
            except McpProbeError as error:
                return address, str(error)
            return None

        with ThreadPoolExecutor(max_workers=min(PARALLEL_CHECKS, len(addresses))) as pool:
            return [found for found in pool.map(failure, addresses) if found is not None]
