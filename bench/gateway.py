"""The data plane per call: the gateway hop and the whole stdio chain, our bridge against today's, nginx as the floor.

Hosted on one platform, all the example greeter (a stdio MCP server):

- `bench-bridge`: stdio, behind our bridge (how the platform hosts stdio servers), policy and audit off;
- `bench-mcp-proxy`: the same server behind PyPI mcp-proxy 0.13 (the bridge stdio servers had before), hosted as
  an HTTP server whose start command runs mcp-proxy on the replica's port;
- `bench-policy`: like `bench-bridge`, with a 20-tool policy and the call audit on.

Paths, each a client per session calling `echo` in a loop, at 1 then 8 concurrent clients: each replica's own port
(direct), the gateway's `/mcp/{name}/mcp`, Debian nginx in front of the same bridge (the floor for one extra hop),
and a 2026-07-28 client (stateless, no session) through the gateway to the same 2025-era bridge, which the gateway
bridges. Phases alternate, twice, so machine drift hits all alike; each is bounded by a call count and a time limit.
Loopback only.

CPU per call is read from /proc for each side during its phase (user + system), over the calls made: unlike latency
it does not move much with other load on a shared machine. The hop is the gateway process (or nginx); the replica is
the bridge and the server; the chain is both.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.call_rules import rules_table
from bench.harness import (
    McpSession,
    ModernClient,
    RunningPlatform,
    cpu_seconds,
    free_port,
    proxy_bin,
    rss_bytes,
    stdio_body,
)
from bench.stats import Table, Target, ms, percentile, ratio, times

CHAIN_TARGET = Target(0.6)  # the stdio chain's CPU per call, ours over today's
HOP_TARGET = Target(2.0)  # the gateway hop's CPU per call over nginx's
ERA_TARGET_MS = 0.3  # p50 a 2026-07-28 client may add over a 2025 one, bridged to the same legacy server
RULES_TARGET_MS = 0.1  # CPU per call the tool policy and the audit may add to the hop
ROUNDS = 2
POLICY_TOOLS = ["echo", *(f"tool_{n:02d}" for n in range(1, 19)), "report_*"]  # 20 entries, one a glob
NGINX = ("/usr/sbin/nginx", "nginx")


@dataclass
class Phase:
    latencies: list[float]
    elapsed: float
    errors: int
    gateway_cpu: float = 0.0  # CPU seconds the hop (the platform process, or nginx) spent during the phase
    replica_cpu: float = 0.0  # CPU seconds the bridge and the server spent during the phase

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def per_call_ms(self, cpu: float) -> float:
        return cpu / max(1, len(self.latencies)) * 1000


@dataclass(frozen=True)
class Route:
    """One way to reach a replica: its URL, the client kind, and whose CPU is the hop's."""

    name: str
    url: str
    headers: dict[str, str]
    server: str  # the record id whose replica answers
    hop: Callable[[], list[int]]  # the hop's pids (none for direct)
    modern: bool = False


def load(url: str, headers: dict[str, str], clients: int, calls: int, seconds: float, *, modern: bool = False) -> Phase:
    """`clients` clients calling `echo` concurrently, each at most `calls` times and `seconds` long."""
    kind = ModernClient if modern else McpSession
    sessions = [kind(url, headers) for _ in range(clients)]
    for session in sessions:
        session.initialize()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        session, samples = sessions[index], latencies[index]
        start.wait()
        deadline = time.perf_counter() + seconds
        while len(samples) < calls and time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                session.call_tool("echo", {"text": "ping"})
            except Exception:  # a failed call is counted, not timed
                errors[index] += 1
                continue
            samples.append(time.perf_counter() - began)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    elapsed = time.perf_counter() - began
    for session in sessions:
        session.close()
    return Phase([s for samples in latencies for s in samples], elapsed, sum(errors))


def merge(phases: list[Phase]) -> Phase:
    return Phase(
        [s for p in phases for s in p.latencies],
        sum(p.elapsed for p in phases),
        sum(p.errors for p in phases),
        sum(p.gateway_cpu for p in phases),
        sum(p.replica_cpu for p in phases),
    )


def per_call(cpu: float, phase: Phase) -> str:
    return ms(cpu / max(1, len(phase.latencies)))


class Nginx:
    """Debian nginx, one worker, as a plain reverse proxy with upstream keep-alive and no buffering: the least an
    extra hop can cost."""

    def __init__(self, directory: Path, upstream: int) -> None:
        self.directory = directory
        self.upstream = upstream
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str | None:
        return next((found for name in NGINX if (found := shutil.which(name))), None)

    def start(self, binary: str) -> Nginx:
        self.directory.mkdir(parents=True, exist_ok=True)
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = " ".join(f"{kind}_temp_path {self.directory / kind};" for kind in kinds)
        (self.directory / "nginx.conf").write_text(
            f"""worker_processes 1;
error_log stderr error;
pid {self.directory / "nginx.pid"};
events {{ worker_connections 1024; }}
http {{
  access_log off;
  {temp}
  upstream replica {{ server 127.0.0.1:{self.upstream}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{self.port};
    location / {{
      proxy_pass http://replica;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }}
  }}
}}
"""
        )
        self.process = subprocess.Popen(
            [binary, "-p", str(self.directory), "-c", str(self.directory / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self.pids()[1:]:
            time.sleep(0.05)
        return self

    def pids(self) -> list[int]:
        """The master and its workers."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            workers = [int(pid) for pid in children.read_text().split()]
        except OSError:
            workers = []
        return [self.process.pid, *workers]

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def mcp_proxy_body(name: str) -> dict[str, Any]:
    """The example server behind PyPI mcp-proxy, as the platform ran stdio servers before: an HTTP server whose
    start command runs mcp-proxy on the replica's PORT."""
    script = f'exec {shlex.quote(proxy_bin())} --host 127.0.0.1 --port "$PORT" --pass-environment -- python server.py'
    body = stdio_body(name)
    return {**body, "serverType": "http", "port": 8080, "startCommand": shlex.join(["sh", "-c", script])}


def run(args: Any) -> list[Table]:
    results: dict[tuple[str, int], list[Phase]] = {}
    memory: dict[str, int] = {}
    nginx_binary = Nginx.binary()
    with tempfile.TemporaryDirectory(prefix="hosted-mcp-bench-") as tmp:
        platform = RunningPlatform(Path(tmp) / "data").start()
        nginx: Nginx | None = None
        try:
            ours = platform.create({**stdio_body("bench-bridge"), "auditCalls": False})
            today = platform.create({**mcp_proxy_body("bench-mcp-proxy"), "auditCalls": False})
            ruled = platform.create(
                {**stdio_body("bench-policy"), "auditCalls": True, "toolPolicy": {"*": {"tools": POLICY_TOOLS}}}
            )
            for record in (ours, today, ruled):
                platform.wait_for(record["id"], "InService", timeout=120)
            bearer = {"Authorization": f"Bearer {platform.token('bench-user')}"}
            assert platform.process is not None
            gateway_pid = platform.process.pid

            def gateway() -> list[int]:
                return [gateway_pid]

            def direct(record: dict[str, Any]) -> str:
                return f"http://127.0.0.1:{platform.replica_port(record['id'])}/mcp"

            def through(record: dict[str, Any]) -> str:
                return f"{platform.url}/mcp/{record['normalizedName']}/mcp"

            paths = [
                Route("direct, our bridge", direct(ours), {}, ours["id"], list),
                Route("gateway, our bridge", through(ours), bearer, ours["id"], gateway),
                Route("gateway, our bridge, 2026-07-28 client", through(ours), bearer, ours["id"], gateway, True),
                Route("direct, mcp-proxy", direct(today), {}, today["id"], list),
                Route("gateway, mcp-proxy", through(today), bearer, today["id"], gateway),
                Route("gateway, our bridge, policy + audit", through(ruled), bearer, ruled["id"], gateway),
            ]
            if nginx_binary is not None:
                nginx = Nginx(Path(tmp) / "nginx", platform.replica_port(ours["id"])).start(nginx_binary)
                floor = f"http://127.0.0.1:{nginx.port}/mcp"
                paths.insert(1, Route("nginx, our bridge", floor, {}, ours["id"], nginx.pids))
            for path in paths:  # warm every path: connections, imports, the bridges' children
                load(path.url, path.headers, 1, 20, 5, modern=path.modern)
            for name, record in (("our bridge", ours), ("mcp-proxy", today)):
                memory[name] = rss_bytes(platform.replica_pids(record["id"]))
            for _ in range(ROUNDS):
                for clients in (1, 8):
                    for path in paths:
                        replica = platform.replica_pids(path.server)
                        hop_pids = path.hop()
                        before = cpu_seconds(hop_pids), cpu_seconds(replica)
                        calls, seconds = args.calls // ROUNDS, args.seconds / ROUNDS
                        phase = load(path.url, path.headers, clients, calls, seconds, modern=path.modern)
                        phase.gateway_cpu = cpu_seconds(hop_pids) - before[0]
                        phase.replica_cpu = cpu_seconds(replica) - before[1]
                        results.setdefault((path.name, clients), []).append(phase)
        finally:
            if nginx is not None:
                nginx.stop()
            platform.stop()
    names = [p.name for p in paths]
    return [
        calls_table(results, names, args),
        targets_table(results, nginx_binary is not None),
        memory_table(memory),
        rules_of(results),
        rules_table(POLICY_TOOLS),
    ]


def calls_table(results: dict[tuple[str, int], list[Phase]], names: list[str], args: Any) -> Table:
    table = Table(
        "The data plane per tools/call (echo), loopback: each path's latency, rate and CPU per call",
        ["clients", "path", "calls", "errors", "p50", "p95", "calls/s", "CPU/call hop", "CPU/call replica", "chain"],
    )
    for clients in (1, 8):
        for name in names:
            phase = merge(results[(name, clients)])
            hop, replica = phase.per_call_ms(phase.gateway_cpu), phase.per_call_ms(phase.replica_cpu)
            table.add(
                clients,
                name,
                len(phase.latencies),
                phase.errors,
                ms(percentile(phase.latencies, 50)),
                ms(percentile(phase.latencies, 95)),
                f"{phase.rate:.0f}",
                f"{hop:.3f} ms" if hop else "",
                f"{replica:.3f} ms",
                f"{hop + replica:.3f} ms",
            )
    table.notes = [
        f"Each client has its own session (none for the 2026-07-28 client); {ROUNDS} alternating rounds per path, at "
        f"most {args.calls} calls and {args.seconds:g} s per client and path in total.",
        "The hop is the platform process (its gateway) or nginx; the replica is the bridge and the server behind it. "
        "Clients, hop, bridge and server share this machine's CPUs, so latency and calls/s move with its load; CPU "
        "per call much less.",
    ]
    return table


def targets_table(results: dict[tuple[str, int], list[Phase]], with_nginx: bool) -> Table:
    table = Table(
        "Targets: the stdio chain against today's, the hop against nginx, the era bridge's latency",
        ["clients", "measure", "ours", "baseline", "ratio or difference", "target", "verdict"],
    )

    def phase(name: str, clients: int) -> Phase:
        return merge(results[(name, clients)])

    for clients in (1, 8):
        ours, today = phase("gateway, our bridge", clients), phase("gateway, mcp-proxy", clients)
        chain_ours = ours.per_call_ms(ours.gateway_cpu + ours.replica_cpu)
        chain_today = today.per_call_ms(today.gateway_cpu + today.replica_cpu)
        chain = ratio(chain_ours, chain_today)
        table.add(
            clients,
            "chain CPU/call (gateway + bridge + server)",
            f"{chain_ours:.3f} ms",
            f"{chain_today:.3f} ms (mcp-proxy)",
            times(chain),
            CHAIN_TARGET.describe(),
            CHAIN_TARGET.verdict(chain),
        )
        if with_nginx:
            floor = phase("nginx, our bridge", clients)
            hop_ours, hop_nginx = ours.per_call_ms(ours.gateway_cpu), floor.per_call_ms(floor.gateway_cpu)
            hop = ratio(hop_ours, hop_nginx)
            table.add(
                clients,
                "hop CPU/call",
                f"{hop_ours:.3f} ms",
                f"{hop_nginx:.3f} ms (nginx)",
                times(hop),
                HOP_TARGET.describe(),
                HOP_TARGET.verdict(hop),
            )
        modern = phase("gateway, our bridge, 2026-07-28 client", clients)
        m50, l50 = percentile(modern.latencies, 50) * 1000, percentile(ours.latencies, 50) * 1000
        added = m50 - l50
        table.add(
            clients,
            "p50, 2026-07-28 client bridged to a 2025 server",
            f"{m50:.2f} ms",
            f"{l50:.2f} ms (2025 client)",
            f"{added:+.2f} ms",
            f"<= +{ERA_TARGET_MS} ms",
            "met" if added <= ERA_TARGET_MS else f"MISSED by {added - ERA_TARGET_MS:.2f} ms",
        )
    table.notes = [
        "Chain: the platform process's CPU plus the replica's (bridge + server) per call, through the gateway.",
        "Hop: the platform process's CPU per call through the gateway (authentication, policy checks, forwarding) "
        "against nginx's (master + worker) in front of the same bridge.",
    ]
    if not with_nginx:
        table.notes.append("nginx is not installed here (apt-get install nginx-light): no hop comparison.")
    return table


def memory_table(memory: dict[str, int]) -> Table:
    table = Table(
        "Memory per hosted stdio server: RSS of its replica (the bridge and the server it runs), after warm-up",
        ["bridge", "RSS"],
    )
    for name, size in memory.items():
        table.add(name, f"{size / 2**20:.1f} MiB")
    return table


def rules_of(results: dict[tuple[str, int], list[Phase]]) -> Table:
    rules = Table(
        "Per-call rules on the hop: the gateway's CPU per tools/call, tool policy and call audit off vs on",
        ["clients", "both off", "20-tool policy + audit", "difference", "target", "verdict"],
    )
    for clients in (1, 8):
        off = merge(results[("gateway, our bridge", clients)])
        on = merge(results[("gateway, our bridge, policy + audit", clients)])
        off_ms, on_ms = off.per_call_ms(off.gateway_cpu), on.per_call_ms(on.gateway_cpu)
        grown = on_ms - off_ms
        verdict = "met" if grown <= RULES_TARGET_MS else f"MISSED by {grown - RULES_TARGET_MS:.3f} ms"
        rules.add(
            clients, f"{off_ms:.3f} ms", f"{on_ms:.3f} ms", f"{grown:+.3f} ms", f"<= +{RULES_TARGET_MS} ms", verdict
        )
    rules.notes = [
        "Both servers are the same greeter behind our bridge, called through the same gateway in alternating "
        f"phases; one has no policy and auditCalls false, the other a {len(POLICY_TOOLS)}-entry tool policy (echo "
        "allowed, one glob) and auditCalls true (each call written to SQLite by the audit writer, in the same "
        "process).",
    ]
    return rules
