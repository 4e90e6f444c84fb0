"""`python -m bench [benchmark ...]`: run benchmarks, print their tables, save them under bench/results/.

Every benchmark measures its baseline in the same run and prints ours / baseline against the target: absolute
times drift on shared machines, ratios hold.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.stats import Table

BENCHMARKS = {
    "inservice": "bench.inservice",
    "gateway": "bench.gateway",
    "router": "bench.router",
    "coldstart": "bench.coldstart",
    "scale": "bench.scale",
    "cost": "bench.cost",
    "bridge": "bench.bridge",
    "crash": "bench.crash",
}
RESULTS = Path(__file__).parent / "results"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "benchmarks", nargs="*", help=f"which to run: {', '.join(BENCHMARKS)} (default: all)", metavar="NAME"
    )
    parser.add_argument("--runs", type=int, default=5, help="repetitions for timed start-ups (median reported)")
    parser.add_argument("--calls", type=int, default=300, help="tools/call requests per client and path")
    parser.add_argument("--seconds", type=float, default=20.0, help="time bound for each load phase")
    parser.add_argument("--sizes", default="10,1000,10000", help="stored servers for the scale benchmark")
    parser.add_argument("--trials", type=int, default=16, help="crash: kill -9 trials")
    parser.add_argument("--rounds", type=int, default=10, help="crash: rounds of each race")
    parser.add_argument("--fleet", type=int, default=20, help="crash: servers created at once to converge")
    parser.add_argument("--quick", action="store_true", help="fewer runs and calls, for a smoke check")
    parser.add_argument("--no-save", action="store_true", help="print only; do not write bench/results/")
    args = parser.parse_args(argv)
    unknown = set(args.benchmarks) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}")
    if args.quick:
        args.runs, args.calls, args.seconds, args.sizes = 2, 60, 5.0, "10,1000"
        args.trials, args.rounds, args.fleet = 3, 3, 5
    return args


def machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def save(name: str, tables: list[Table], command: str, elapsed: float) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"# {name}\n\n`{command}` on {stamp} ({machine()}), {elapsed:.0f} s\n\n"
    body = "\n\n".join(table.render() for table in tables)
    (RESULTS / f"{name}.md").write_text(header + body + "\n")
    payload = {"command": command, "at": stamp, "machine": machine(), "tables": [t.as_dict() for t in tables]}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    names = args.benchmarks or list(BENCHMARKS)
    options = [a for a in (sys.argv[1:] if argv is None else argv) if a not in BENCHMARKS]
    failed = []
    for name in names:
        command = " ".join(["python -m bench", name, *map(shlex.quote, options)])
        print(f"== {name} ==", flush=True)
        started = time.perf_counter()
        try:
            tables = importlib.import_module(BENCHMARKS[name]).run(args)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            print(f"{name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            failed.append(name)
            continue
        elapsed = time.perf_counter() - started
        for table in tables:
            print(table.render(), end="\n\n", flush=True)
        if not args.no_save:
            save(name, tables, command, elapsed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
