"""Control-plane scale on the embedded store: create/get/list per second, and whether a page's cost grows with
the table.

The operations are the management API's own logic functions (`create_server`, `get_server`, `list_servers`) over
the one-machine SQLite store, in a temporary directory. The baseline is the same operation with 10 servers stored:
a get or a page of 10 must cost the same with 10,000 servers (target <= 1.5x, i.e. flat within noise). The last
page shows what a client pays once it has walked to the end of the list.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench.stats import Table, Target, ms, percentile, ratio, times

TARGET = Target(1.5)
PAGE = 10  # a page the smallest table fills too, so every size returns the same amount of data


def timed(operation: Callable[[], object], count: int, seconds: float) -> list[float]:
    """Latencies of `operation`, at most `count` calls and about `seconds` of wall time."""
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(samples) < count and time.perf_counter() < deadline:
        start = time.perf_counter()
        operation()
        samples.append(time.perf_counter() - start)
    return samples


def run(args: Any) -> list[Table]:
    from hosted_mcp.logic.servers import create_server, get_server, list_servers
    from hosted_mcp.models.api import CreateServerRequest
    from hosted_mcp.models.domain import Caller
    from hosted_mcp_local.store import SqliteServerStore

    sizes = sorted(int(s) for s in str(args.sizes).split(","))
    admin = Caller(username="bench", isAdmin=True)
    clock = datetime(2026, 1, 1, tzinfo=UTC)
    per_op = max(50, args.calls)
    rows: dict[int, dict[str, list[float]]] = {}
    create_rate: dict[int, float] = {}
    walks: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="hosted-mcp-bench-") as directory:
        store = SqliteServerStore(Path(directory) / "platform.db")
        ids: list[str] = []
        for size in sizes:
            started = time.perf_counter()
            added = 0
            while len(ids) < size:
                clock += timedelta(milliseconds=1)
                request = CreateServerRequest(name=f"bench-{len(ids)}", serverType="stdio", startCommand="server")
                ids.append(create_server(store, request, admin, now=clock).id)
                added += 1
            if added:
                create_rate[size] = added / (time.perf_counter() - started)
            middle = ids[len(ids) // 2]
            walk_started = time.perf_counter()
            last_token = _token_of_last_page(store, list_servers)
            walks[size] = time.perf_counter() - walk_started
            rows[size] = {
                "get": timed(partial(get_server, store, middle), per_op, args.seconds / 3),
                "list": timed(partial(list_servers, store, limit=PAGE), per_op, args.seconds / 3),
                "last": timed(
                    partial(list_servers, store, limit=PAGE, next_token=last_token), per_op, args.seconds / 3
                ),
            }
        store.close()
    return [_latency_table(sizes, rows), _throughput_table(sizes, rows, create_rate, walks)]


def _token_of_last_page(store: Any, list_servers: Callable[..., Any]) -> str | None:
    """Walk every page as a client would; the token it holds when it asks for the last one."""
    token, last = None, None
    while True:
        page = list_servers(store, limit=PAGE, next_token=token)
        if page.next_token is None:
            return last
        last = token = page.next_token


def _latency_table(sizes: list[int], rows: dict[int, dict[str, list[float]]]) -> Table:
    base = sizes[0]
    table = Table(
        f"Control-plane scale: latency on the embedded store (SQLite), baseline = {base} servers stored",
        ["operation", "servers", "p50", "p95", f"p50 vs {base}", "target", "verdict"],
    )
    labels = {"get": "get one server", "list": f"list first page ({PAGE})", "last": f"list last page ({PAGE})"}
    for key, label in labels.items():
        baseline = percentile(rows[base][key], 50)
        for size in sizes:
            p50 = percentile(rows[size][key], 50)
            r = ratio(p50, baseline)
            table.add(
                label,
                f"{size:,}",
                ms(p50),
                ms(percentile(rows[size][key], 95)),
                times(r),
                TARGET.describe(),
                TARGET.verdict(r),
            )
    return table


def _throughput_table(
    sizes: list[int], rows: dict[int, dict[str, list[float]]], create_rate: dict[int, float], walks: dict[int, float]
) -> Table:
    table = Table(
        "Control-plane scale: operations per second, one caller (logic + store, no HTTP)",
        ["servers", "creates/s (while filling)", "gets/s", "first pages/s", f"list all ({PAGE} per page)"],
    )
    for size in sizes:
        gets = len(rows[size]["get"]) / sum(rows[size]["get"])
        pages = len(rows[size]["list"]) / sum(rows[size]["list"])
        table.add(f"{size:,}", f"{create_rate.get(size, 0):,.0f}", f"{gets:,.0f}", f"{pages:,.0f}", ms(walks[size]))
    return table
