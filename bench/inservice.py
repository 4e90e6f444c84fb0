"""Time to InService on one machine: create request -> InService, against the same stdio server started bare.

Ours: `POST /mcp` to a running `hosted-mcp serve` until the platform publishes `InService` on its event stream
(the supervisor starts mcp-proxy, proves the server answers MCP, the settle reaction probes it again and writes
the status). Baseline: the same example server behind mcp-proxy, started directly, until its first answered
`initialize` (retried every 10 ms). Runs alternate between the two; the median of each is compared.
"""

from __future__ import annotations

import re
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import BareProxy, RunningPlatform, first_answer, stdio_body
from bench.stats import Table, Target, median, ratio, secs, times

TARGET = Target(1.15)
TIMEOUT = 60.0


def bare_once(directory: Path, run: int) -> float:
    proxy = BareProxy(directory / f"bare-{run}")
    started = time.monotonic()
    proxy.start()
    try:
        return first_answer(proxy.url, started + TIMEOUT) - started
    finally:
        proxy.stop()


def ours_once(platform: RunningPlatform, run: int) -> tuple[float, float, datetime]:
    """(create request -> InService, create request -> 201 answered, wall time of the InService event)."""
    started = time.monotonic()
    created = platform.create(stdio_body(f"bench-inservice-{run}"))
    answered = time.monotonic()
    event = platform.wait_event(created["id"], "InService", timeout=TIMEOUT)
    platform.delete(created["id"])
    return event.at - started, answered - started, event.wall


def run(args: Any) -> list[Table]:
    bare: list[float] = []
    ours: list[float] = []
    accepted: list[float] = []
    with tempfile.TemporaryDirectory(prefix="hosted-mcp-bench-") as tmp:
        directory = Path(tmp)
        platform = RunningPlatform(directory / "data", log_level="info").start()
        try:
            bare_once(directory, -1)  # warm the page cache for both: interpreter, mcp-proxy, the example
            ours_once(platform, -1)
            in_service_at = None
            for i in range(args.runs):
                bare.append(bare_once(directory, i))
                total, answered, in_service_at = ours_once(platform, i)
                ours.append(total)
                accepted.append(answered)
            timeline = supervisor_timeline(platform.log_path.read_text(errors="replace"), in_service_at)
        finally:
            platform.stop()
    ours_median, bare_median = median(ours), median(bare)
    r = ratio(ours_median, bare_median)
    table = Table(
        f"Time to InService, stdio server, median of {args.runs} (one machine)",
        ["path", "median", "min", "max", "ratio", "target", "verdict"],
    )
    table.add(
        "bare mcp-proxy: start -> first answered initialize",
        secs(bare_median),
        secs(min(bare)),
        secs(max(bare)),
        "1.00x",
        "",
        "",
    )
    table.add(
        "hosted-mcp: POST /mcp -> InService event",
        secs(ours_median),
        secs(min(ours)),
        secs(max(ours)),
        times(r),
        TARGET.describe(),
        TARGET.verdict(r),
    )
    table.notes = [
        f"POST /mcp answered 201 (Creating) after {secs(median(accepted))} (median).",
        *timeline,
    ]
    return [table]


STAMP = re.compile(r'"timestamp":\s*"([^"]+)"')


def supervisor_timeline(log: str, in_service_at: datetime | None) -> list[str]:
    """Where a create's time goes, from the platform's structured logs of the last run (a profile, not a guess)."""
    marks: list[tuple[datetime, str]] = []
    for line in log.splitlines():
        if '"message"' not in line:
            continue
        stamp = STAMP.search(line)
        message = re.search(r'"message":\s*"([^"]+)"', line)
        if stamp and message:
            try:
                marks.append((datetime.fromisoformat(stamp.group(1).replace("Z", "+00:00")), message.group(1)))
            except ValueError:
                continue
    starts = [i for i, (_, m) in enumerate(marks) if m == "server accepted"]
    if not starts:
        return []
    last = [m for m in marks[starts[-1] :] if m[1] != "delete accepted"][:6]
    if in_service_at is not None:
        last = sorted([*last, (in_service_at, "InService event read by the client")])
    origin = last[0][0]
    steps = [f"{(at - origin).total_seconds() * 1000:7.0f} ms  {message}" for at, message in last[:8]]
    return ["Platform log of the last create (structured log timestamps, ms after 'server accepted'):", *steps]
