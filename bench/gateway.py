"""Gateway overhead: tools/call through `/mcp/{name}/mcp` on the local gateway against the same replica's port.

One InService stdio server (the example greeter behind mcp-proxy). Each client opens its own MCP session and
calls `echo` in a loop: 1 client, then 8 concurrent clients, each phase bounded by a call count and a time
limit. Direct and gateway phases alternate, twice, so machine drift hits both alike. Loopback only.

A second server, the same greeter, has the per-call rules on: a 20-tool policy (echo among them, for every caller)
and the call audit; the first has both off. The gateway's CPU per call on each, side by side, is what the rules
cost the hop (target: at most 0.1 ms more per call). The same rules are also timed in process, without the network
and the rest of the machine's noise (`bench.call_rules`).
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.call_rules import rules_table
from bench.harness import McpSession, RunningPlatform, cpu_seconds, stdio_body
from bench.stats import Table, Target, ms, percentile, ratio, times

LATENCY_TARGET = Target(1.10)
THROUGHPUT_TARGET = Target(0.90, at_most=False)
RULES_TARGET_MS = 0.1  # CPU per call the tool policy and the audit may add to the hop
ROUNDS = 2
POLICY_TOOLS = ["echo", *(f"tool_{n:02d}" for n in range(1, 19)), "report_*"]  # 20 entries, one a glob


@dataclass
class Phase:
    latencies: list[float]
    elapsed: float
    errors: int
    gateway_cpu: float = 0.0  # CPU seconds the platform process spent during the phase
    replica_cpu: float = 0.0  # CPU seconds mcp-proxy and the server spent during the phase

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def load(url: str, headers: dict[str, str], clients: int, calls: int, seconds: float) -> Phase:
    """`clients` sessions calling `echo` concurrently, each at most `calls` times and `seconds` long."""
    sessions = [McpSession(url, headers) for _ in range(clients)]
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


def run(args: Any) -> list[Table]:
    results: dict[tuple[str, int], list[Phase]] = {}
    with tempfile.TemporaryDirectory(prefix="hosted-mcp-bench-") as tmp:
        platform = RunningPlatform(Path(tmp) / "data").start()
        try:
            created = platform.create({**stdio_body("bench-gateway"), "auditCalls": False})
            ruled = platform.create(
                {**stdio_body("bench-policy"), "auditCalls": True, "toolPolicy": {"*": {"tools": POLICY_TOOLS}}}
            )
            platform.wait_for(created["id"], "InService", timeout=120)
            platform.wait_for(ruled["id"], "InService", timeout=120)
            direct_url = f"http://127.0.0.1:{platform.replica_port(created['id'])}/mcp"
            bearer = {"Authorization": f"Bearer {platform.token('bench-user')}"}
            paths = {
                "direct": (direct_url, {}),
                "gateway": (f"{platform.url}/mcp/{created['normalizedName']}/mcp", bearer),
                "gateway, policy + audit": (f"{platform.url}/mcp/{ruled['normalizedName']}/mcp", bearer),
            }
            replica_of = {"gateway, policy + audit": ruled["id"]}
            for url, headers in paths.values():  # warm both paths: connections, imports, the proxy's child
                load(url, headers, 1, 20, 5)
            for _ in range(ROUNDS):
                for clients in (1, 8):
                    for name, (url, headers) in paths.items():
                        replica = platform.replica_pids(replica_of.get(name, created["id"]))
                        assert platform.process is not None
                        before = cpu_seconds([platform.process.pid]), cpu_seconds(replica)
                        phase = load(url, headers, clients, args.calls // ROUNDS, args.seconds / ROUNDS)
                        phase.gateway_cpu = cpu_seconds([platform.process.pid]) - before[0]
                        phase.replica_cpu = cpu_seconds(replica) - before[1]
                        results.setdefault((name, clients), []).append(phase)
        finally:
            platform.stop()
    table = Table(
        "Gateway overhead: tools/call (echo) through /mcp/{name}/mcp vs the replica's own port (loopback)",
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
            "verdict",
            "CPU/call gateway",
            "CPU/call mcp-proxy+server",
        ],
    )
    rules = Table(
        "Per-call rules on the hop: the gateway's CPU per tools/call, tool policy and call audit off vs on",
        ["clients", "both off", "20-tool policy + audit", "difference", "target", "verdict"],
    )
    for clients in (1, 8):
        off, on = merge(results[("gateway", clients)]), merge(results[("gateway, policy + audit", clients)])
        off_ms = off.gateway_cpu / max(1, len(off.latencies)) * 1000
        on_ms = on.gateway_cpu / max(1, len(on.latencies)) * 1000
        grown = on_ms - off_ms
        verdict = "met" if grown <= RULES_TARGET_MS else f"MISSED by {grown - RULES_TARGET_MS:.3f} ms"
        rules.add(
            clients, f"{off_ms:.3f} ms", f"{on_ms:.3f} ms", f"{grown:+.3f} ms", f"<= +{RULES_TARGET_MS} ms", verdict
        )
    rules.notes = [
        "Both servers are the same greeter behind mcp-proxy, called through the same gateway in alternating phases; "
        f"one has no policy and auditCalls false, the other a {len(POLICY_TOOLS)}-entry tool policy (echo allowed, "
        "one glob) and auditCalls true (each call written to SQLite by the audit writer, in the same process).",
        "CPU per call: the platform process's user + system CPU during the phase (/proc), over the calls made.",
    ]
    for clients in (1, 8):
        direct, gateway = merge(results[("direct", clients)]), merge(results[("gateway", clients)])
        d50, g50 = percentile(direct.latencies, 50), percentile(gateway.latencies, 50)
        latency_ratio, rate_ratio = ratio(g50, d50), ratio(gateway.rate, direct.rate)
        table.add(
            clients,
            "direct",
            len(direct.latencies),
            direct.errors,
            ms(d50),
            ms(percentile(direct.latencies, 95)),
            f"{direct.rate:.0f}",
            "1.00x",
            "1.00x",
            "",
            per_call(direct.gateway_cpu, direct),
            per_call(direct.replica_cpu, direct),
        )
        verdict = f"p50 {LATENCY_TARGET.verdict(latency_ratio)}; calls/s {THROUGHPUT_TARGET.verdict(rate_ratio)}"
        table.add(
            clients,
            "gateway",
            len(gateway.latencies),
            gateway.errors,
            ms(g50),
            ms(percentile(gateway.latencies, 95)),
            f"{gateway.rate:.0f}",
            times(latency_ratio),
            times(rate_ratio),
            verdict,
            per_call(gateway.gateway_cpu, gateway),
            per_call(gateway.replica_cpu, gateway),
        )
    table.notes = [
        f"Targets: p50 {LATENCY_TARGET.describe()}, calls/s {THROUGHPUT_TARGET.describe()}. Each client has its own "
        f"session; {ROUNDS} alternating rounds per path, at most {args.calls} calls and {args.seconds:g} s per "
        "client and path in total.",
        "The client, the gateway, mcp-proxy and the server share this machine's CPUs: at 8 clients the ratio "
        "includes the gateway's CPU competing with mcp-proxy's.",
        "CPU/call: CPU time (user + system, /proc) each side spent per call during the phase; unlike latency it "
        "does not move with other load on a shared machine. The gateway's own cost is its CPU/call on the "
        "gateway path.",
    ]
    return [table, rules, rules_table(POLICY_TOOLS)]
