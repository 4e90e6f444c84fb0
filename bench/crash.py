"""Crash and race suite: what issue 13 measured by hand, kept repeatable, its counts printed.

- **kill -9.** A running platform gets an operation (create, update, stop, start or delete of a real stdio server,
  chosen at random among those the servers' statuses allow), and is killed outright at a random moment while the
  operation's reactions run (0 to `CRASH_WINDOW` seconds later). It is started again, and a trial holds when, once
  the platform has come to rest: every record is stable (`InService`, `Stopped`) or gone, none `Failed`; each
  `InService` server answers through the gateway and runs exactly its replicas (one bridge and one server each,
  none left from the killed run, none of a deleted server); every audit trail is a chain (each entry starts where
  the previous one ended, versions increasing, the last one where the record is); SQLite's integrity check says
  ok. Reported: trials held, and the median and maximum time from restart to the API answering.
- **Races.** Same name: `RACE_CONTENDERS` creates of one name at once, exactly one 201, the others 409. Conflicting
  transitions: a delete and a redeploy of one Failed server at once, exactly one accepted, the other 409.
- **Convergence.** `fleet` stdio servers created at once, time until the last is `InService`.

`python -m bench crash` runs 16 trials, 10 rounds of each race and a fleet of 20; `--trials 64 --fleet 50` is the
issue's run. The e2e suite runs a small version of the same code (tests/e2e/test_crash_suite.py).
"""

from __future__ import annotations

import itertools
import random
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.harness import RunningPlatform, stdio_body
from bench.stats import Table, median, secs

CRASH_WINDOW = 3.0
SETTLE_TIMEOUT = 120.0
RACE_CONTENDERS = 4
STABLE = {"InService", "Stopped"}
TRANSITIONAL = {"Creating", "Updating", "Starting", "Stopping", "Deleting"}


@dataclass
class Trial:
    operation: str
    killed_after: float
    restart_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.problems


@dataclass
class CrashReport:
    trials: list[Trial]
    name_races: list[Counter[int]]  # per round: HTTP status -> how many contenders got it
    transition_races: list[Counter[int]]
    fleet: int
    converged_seconds: float | None

    @property
    def held(self) -> int:
        return sum(t.held for t in self.trials)

    @staticmethod
    def one_winner(rounds: list[Counter[int]], winner: set[int]) -> int:
        return sum(sum(c for s, c in counts.items() if s in winner) == 1 for counts in rounds)


# -- the platform, seen from outside ---------------------------------------------------------------------------


def records(platform: RunningPlatform) -> list[dict[str, Any]]:
    with platform.admin() as api:
        response = api.get("/mcp", params={"limit": 100})
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["Items"]
    return items


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def answers(platform: RunningPlatform, record: dict[str, Any]) -> bool:
    headers = {"Authorization": f"Bearer {platform.token('bench')}", "Accept": "application/json, text/event-stream"}
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "crash", "version": "1"},
        },
    }
    try:
        return httpx.post(record["url"], headers=headers, json=body, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


# -- kill -9 -----------------------------------------------------------------------------------------------------


def start_operation(platform: RunningPlatform, rng: random.Random, serial: int) -> str:
    """Ask for one operation the current statuses allow, chosen at random; its name."""
    servers = records(platform)
    by_status: dict[str, list[dict[str, Any]]] = {}
    for server in servers:
        by_status.setdefault(server["status"], []).append(server)
    choices = ["create"] if len(servers) < 6 else []
    choices += ["update", "stop"] if by_status.get("InService") else []
    choices += ["start"] if by_status.get("Stopped") else []
    choices += ["delete"] if by_status.get("InService") or by_status.get("Stopped") else []
    operation = rng.choice(choices or ["create"])
    with platform.admin() as api:
        if operation == "create":
            body = stdio_body(f"crash-{serial}")
            body["environment"]["STARTUP_DELAY"] = str(rng.choice([0, 0.5, 1.5]))
            response = api.post("/mcp", json=body)
        else:
            pool = by_status["Stopped"] if operation == "start" else by_status.get("InService", [])
            if operation == "delete":
                pool = by_status.get("InService", []) + by_status.get("Stopped", [])
            server = rng.choice(pool)
            bodies = {"update": {"environment": {"GREETING": f"Hi {serial}"}}, "stop": {"enabled": False}}
            bodies["start"] = {"enabled": True}
            if operation == "delete":
                response = api.delete(f"/mcp/{server['id']}")
            else:
                response = api.put(f"/mcp/{server['id']}", json=bodies[operation])
    if response.status_code >= 300:
        raise RuntimeError(f"{operation} refused: {response.status_code} {response.text}")
    return operation


def inspect(platform: RunningPlatform) -> list[str]:
    """Everything that would make a trial fail, once the platform has come to rest."""
    from hosted_mcp_local.processes import data_dir_tag, tagged_processes

    problems: list[str] = []
    servers = records(platform)
    for server in servers:
        if server["status"] not in STABLE:
            problems.append(f"{server['name']} is {server['status']}: {server.get('lastError')}")
    running = [s for s in servers if s["status"] == "InService"]
    if not wait_for(lambda: all(answers(platform, s) for s in running), 90):
        problems.append("an InService server does not answer through the gateway")
    tag = data_dir_tag(platform.data_dir)
    known = {s["id"]: s for s in servers}
    for pid in tagged_processes(f"{tag}:"):
        server_id = _tag_of(pid).split(":")[1] if _tag_of(pid) else ""
        if server_id not in known or known[server_id]["status"] != "InService":
            problems.append(f"process {pid} runs for {server_id or '?'}, which has no running record")
    for server in running:
        argv = [_argv(pid) for pid in platform.replica_pids(server["id"])]
        wrappers = sum(1 for a in argv if b"hosted_mcp_bridge" in a[:4])
        children = sum(1 for a in argv if a[:2] == [b"python", b"server.py"])
        expected = server["autoScalingConfig"]["minCapacity"]
        if (wrappers, children) != (expected, expected):
            problems.append(f"{server['name']} runs {wrappers} bridge(s) and {children} server(s), not {expected}")
    problems += audit_problems(platform, servers)
    with sqlite3.connect(f"file:{platform.data_dir / 'hosted-mcp.db'}?mode=ro", uri=True) as db:
        (integrity,) = db.execute("PRAGMA integrity_check").fetchone()
    if integrity != "ok":
        problems.append(f"SQLite integrity check: {integrity}")
    return problems


def audit_problems(platform: RunningPlatform, servers: list[dict[str, Any]]) -> list[str]:
    problems = []
    with platform.admin() as api:
        for server in servers:
            items = api.get(f"/mcp/{server['id']}/audit").json()["Items"]
            chained = all(
                later["fromStatus"] == earlier["toStatus"] and later["version"] > earlier["version"]
                for earlier, later in itertools.pairwise(items)
            )
            if (
                not items
                or items[0]["fromStatus"] is not None
                or not chained
                or items[-1]["toStatus"] != server["status"]
            ):
                problems.append(f"{server['name']}: audit trail is not a chain ending in {server['status']}")
    return problems


def _tag_of(pid: int) -> str:
    from hosted_mcp_local.processes import PROCESS_TAG

    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return ""
    prefix = f"{PROCESS_TAG}=".encode()
    return next((item[len(prefix) :].decode() for item in environ if item.startswith(prefix)), "")


def _argv(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def crash_trials(platform: RunningPlatform, count: int, rng: random.Random) -> list[Trial]:
    trials = []
    for serial in range(count):
        operation = start_operation(platform, rng, serial)
        trial = Trial(operation, killed_after=rng.uniform(0, CRASH_WINDOW))
        time.sleep(trial.killed_after)
        platform.crash()
        restarted = time.monotonic()
        platform.start()
        trial.restart_seconds = time.monotonic() - restarted
        if not wait_for(lambda: not any(s["status"] in TRANSITIONAL for s in records(platform)), SETTLE_TIMEOUT):
            trial.problems.append(f"not at rest {SETTLE_TIMEOUT:g}s after the restart")
        trial.problems += inspect(platform)
        trials.append(trial)
        print(
            f"trial {serial + 1}/{count}: {operation}, killed after {trial.killed_after:.2f}s, "
            f"API back in {trial.restart_seconds:.2f}s: {'held' if trial.held else trial.problems}",
            flush=True,
        )
    return trials


# -- races and convergence ---------------------------------------------------------------------------------------


def at_once(calls: list[Callable[[], int]]) -> Counter[int]:
    """Run the calls on their own threads, released together; how many got each HTTP status."""
    gate = threading.Barrier(len(calls))
    statuses: list[int] = []

    def run(call: Callable[[], int]) -> None:
        gate.wait()
        statuses.append(call())

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return Counter(statuses)


def unrunnable(name: str) -> dict[str, Any]:
    """A server that fails at once (an image where no container runtime is): races need records, not processes."""
    return {"name": name, "serverType": "http", "startCommand": "serve", "image": "example/mcp:1"}


def name_races(platform: RunningPlatform, rounds: int) -> list[Counter[int]]:
    results = []
    with platform.admin() as api:
        for round_ in range(rounds):
            body = unrunnable(f"same-name-{round_}")

            def create(body: dict[str, Any] = body) -> int:
                return api.post("/mcp", json=body).status_code

            results.append(at_once([create] * RACE_CONTENDERS))
    return results


def transition_races(platform: RunningPlatform, rounds: int) -> list[Counter[int]]:
    results = []
    with platform.admin() as api:
        for round_ in range(rounds):
            created = api.post("/mcp", json=unrunnable(f"contested-{round_}")).json()
            platform.wait_for(created["id"], "Failed", timeout=60)
            path = f"/mcp/{created['id']}"

            def delete(path: str = path) -> int:
                return api.delete(path).status_code

            def redeploy(path: str = path) -> int:
                return api.put(path, json={"enabled": True}).status_code

            results.append(at_once([delete, redeploy]))
    return results


def converge(platform: RunningPlatform, fleet: int) -> float | None:
    started = time.monotonic()
    with platform.admin() as api:
        ids = [api.post("/mcp", json=stdio_body(f"fleet-{i}")).json()["id"] for i in range(fleet)]
    try:
        return max(platform.wait_for(server_id, "InService", timeout=300) for server_id in ids) - started
    except TimeoutError:
        return None


# -- the benchmark ---------------------------------------------------------------------------------------------


def crash_report(directory: Path, *, trials: int, rounds: int, fleet: int, seed: int = 13) -> CrashReport:
    rng = random.Random(seed)
    platform = RunningPlatform(directory / "crash" / "data").start()
    try:
        done = crash_trials(platform, trials, rng)
    finally:
        platform.stop()
    platform = RunningPlatform(directory / "races" / "data").start()
    try:
        names, transitions = name_races(platform, rounds), transition_races(platform, rounds)
        converged = converge(platform, fleet)
    finally:
        platform.stop()
    return CrashReport(done, names, transitions, fleet, converged)


def tables(report: CrashReport) -> list[Table]:
    restarts = [t.restart_seconds for t in report.trials]
    operations = Counter(t.operation for t in report.trials)
    table = Table("Crashes, races and convergence (one machine)", ["check", "result", "detail"])
    table.add(
        "kill -9 at a random point, then a restart",
        f"{report.held} of {len(report.trials)} trials held",
        ", ".join(f"{op} {n}" for op, n in sorted(operations.items())),
    )
    if restarts:
        table.add(
            "restart: kill -9 to the API answering", f"median {secs(median(restarts))}", f"max {secs(max(restarts))}"
        )
    one_name = report.one_winner(report.name_races, {201})
    table.add(
        f"same-name creates ({RACE_CONTENDERS} at once)",
        f"{one_name} of {len(report.name_races)} rounds: exactly one winner",
        "the others 409 Server name conflicts with existing server",
    )
    one_transition = report.one_winner(report.transition_races, {200, 202, 204})
    table.add(
        "delete vs redeploy of one Failed server",
        f"{one_transition} of {len(report.transition_races)} rounds: exactly one winner",
        "the other 409",
    )
    converged = "did not converge" if report.converged_seconds is None else secs(report.converged_seconds)
    table.add(f"{report.fleet} stdio servers created at once", f"all InService in {converged}", "")
    for trial in report.trials:
        if not trial.held:
            table.notes.append(f"trial {trial.operation} killed after {trial.killed_after:.2f}s: {trial.problems}")
    return [table]


def run(args: Any) -> list[Table]:
    with tempfile.TemporaryDirectory(prefix="hosted-mcp-crash-") as tmp:
        report = crash_report(Path(tmp), trials=args.trials, rounds=args.rounds, fleet=args.fleet)
    return tables(report)
