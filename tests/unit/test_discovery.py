"""Finding a server's tasks by their Cloud Map name, and the readiness probe that calls each of them directly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from hosted_mcp.adapters.discovery import TasksProbe, discovery_name, task_addresses, task_url
from hosted_mcp.adapters.mcp_probe import McpProbeError
from hosted_mcp.models.fields import ServerType
from tests.support.server_stacks import a_record, a_spec
from tests.unit.local.test_mcp_probe import FakeMcp

NAMESPACE = "hosted-mcp.internal"


class Tasks:
    """What Cloud Map answers, attempt after attempt, and what each task does when called."""

    def __init__(self, *answers: list[str], broken: frozenset[str] = frozenset()) -> None:
        self.answers = list(answers)
        self.broken = broken
        self.looked_up: list[str] = []
        self.called: list[str] = []
        self.slept: list[float] = []

    def resolve(self, host: str) -> list[str]:
        self.looked_up.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def check(self, url: str, server_type: ServerType, *, timeout: float) -> int:
        self.called.append(url)
        if any(f"//{address}:" in url for address in self.broken):
            raise McpProbeError("initialize answered HTTP 502")
        return 1

    def probe(self, attempts: int = 3) -> TasksProbe:
        return TasksProbe(NAMESPACE, resolve=self.resolve, check=self.check, attempts=attempts, sleep=self.slept.append)


def test_a_servers_tasks_are_named_after_its_id_in_the_namespace() -> None:
    assert discovery_name("3f5a9c0e", "hosted-mcp.internal") == "3f5a9c0e.hosted-mcp.internal"
    assert discovery_name("3f5a9c0e", "hosted-mcp.internal.") == "3f5a9c0e.hosted-mcp.internal"
    sse = a_record(a_spec(serverType="sse", port=9000))
    assert task_url("10.0.1.7", sse) == "http://10.0.1.7:9000/sse"
    assert task_url("10.0.1.7", a_record()) == "http://10.0.1.7:8080/mcp"


def test_every_registered_task_is_called_directly_on_the_servers_port() -> None:
    # Given a server with two healthy tasks registered
    tasks = Tasks(["10.0.2.9", "10.0.1.7"])
    record = a_record()
    # When the probe runs
    problem = tasks.probe().problem(record)
    # Then it looked the server up by name and proved each task answers MCP
    assert problem is None
    assert tasks.looked_up == [f"{record.id}.{NAMESPACE}"]
    assert sorted(tasks.called) == ["http://10.0.1.7:8080/mcp", "http://10.0.2.9:8080/mcp"]


def test_a_task_not_yet_registered_is_waited_for_by_looking_again() -> None:
    # Given a name that resolves to nothing at first (DNS not yet updated), then to the task
    tasks = Tasks([], ["10.0.1.7"])
    # When the probe runs, Then it looks again after a pause and the server is ready
    assert tasks.probe().problem(a_record()) is None
    assert len(tasks.looked_up) == 2
    assert tasks.slept == [5.0]


def test_a_task_that_does_not_answer_is_named_and_a_server_without_tasks_is_not_ready() -> None:
    # Given one of two tasks answering 502 on every attempt
    tasks = Tasks(["10.0.1.7", "10.0.2.9"], broken=frozenset({"10.0.2.9"}))
    # Then the server is not ready, and the reason says which task and why
    assert (
        tasks.probe().problem(a_record()) == "1 of 2 tasks do not answer MCP (10.0.2.9: initialize answered HTTP 502)"
    )
    assert len(tasks.looked_up) == 3
    # And a server whose name never resolves says so
    nobody = Tasks([])
    record = a_record()
    assert nobody.probe(attempts=2).problem(record) == f"no task is registered as {record.id}.{NAMESPACE}"


def test_a_task_stopped_between_attempts_no_longer_counts() -> None:
    # Given a failing task that a deployment replaces (it drops out of the name between attempts)
    tasks = Tasks(["10.0.1.7", "10.0.2.9"], ["10.0.1.7"], broken=frozenset({"10.0.2.9"}))
    # Then the server is ready once only answering tasks are registered
    assert tasks.probe().problem(a_record()) is None


@pytest.fixture
def loopback_task() -> Iterator[int]:
    FakeMcp.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeMcp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_the_probe_speaks_mcp_to_a_real_task(loopback_task: int) -> None:
    # Given a task (a small MCP server on loopback) that Cloud Map stands for with 127.0.0.1
    record = a_record(a_spec(serverType="http", port=loopback_task))
    probe = TasksProbe(NAMESPACE, resolve=lambda host: ["127.0.0.1"], attempts=1, timeout=2)
    # Then initialize, initialized and tools/list reached it, and it is ready
    assert probe.problem(record) is None
    assert [m for _, m, _ in FakeMcp.seen][:3] == ["initialize", "notifications/initialized", "tools/list"]


def test_a_name_that_does_not_resolve_has_no_address() -> None:
    assert task_addresses("no-such-task.invalid") == []
    assert "127.0.0.1" in task_addresses("localhost")
