"""The AWS router's hop, measured like the local gateway's: tools/call through `hosted-mcp-router` against the
replica's own port.

One stdio server (the example greeter behind mcp-proxy, as `bench gateway` uses). The router runs in its own
process as its task runs it (`hosted_mcp_gateway.router.create_app` under uvicorn), with the identity headers
API Gateway would add, a server record held in memory instead of DynamoDB, and Cloud Map stood in for by a resolve
function that answers 127.0.0.1. Each client opens its own MCP session and calls `echo` in a loop: 1 client, then
8; direct and router phases alternate, twice. Loopback only.

`python -m bench.router --serve PORT REPLICA_PORT` is the router process itself (the benchmark starts it).
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.gateway import ROUNDS, Phase, load, merge, per_call
from bench.harness import ROOT, BareProxy, cpu_seconds, first_answer, free_port
from bench.stats import Table, ms, percentile, ratio, times

SERVER_NAME = "benchrouter"
CALLER = "bench-user"


def edge_headers() -> dict[str, str]:
    """What API Gateway's mapping adds to every data-plane call the authorizer allowed."""
    from hosted_mcp.auth.forwarding import identity_headers
    from hosted_mcp.models.domain import Caller

    return identity_headers(Caller(username=CALLER, groups=(), credentialType="jwt"))


def serve(port: int, replica_port: int) -> None:
    """The router process: one InService server whose tasks resolve to 127.0.0.1 on `replica_port`."""
    import uvicorn

    from hosted_mcp.adapters.memory import InMemoryServerStore
    from hosted_mcp.logic.servers import create_server
    from hosted_mcp.logic.transitions import move
    from hosted_mcp.models.api import CreateServerRequest
    from hosted_mcp.models.domain import Caller
    from hosted_mcp.models.fields import ServerStatus
    from hosted_mcp_gateway.router import RouterSettings, create_app

    store = InMemoryServerStore()
    now = datetime.now(UTC)
    request = CreateServerRequest.model_validate(
        {"name": SERVER_NAME, "serverType": "http", "startCommand": "python server.py", "port": replica_port}
    )
    record = create_server(store, request, Caller(username="admin", isAdmin=True), now=now)
    move(store, record, ServerStatus.IN_SERVICE, actor="bench", reason="ready", now=now)
    settings = RouterSettings.from_environ(
        {
            "SERVERS_TABLE_NAME": "in-memory",
            "DISCOVERY_NAMESPACE": "hosted-mcp.internal",
            "ROUTER_SEALING_KEY": base64.b64encode(os.urandom(48)).decode(),
            "PORT": str(port),
        }
    )
    app = create_app(settings, store.get_by_name, resolve=lambda host: ["127.0.0.1"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class RouterProcess:
    def __init__(self, replica_port: int) -> None:
        self.port = free_port()
        self.replica_port = replica_port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp/{SERVER_NAME}/mcp"

    def start(self, timeout: float = 30) -> RouterProcess:
        pythonpath = os.pathsep.join(str(ROOT / p) for p in ("", "shared", "gateway", "local"))
        env = {**os.environ, "PYTHONPATH": pythonpath}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.router", "--serve", str(self.port), str(self.replica_port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TimeoutError("the router did not answer /healthz")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)


def run(args: Any) -> list[Table]:
    results: dict[tuple[str, int], list[Phase]] = {}
    with tempfile.TemporaryDirectory(prefix="hosted-mcp-bench-") as tmp:
        replica = BareProxy(Path(tmp) / "greeter")
        replica.start()
        router = None
        try:
            first_answer(replica.url, time.monotonic() + 60)
            router = RouterProcess(replica.port).start()
            paths = {"direct": (replica.url, {}), "router": (router.url, edge_headers())}
            for url, headers in paths.values():  # warm both paths: connections, imports, the proxy's child
                load(url, headers, 1, 20, 5)
            assert replica.process is not None
            assert router.process is not None
            for _ in range(ROUNDS):
                for clients in (1, 8):
                    for name, (url, headers) in paths.items():
                        before = cpu_seconds([router.process.pid]), cpu_seconds([replica.process.pid])
                        phase = load(url, headers, clients, args.calls // ROUNDS, args.seconds / ROUNDS)
                        phase.gateway_cpu = cpu_seconds([router.process.pid]) - before[0]
                        phase.replica_cpu = cpu_seconds([replica.process.pid]) - before[1]
                        results.setdefault((name, clients), []).append(phase)
        finally:
            if router is not None:
                router.stop()
            replica.stop()
    return [table(results, args)]


def table(results: dict[tuple[str, int], list[Phase]], args: Any) -> Table:
    report = Table(
        "Router hop: tools/call (echo) through hosted-mcp-router vs the replica's own port (loopback)",
        [
            "clients",
            "path",
            "calls",
            "errors",
            "p50",
            "p95",
            "calls/s",
            "p50 ratio",
            "calls/s ratio",
            "CPU/call router",
        ],
    )
    for clients in (1, 8):
        direct, routed = merge(results[("direct", clients)]), merge(results[("router", clients)])
        d50, r50 = percentile(direct.latencies, 50), percentile(routed.latencies, 50)
        for name, phase, p50 in (("direct", direct, d50), ("router", routed, r50)):
            report.add(
                clients,
                name,
                len(phase.latencies),
                phase.errors,
                ms(p50),
                ms(percentile(phase.latencies, 95)),
                f"{phase.rate:.0f}",
                times(ratio(p50, d50)),
                times(ratio(phase.rate, direct.rate)),
                per_call(phase.gateway_cpu, phase),
            )
    report.notes = [
        f"Each client has its own session; {ROUNDS} alternating rounds per path, at most {args.calls} calls and "
        f"{args.seconds:g} s per client and path in total. The router process runs create_app under uvicorn, as "
        "its ECS task does, with the identity headers API Gateway adds, the server record in memory (on AWS: "
        "DynamoDB GetItem, cached 5 s) and Cloud Map answered by a function (on AWS: the VPC resolver, cached "
        "for the records' 10 s TTL).",
        "CPU/call router: the router process's CPU time (user + system, /proc) per call on the router path; it does "
        "not move with other load on a shared machine. mcp-proxy's process tree is the replica (its stdio child is "
        "not counted on either path).",
        "Not in these figures: API Gateway and the ALB in front of the router on AWS, and the network hops between "
        "tasks in different AZs.",
    ]
    return report


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit("usage: python -m bench.router --serve PORT REPLICA_PORT (or: python -m bench router)")


if __name__ == "__main__":
    main()
