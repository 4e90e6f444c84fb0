"""The supervisor's rules that need no process: artifacts stay inside their directory, commands are never shell
strings, servers get their own environment (not the platform's), and images fail with the reason."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hosted_mcp.errors import DeploymentRejected
from hosted_mcp.models.domain import ServerRecord, ServerSpec
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_local import launch
from hosted_mcp_local.launch import container_runtime_problem
from hosted_mcp_local.supervisor import ProcessSupervisor


def supervisor(tmp_path: Path) -> ProcessSupervisor:
    return ProcessSupervisor(tmp_path, on_settled=lambda s: None)


def spec(**fields: object) -> ServerSpec:
    values: dict[str, object] = {"name": "x", "serverType": "stdio", "startCommand": "python server.py", "port": 8080}
    return ServerSpec.model_validate(values | fields)


def test_s3_path_resolves_under_the_artifact_directory(tmp_path: Path) -> None:
    backend = supervisor(tmp_path)
    (backend.artifacts_dir / "bucket" / "app").mkdir(parents=True)

    assert backend.artifact_source(spec(s3Path="s3://bucket/app")) == (backend.artifacts_dir / "bucket/app").resolve()


@pytest.mark.parametrize("path", ["bucket/../../etc", "../outside", "bucket/../.."])
def test_s3_path_cannot_escape_the_artifact_directory(tmp_path: Path, path: str) -> None:
    (tmp_path / "outside").mkdir()

    with pytest.raises(DeploymentRejected, match="outside the artifact directory"):
        supervisor(tmp_path).artifact_source(spec(s3Path=path))


def test_a_missing_artifact_is_rejected_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(DeploymentRejected, match="s3Path bucket/none not found"):
        supervisor(tmp_path).artifact_source(spec(s3Path="bucket/none"))


def test_stdio_servers_run_behind_the_bridge_with_the_command_split_not_shelled(tmp_path: Path) -> None:
    # Given a start command a shell would read as two commands, When it is made into a stdio replica's command line
    fifo = tmp_path / "replica-0.stderr"
    command = supervisor(tmp_path).command(spec(startCommand="python server.py --name 'a b'; rm -rf /"), 4321, fifo)

    # Then the platform's own interpreter runs the bridge (isolated, quiet: no log line per health check) with the
    # options AWS gives it too, and the server is split but never shelled, its stderr to the FIFO
    bridge, shim = command[: command.index("--") + 1], command[command.index("--") + 1 :]
    assert bridge == [
        *(sys.executable, "-I", "-m", "hosted_mcp_bridge"),
        *("--host", "127.0.0.1", "--port", "4321", "--child", "shared", "--max-sessions", "1000"),
        *("--log-level", "warning", "--"),
    ]
    assert shim[:4] == [sys.executable, "-I", "-S", "-c"]
    assert shim[5:] == [str(fifo), "python", "server.py", "--name", "a b;", "rm", "-rf", "/"]


def test_a_per_session_stdio_server_gets_a_child_per_session_bounded_by_its_memory() -> None:
    command = launch.command(spec(stdioChild="perSession", memoryLimitMiB=1024), 4321)

    options = command[: command.index("--")]
    assert options[options.index("--child") + 1] == "per-session"
    assert options[options.index("--max-sessions") + 1] == str(1024 // 96)
    assert command[command.index("--") + 1 :] == ["python", "server.py"]


def test_http_servers_run_their_command_with_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_SECRET", "do-not-leak")
    http = spec(serverType="http", port=8000, environment={"GREETING": "Hi"})

    env = launch.environment(http, server="greeter", replica=1, port=5555, tag="t", interpreter_dir="/opt/py/bin")

    assert launch.command(http, 5555) == ["python", "server.py"]
    assert env["PORT"] == "5555"
    assert env["GREETING"] == "Hi"
    assert env["HOSTED_MCP_REPLICA"] == "1"
    assert env["HOSTED_MCP_PROCESS"] == "t"
    assert "PLATFORM_SECRET" not in env
    assert env["PATH"].split(":")[0] == "/opt/py/bin"


def test_image_without_a_container_runtime_names_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")

    assert "container runtime" in container_runtime_problem()


def record_in(status: ServerStatus) -> ServerRecord:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return ServerRecord(
        id="abc", normalizedName="x", spec=spec(), status=status, owner="a", createdAt=now, updatedAt=now
    )


def test_a_running_record_with_no_process_and_nothing_under_way_has_lost_its_deployment(tmp_path: Path) -> None:
    backend = supervisor(tmp_path)
    try:
        # Given an InService record this platform never started (nothing restores it), Then it is lost
        assert (
            backend.loss(record_in(ServerStatus.IN_SERVICE)) == "no process runs for it: this platform never started it"
        )
        # And a Stopped one runs nothing by design
        assert backend.loss(record_in(ServerStatus.STOPPED)) is None
    finally:
        backend.close()


def test_a_record_whose_replicas_are_starting_is_not_judged_and_the_gateway_says_why(tmp_path: Path) -> None:
    backend = supervisor(tmp_path)
    try:
        # Given the platform restoring a server after a restart (its replicas not running yet)
        deployment = backend._deployment(record_in(ServerStatus.IN_SERVICE))
        deployment.restoring, deployment.busy = True, 1
        # Then the sweep leaves it alone, and a 503 says what is going on
        assert backend.loss(record_in(ServerStatus.IN_SERVICE)) is None
        assert backend.unavailable("abc") == "its replicas are starting again after a platform restart"
        # When the restore is over and nothing runs, Then it is lost, and the gateway says so
        deployment.restoring, deployment.busy = False, 0
        assert backend.loss(record_in(ServerStatus.IN_SERVICE)) == "none of its replicas is running"
        assert backend.unavailable("abc") == "no replica runs"
    finally:
        backend.close()


class Unstarted:
    """A replica whose process never started: enough for the set's stop path."""

    process = None
    tag = "t"

    def __init__(self, name: str) -> None:
        self.name = name
        self.halted = False
        self.log = self

    def halt(self) -> None:
        self.halted = True

    def finish(self, grace: float) -> None:
        pass

    def close(self) -> None:
        pass


def test_replicas_that_finish_starting_while_the_platform_closes_are_stopped_not_swapped_in(tmp_path: Path) -> None:
    # Given a server with a running replica, and a fresh set that finished starting just as the platform closes
    backend = supervisor(tmp_path)
    deployment = backend._deployment(record_in(ServerStatus.IN_SERVICE))
    running, fresh = Unstarted("running"), Unstarted("fresh")
    deployment.replicas = [running]  # type: ignore[list-item]
    backend.close()

    # When the fresh set is swapped in
    backend.sets.replace(deployment, [fresh], spec())  # type: ignore[list-item]

    # Then the closing platform stopped what ran, and the fresh set was stopped instead of kept
    assert running.halted
    assert fresh.halted
    assert deployment.replicas == []
