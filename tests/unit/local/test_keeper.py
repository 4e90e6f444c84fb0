"""The keeper's rules, driven by a scripted replica and a fake clock: no process, no sleeping.

Each scripted step is what the replica's next `wait` returns (a wake-up, or the interval passing) and what the
keeper then finds (an exit code, the MCP call's answer). The keeper's loop runs on the test's thread until the
script ends (the replica is then stopped)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from hosted_mcp.models.domain import ContainerHealthCheckConfig
from hosted_mcp_local.keeper import CrashLoopPolicy, Keeper, Wake


@dataclass
class Step:
    wake: Wake | None = None  # None: the interval (or the start-period poll) passed
    exit_code: int | None = None
    problem: str | None = None  # what the MCP call says; None: it answers
    advance: float = 1.0  # seconds the fake clock moves during this step


@dataclass
class ScriptedReplica:
    steps: list[Step]
    clock: list[float]
    index: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    waited: list[float] = field(default_factory=list)
    relaunches: int = 0
    rewatches: int = 0
    checks: int = 0
    current: Step | None = None

    def wait(self, timeout: float) -> Wake | None:
        self.waited.append(timeout)
        if not self.steps:
            self.stop.set()
            return Wake.STOP
        self.current = self.steps.pop(0)
        self.clock[0] += self.current.advance
        return self.current.wake

    def exit_code(self) -> int | None:
        return self.current.exit_code if self.current else None

    def check(self) -> str | None:
        self.checks += 1
        return self.current.problem if self.current else None

    def relaunch(self) -> None:
        self.relaunches += 1

    def rewatch(self) -> None:
        self.rewatches += 1

    def exits(self) -> str:
        return "pid 42 (python server.py)"

    def last_output(self) -> str:
        return "RuntimeError: no database"


@dataclass
class Run:
    replica: ScriptedReplica
    restarts: list[str]
    gave_up: list[str]


def keep(
    steps: list[Step],
    *,
    interval: int = 30,
    retries: int = 3,
    start_period: int = 10,
    policy: CrashLoopPolicy | None = None,
) -> Run:
    clock = [1000.0]
    replica = ScriptedReplica(steps, clock)
    restarts: list[str] = []
    gave_up: list[str] = []
    health = ContainerHealthCheckConfig(interval=interval, retries=retries, startPeriod=start_period, timeout=5)
    # backoff 0 keeps the test from waiting; the backoff itself is tested on the policy
    keeper = Keeper(
        replica,
        health,
        policy=policy or CrashLoopPolicy(restarts=5, window=600, max_backoff=0),
        on_restart=restarts.append,
        on_give_up=gave_up.append,
        clock=lambda: clock[0],
    )
    keeper.run()
    return Run(replica, restarts, gave_up)


def test_a_replica_that_answers_is_checked_every_interval_and_left_alone() -> None:
    # Given a replica that answers every check
    run = keep([Step(), Step(), Step()], interval=30)
    # Then it was checked once per interval and never restarted
    assert run.replica.waited == [30.0, 30.0, 30.0, 30.0]
    assert run.replica.checks == 3
    assert run.restarts == []


def test_its_own_process_exiting_is_a_restart_at_once_with_the_servers_last_words() -> None:
    # When the replica's process exits (the keeper is woken, no interval passes)
    run = keep([Step(wake=Wake.EXITED, exit_code=1)])
    # Then it is restarted, and the reason quotes what the server wrote last
    assert run.replica.relaunches == 1
    assert run.restarts == ["replica 0 exited with code 1; its last output:\nRuntimeError: no database"]


def test_the_stdio_server_dying_behind_a_live_wrapper_is_checked_at_once_and_restarted() -> None:
    # When the server behind a wrapper exits (the wrapper itself keeps running) and the MCP call then fails
    run = keep([Step(wake=Wake.CHILD_EXITED, problem="tools/list answered error 0: no message")], retries=3)
    # Then the replica is restarted at once: one failed check is enough, retries are for hung replicas
    assert run.replica.relaunches == 1
    assert run.restarts[0].startswith(
        "pid 42 (python server.py) of replica 0 exited; the replica no longer answers MCP (tools/list answered"
    )


def test_a_process_that_ends_while_the_replica_still_answers_is_no_failure() -> None:
    # When a process of the replica exits but the replica answers (a bridge ends a session's server)
    run = keep([Step(wake=Wake.CHILD_EXITED), Step()])
    # Then nothing is restarted, and the processes running now are watched instead
    assert run.restarts == []
    assert run.replica.rewatches == 1


def test_a_hung_replica_is_restarted_after_retries_failed_checks_in_a_row() -> None:
    # Given three retries, When three checks in a row fail (the process is alive, it just does not answer)
    run = keep([Step(problem="no answer within 5s")] * 3, retries=3)
    # Then the third failure restarts it, not the first two
    assert run.replica.relaunches == 1
    assert run.restarts[0].startswith("replica 0 failed 3 liveness check(s) in a row: no answer within 5s")


def test_one_good_check_resets_the_count_of_failures() -> None:
    run = keep([Step(problem="slow"), Step(problem="slow"), Step(), Step(problem="slow"), Step(problem="slow")])
    assert run.restarts == []


def test_after_a_restart_failures_within_the_start_period_do_not_count() -> None:
    # Given a server that needs about 8 s to start, a start period of 10 s, one retry, checks every 5 s
    steps = [Step(wake=Wake.EXITED, exit_code=1)]
    steps += [Step(problem="connection refused", advance=0.25) for _ in range(30)]  # 7.5 s of start-up
    steps += [Step(advance=0.25), Step(), Step()]  # then it answers, and keeps answering
    run = keep(steps, interval=5, retries=1, start_period=10)
    # Then the one restart the crash asked for is the only one: the slow start is not taken for a failure
    assert run.replica.relaunches == 1
    # And it was polled quickly while starting, then at the interval again
    assert run.replica.waited[1:4] == [0.25, 0.25, 0.25]
    assert run.replica.waited[-2:] == [5.0, 5.0]
    # And once it answered, what it runs now is watched
    assert run.replica.rewatches == 1


def test_a_replica_still_not_answering_after_its_start_period_is_restarted_again() -> None:
    steps = [Step(wake=Wake.EXITED, exit_code=1)] + [Step(problem="connection refused", advance=1.0)] * 12
    run = keep(steps, interval=5, retries=1, start_period=10)
    assert run.replica.relaunches == 2


def test_a_crash_loop_is_given_up_with_the_reason_instead_of_restarted_forever() -> None:
    # Given at most 2 restarts within 60 s
    policy = CrashLoopPolicy(restarts=2, window=60, max_backoff=0)
    # When the replica keeps exiting, a few seconds apart
    crash = Step(wake=Wake.EXITED, exit_code=3, advance=5)
    run = keep([crash, crash, crash, crash], policy=policy)
    # Then it was restarted twice, and the third exit gave up with a reason that says so and quotes the server
    assert run.replica.relaunches == 2
    assert run.gave_up == [
        "crash loop: restarted 2 times within 60s; last: replica 0 exited with code 3; its last output:\n"
        "RuntimeError: no database"
    ]


def test_restarts_spread_wider_than_the_window_are_no_crash_loop() -> None:
    policy = CrashLoopPolicy(restarts=2, window=60, max_backoff=0)
    crash = Step(wake=Wake.EXITED, exit_code=3, advance=100)
    run = keep([crash, crash, crash, crash], policy=policy)
    assert run.replica.relaunches == 4
    assert run.gave_up == []


def test_the_backoff_grows_to_its_cap() -> None:
    policy = CrashLoopPolicy(max_backoff=30)
    assert [policy.backoff(n) for n in range(7)] == [0.0, 1.0, 3.0, 7.0, 15.0, 30.0, 30.0]
