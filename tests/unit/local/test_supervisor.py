"""The supervisor's rules that need no process: artifacts stay inside their directory, commands are never shell
strings, servers get their own environment (not the platform's), and images fail with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from hosted_mcp.logic.reactions import DeploymentRejected
from hosted_mcp.models.domain import ServerSpec
from hosted_mcp_local.supervisor import LocalDeployment, ProcessSupervisor, Replica, container_runtime_problem


def supervisor(tmp_path: Path) -> ProcessSupervisor:
    return ProcessSupervisor(tmp_path, proxy_bin="/opt/proxy/mcp-proxy", on_settled=lambda s: None)


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


def test_stdio_servers_run_behind_mcp_proxy_with_the_command_split_not_shelled(tmp_path: Path) -> None:
    command = supervisor(tmp_path).command(spec(startCommand="python server.py --name 'a b'; rm -rf /"), 4321)

    assert command == [
        *("/opt/proxy/mcp-proxy", "--port", "4321", "--host", "127.0.0.1", "--pass-environment", "--"),
        *("python", "server.py", "--name", "a b;", "rm", "-rf", "/"),
    ]


def test_http_servers_run_their_command_with_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_SECRET", "do-not-leak")
    backend = supervisor(tmp_path)
    http = spec(serverType="http", port=8000, environment={"GREETING": "Hi"})
    replica = Replica(index=1, port=5555, log_path=tmp_path / "log", tag="t")
    deployment = LocalDeployment(server_id="id", name="greeter", home=tmp_path)

    env = backend.environment(deployment, http, replica)

    assert backend.command(http, 5555) == ["python", "server.py"]
    assert env["PORT"] == "5555"
    assert env["GREETING"] == "Hi"
    assert env["HOSTED_MCP_REPLICA"] == "1"
    assert "PLATFORM_SECRET" not in env
    assert env["PATH"].split(":")[0] == backend.interpreter_dir


def test_image_without_a_container_runtime_names_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")

    assert "container runtime" in container_runtime_problem()
