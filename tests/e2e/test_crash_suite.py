"""The crash and race suite (`python -m bench crash`), small enough for every CI run, its counts printed.

On demand, bigger: `HOSTED_MCP_CRASH_TRIALS=64 HOSTED_MCP_CRASH_ROUNDS=20 HOSTED_MCP_CRASH_FLEET=50` here, or
`python -m bench crash --trials 64 --rounds 20 --fleet 50`, which also saves its table under bench/results/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.crash import crash_report, tables


def setting(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def test_kill_9_at_random_points_races_and_a_fleet_all_hold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trials = setting("HOSTED_MCP_CRASH_TRIALS", 3)
    rounds = setting("HOSTED_MCP_CRASH_ROUNDS", 3)
    fleet = setting("HOSTED_MCP_CRASH_FLEET", 5)
    # Given a platform killed outright at random points of random operations, then started again; races on one
    # name and on one record; a fleet of servers created at once
    report = crash_report(tmp_path, trials=trials, rounds=rounds, fleet=fleet)
    with capsys.disabled():
        print("\n" + "\n\n".join(table.render() for table in tables(report)))
    # Then every trial held (stable records, the right processes and no other, audit chains, SQLite intact)
    assert [t.problems for t in report.trials if not t.held] == []
    # And every race had exactly one winner
    assert report.one_winner(report.name_races, {201}) == rounds
    assert report.one_winner(report.transition_races, {200, 202, 204}) == rounds
    # And the fleet converged
    assert report.converged_seconds is not None
