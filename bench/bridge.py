"""The stdio bridge: CPU per tools/call, latency, throughput, start-up and memory, for every candidate bridge.

Every candidate wraps the same dependency-free stdio server (tests/servers/plain.py), so what differs is the
bridge: PyPI mcp-proxy 0.13.0 (what the platform runs today), ours with a child per session and with one shared
child, and, when `make bench-tools` installed them under `.bench-tools/npm` (measured only, never committed),
npm mcp-proxy 6.x and supergateway 4.x (stateful: one child per session). All listen on loopback (supergateway,
which has no option for it, through bench/loopback.cjs).

Load: each client opens its own session and calls `echo` in a loop, 1 then 8 clients, candidates alternating,
twice, each phase bounded by a call count and a time limit. CPU per call is read from /proc for the bridge process
and, apart, for the server processes it runs (the same work for every candidate: a check that they all did it).

Memory and start: each candidate is started fresh with the plain server and again with the SDK example server
(examples/greeter-stdio), until its first answered initialize; then the RSS of its process tree with 0, 1 and 8
sessions open, and the time a new session takes (initialize + initialized) on the running bridge.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import ROOT, McpSession, cpu_seconds, first_answer, free_port, proxy_bin, rss_bytes
from bench.stats import Table, Target, median, ms, percentile, ratio, secs, times

PLAIN = ROOT / "tests" / "servers" / "plain.py"
GREETER = ROOT / "examples" / "greeter-stdio" / "server.py"
NPM_BIN = ROOT / ".bench-tools" / "npm" / "node_modules" / ".bin"
LOOPBACK_JS = Path(__file__).with_name("loopback.cjs")
CPU_TARGET = Target(0.60)  # issue 10: the stdio chain's CPU per call at most 0.6x today's
ABSOLUTE_CPU_TARGET = 0.001  # the brief: well under 1 ms of CPU per tools/call
ROUNDS = 2
SESSIONS = 8
SPACED_SESSIONS = 3
STARTS = 3  # fresh starts per bridge and server (median)
SPACED = 2.5  # seconds: longer than the SDK example server takes to start
TIMEOUT = 60.0


@dataclass(frozen=True)
class Candidate:
    name: str
    argv: Callable[[int, list[str]], list[str]]  # (port, the server's command) -> the bridge's command
    env: dict[str, str] = field(default_factory=dict)
    baseline: bool = False
    ours: bool = False


def candidates() -> tuple[list[Candidate], list[str]]:
    """The bridges installed here, and a note for each one that is not."""
    found: list[Candidate] = []
    missing: list[str] = []
    try:
        pypi = proxy_bin()
    except RuntimeError as absent:
        missing.append(f"PyPI mcp-proxy 0.13.0: {absent}")
    else:
        found.append(
            Candidate(
                "mcp-proxy 0.13.0 (PyPI)",
                lambda port, server: [
                    pypi,
                    "--port",
                    str(port),
                    "--host",
                    "127.0.0.1",
                    "--pass-environment",
                    "--",
                    *server,
                ],
                baseline=True,
            )
        )
    ours_env = {"PYTHONPATH": str(ROOT / "bridge")}
    for mode in ("per-session", "shared"):
        found.append(
            Candidate(
                f"hosted-mcp-bridge {mode}",
                lambda port, server, mode=mode: [  # type: ignore[misc]
                    *(sys.executable, "-m", "hosted_mcp_bridge", "--port", str(port), "--host", "127.0.0.1"),
                    *("--child", mode, "--log-level", "warning", "--", *server),
                ],
                env=ours_env,
                ours=True,
            )
        )
    npm_proxy, supergateway = NPM_BIN / "mcp-proxy", NPM_BIN / "supergateway"
    if npm_proxy.exists():
        found.append(
            Candidate(
                f"mcp-proxy {npm_version('mcp-proxy')} (npm)",
                lambda port, server: [
                    *(str(npm_proxy), "--port", str(port), "--host", "127.0.0.1", "--server", "stream"),
                    *("--", *server),
                ],
            )
        )
    else:
        missing.append(f"npm mcp-proxy: not installed under {NPM_BIN.parent.parent}")
    if supergateway.exists():
        found.append(
            Candidate(
                f"supergateway {npm_version('supergateway')} (npm, stateful)",
                lambda port, server: [
                    *(str(supergateway), "--stdio", " ".join(server), "--outputTransport", "streamableHttp"),
                    *("--stateful", "--port", str(port), "--streamableHttpPath", "/mcp", "--logLevel", "none"),
                ],
                env={"NODE_OPTIONS": f"--require {LOOPBACK_JS}"},
            )
        )
    else:
        missing.append(f"npm supergateway: not installed under {NPM_BIN.parent.parent}")
    return found, missing


def npm_version(package: str) -> str:
    manifest = NPM_BIN.parent / package / "package.json"
    return str(json.loads(manifest.read_text()).get("version", "?"))


# -- processes ---------------------------------------------------------------------------------------------------


@dataclass
class Running:
    """One candidate bridge process (and what it starts), on a loopback port."""

    candidate: Candidate
    server: list[str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    seen: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> float:
        """Start it; the seconds until its first answered initialize."""
        env = {**os.environ, **self.candidate.env}
        with self.log.open("ab") as out:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                self.candidate.argv(self.port, self.server),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        return first_answer(self.url, self.started_at + TIMEOUT, interval=0.01) - self.started_at

    def pids(self) -> tuple[int, list[int]]:
        """The bridge's pid, and the pids of every process under it (the servers, and any shell between)."""
        assert self.process is not None
        below = descendants(self.process.pid)
        self.seen.update(below)
        return self.process.pid, below

    def stop(self) -> None:
        if self.process is None:
            return
        self.seen.update(descendants(self.process.pid))
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        for pid in self.seen:  # servers some bridges start in sessions of their own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[0] != "Z":
            parents[int(entry.name)] = int(stat[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def pss_bytes(pids: list[int]) -> int:
    """Proportional set size: pages shared between processes (one interpreter's code) counted once in total."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def mib(size: float) -> str:
    return f"{size / (1 << 20):.1f} MiB"


# -- load --------------------------------------------------------------------------------------------------------


@dataclass
class Phase:
    latencies: list[float]
    elapsed: float
    errors: int
    bridge_cpu: float
    server_cpu: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def load(running: Running, clients: int, calls: int, seconds: float) -> Phase:
    """`clients` sessions calling `echo` concurrently; CPU counted only while they call (sessions already open)."""
    sessions = [McpSession(running.url) for _ in range(clients)]
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
    bridge, servers = running.pids()
    before = cpu_seconds([bridge]), cpu_seconds(servers)
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    elapsed = time.perf_counter() - began
    after = cpu_seconds([bridge]), cpu_seconds(servers)
    for session in sessions:
        session.close()
    samples = [s for per_client in latencies for s in per_client]
    return Phase(samples, elapsed, sum(errors), after[0] - before[0], after[1] - before[1])


def merge(phases: list[Phase]) -> Phase:
    return Phase(
        [s for p in phases for s in p.latencies],
        sum(p.elapsed for p in phases),
        sum(p.errors for p in phases),
        sum(p.bridge_cpu for p in phases),
        sum(p.server_cpu for p in phases),
    )


# -- memory and start ----------------------------------------------------------------------------------------


@dataclass
class Footprint:
    start: float
    session_burst: float  # a new session's initialize, sessions opened back to back (median)
    session_spaced: float  # the same, sessions SPACED seconds apart (median)
    idle: int  # RSS of the tree, no session open
    one: int  # with one session
    many: int  # with SESSIONS sessions
    many_pss: int
    processes: int  # processes in the tree with SESSIONS sessions


def footprint(candidate: Candidate, server: list[str], directory: Path, label: str, starts: int) -> Footprint:
    log = directory / f"{slug(candidate.name)}-{label}.log"
    tool, arguments = ("echo", {"text": "x"}) if label == "plain" else ("greet", {"name": "x"})
    times_to_answer = []
    for _ in range(starts - 1):  # the last start is the one measured further below
        once = Running(candidate, server, log)
        try:
            times_to_answer.append(once.start())
        finally:
            once.stop()
    running = Running(candidate, server, log)
    try:
        times_to_answer.append(running.start())
        start = median(times_to_answer)
        time.sleep(SPACED)  # settle: spares started, the probe session's child ended
        idle = rss_bytes(tree(running))
        sessions = [McpSession(running.url, timeout=30) for _ in range(SESSIONS)]
        burst = []
        try:
            for count, session in enumerate(sessions):
                began = time.perf_counter()
                session.initialize()
                burst.append(time.perf_counter() - began)
                session.call_tool(tool, arguments)
                if count == 0:
                    time.sleep(0.3)
                    one = rss_bytes(tree(running))
            time.sleep(0.5)
            pids = tree(running)
            many, many_pss, processes = rss_bytes(pids), pss_bytes(pids), len(pids)
        finally:
            for session in sessions:
                session.close()
        spaced = []
        for _ in range(SPACED_SESSIONS):
            time.sleep(SPACED)  # as sessions of different users arrive: per-session spares are ready again
            fresh = McpSession(running.url, timeout=30)
            try:
                began = time.perf_counter()
                fresh.initialize()
                spaced.append(time.perf_counter() - began)
            finally:
                fresh.close()
        return Footprint(start, median(burst), median(spaced), idle, one, many, many_pss, processes)
    finally:
        running.stop()


def tree(running: Running) -> list[int]:
    bridge, below = running.pids()
    return [bridge, *below]


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


# -- the benchmark -----------------------------------------------------------------------------------------------


def run(args: Any) -> list[Table]:
    found, missing = candidates()
    server = [sys.executable, str(PLAIN)]
    greeter = [sys.executable, str(GREETER)]
    results: dict[tuple[str, int], list[Phase]] = {}
    prints: dict[tuple[str, str], Footprint] = {}
    with tempfile.TemporaryDirectory(prefix="hosted-mcp-bench-bridge-") as tmp:
        directory = Path(tmp)
        for label, command in (("plain", server), ("greeter", greeter)):
            for candidate in found:
                print(f"  footprint {candidate.name} ({label})", flush=True)
                prints[(candidate.name, label)] = footprint(candidate, command, directory, label, STARTS)
        bridges = [Running(c, server, directory / f"{slug(c.name)}-load.log") for c in found]
        try:
            for running in bridges:
                running.start()
                load(running, 1, 30, 5)  # warm: imports, connections, the JIT of node bridges
                load(running, SESSIONS, 5, 5)
            for _ in range(ROUNDS):
                for clients in (1, SESSIONS):
                    for running in bridges:
                        print(f"  load {running.candidate.name}, {clients} client(s)", flush=True)
                        phase = load(running, clients, args.calls // ROUNDS, args.seconds / ROUNDS)
                        results.setdefault((running.candidate.name, clients), []).append(phase)
        finally:
            for running in bridges:
                running.stop()
    return [load_table(found, results, args, missing), memory_table(found, prints), routing_table()]


def load_table(
    found: list[Candidate], results: dict[tuple[str, int], list[Phase]], args: Any, missing: list[str]
) -> Table:
    table = Table(
        "stdio bridges: tools/call (echo) on the bridge's own port, the same plain stdio server behind each (loopback)",
        [
            "clients",
            "bridge",
            "calls",
            "errors",
            "p50",
            "p95",
            "calls/s",
            "CPU/call bridge",
            "CPU/call server",
            "bridge CPU vs mcp-proxy 0.13",
            "verdict",
        ],
    )
    baseline = next((c for c in found if c.baseline), None)
    for clients in (1, SESSIONS):
        base = merge(results[(baseline.name, clients)]) if baseline else None
        for candidate in found:
            phase = merge(results[(candidate.name, clients)])
            calls = max(1, len(phase.latencies))
            cpu = phase.bridge_cpu / calls
            versus = ratio(cpu, base.bridge_cpu / max(1, len(base.latencies))) if base else float("nan")
            verdict = ""
            if candidate.ours and base is not None:
                absolute = "met" if cpu < ABSOLUTE_CPU_TARGET else "MISSED"
                verdict = f"{CPU_TARGET.describe()}: {CPU_TARGET.verdict(versus)}; < 1 ms: {absolute}"
            table.add(
                clients,
                candidate.name,
                len(phase.latencies),
                phase.errors,
                ms(percentile(phase.latencies, 50)) if phase.latencies else "-",
                ms(percentile(phase.latencies, 95)) if phase.latencies else "-",
                f"{phase.rate:.0f}",
                ms(cpu),
                ms(phase.server_cpu / calls),
                times(versus),
                verdict,
            )
    table.notes = [
        f"Each client has its own session; {ROUNDS} alternating rounds per bridge, at most {args.calls} calls and "
        f"{args.seconds:g} s per client and bridge in total. The client, the bridge and the server share this "
        "machine's 2 CPUs, so p50 and calls/s move with load from elsewhere; CPU per call does not.",
        "CPU/call bridge: user + system CPU (/proc) of the bridge process per call, sessions already open. "
        "CPU/call server: the same for the processes under it (the stdio server, and a shell where the bridge "
        f"starts one); it should be alike for every bridge. /proc counts CPU in 10 ms ticks: a figure is exact to "
        f"10 ms / calls. Targets for ours: {CPU_TARGET.describe()} of "
        "mcp-proxy 0.13's bridge CPU per call (issue 10), and under 1 ms (the brief).",
        *[f"Not measured: {note}" for note in missing],
    ]
    return table


def memory_table(found: list[Candidate], prints: dict[tuple[str, str], Footprint]) -> Table:
    table = Table(
        "stdio bridges: start, new session, and memory (RSS of the bridge and every process under it)",
        [
            "server",
            "bridge",
            "start to first answer",
            f"new session, {SESSIONS} back to back",
            f"new session, {SPACED:g} s apart",
            "RSS, no session",
            "RSS, 1 session",
            f"RSS, {SESSIONS} sessions",
            f"PSS, {SESSIONS} sessions",
            "per session beyond the 1st",
            f"processes at {SESSIONS} sessions",
        ],
    )
    for label, title in (("plain", "plain (stdlib only)"), ("greeter", "greeter (MCP SDK 2.x)")):
        for candidate in found:
            foot = prints[(candidate.name, label)]
            table.add(
                title,
                candidate.name,
                secs(foot.start),
                ms(foot.session_burst),
                ms(foot.session_spaced),
                mib(foot.idle),
                mib(foot.one),
                mib(foot.many),
                mib(foot.many_pss),
                mib((foot.many - foot.one) / (SESSIONS - 1)),
                foot.processes,
            )
    table.notes = [
        f"Start: from starting the bridge to its first answered initialize (a fresh process, median of {STARTS}). "
        "New session: the initialize request on a running bridge (median), sessions opened back to back, and "
        f"{SPACED:g} s apart. Ours per-session takes a child started ahead (`--spare-children 1`) and starts the "
        "next one meanwhile: back to back, sessions after the first wait for their child to start.",
        "RSS counts pages shared between processes (the interpreter's code) once per process; PSS splits them, so "
        "it is closer to what several children really cost together. Per-session bridges run one server process "
        "per session (ours also one spare); shared ones run one in all.",
    ]
    return table


def routing_table() -> Table:
    """What reading only the id saves, in-process: routing one answer by `response_id` and putting the client's
    id back, against parsing and re-serializing the whole answer (what a bridge that parses everything does)."""
    import timeit

    sys.path.insert(0, str(ROOT / "bridge"))
    from hosted_mcp_bridge.jsonrpc import dump, id_value, response_id

    table = Table(
        "Routing one answer of a shared child: reading only its id vs parsing it (in-process, per answer)",
        ["answer size", "response_id + splice", "json.loads + dumps", "ratio"],
    )
    for size in (200, 10_000, 1_000_000):
        text = "x" * size
        line = dump({"jsonrpc": "2.0", "id": 41, "result": {"content": [{"type": "text", "text": text}]}})

        def spliced(line: bytes = line) -> bytes:
            span = response_id(line)
            assert span is not None
            id_value(line[span[0] : span[1]])
            return b"".join((line[: span[0]], b'"client-7"', memoryview(line)[span[1] :]))

        def parsed(line: bytes = line) -> bytes:
            message = json.loads(line)
            message["id"] = "client-7"
            return dump(message)

        number = max(20, 200_000 // max(1, size // 100))
        fast = min(timeit.repeat(spliced, number=number, repeat=5)) / number
        slow = min(timeit.repeat(parsed, number=number, repeat=5)) / number
        table.add(f"{len(line):,} bytes", ms(fast), ms(slow), times(ratio(slow, fast)))
    table.notes = [
        "Per-session mode does not even splice: a child's answer goes out as it came. Requests from clients are "
        "parsed (they are checked, and are small); answers, the large messages, are not."
    ]
    return table
