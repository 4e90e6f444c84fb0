"""`hosted-mcp` against a real `hosted-mcp serve`: what an operator does in a day, each finding of the day a test."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hosted_mcp_local import cli
from tests.e2e.platform import LocalPlatform, call_tool
from tests.support.lambdas import REPO_ROOT

HTTP_GREETER = {
    "name": "cli-greeter",
    "description": "one",
    "serverType": "http",
    "startCommand": "python server.py",
    "s3Path": "examples/greeter-http",
    "environment": {"GREETING": "Hi", "TONE": "warm"},
    "groups": ["demo"],
}


@pytest.fixture
def as_admin(platform: LocalPlatform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTED_MCP_URL", platform.url)
    monkeypatch.setenv("HOSTED_MCP_TOKEN", platform.token("root", admin=True))
    monkeypatch.setenv("HOSTED_MCP_CONFIG", str(tmp_path / "none.json"))


@pytest.fixture(scope="module")
def greeter(platform: LocalPlatform) -> dict:
    """An HTTP server of the group 'demo', InService."""
    record = platform.wait(platform.create(HTTP_GREETER)["id"])
    assert record is not None
    return record


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`hosted-mcp ARGS` in process: its exit code, stdout and stderr."""
    try:
        code = cli.main(args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_process(platform: LocalPlatform, *args: str, token: str | None = None) -> subprocess.Popen[bytes]:
    """`hosted-mcp ARGS` as its own process, as a shell pipeline runs it."""
    paths = [
        *(str(REPO_ROOT / p) for p in ("shared", "gateway", "local")),
        *filter(None, [os.environ.get("PYTHONPATH")]),
    ]
    env = {
        **os.environ,
        "HOSTED_MCP_URL": platform.url,
        "HOSTED_MCP_TOKEN": token or platform.token("root", admin=True),
        "PYTHONPATH": os.pathsep.join(paths),
    }
    command = [sys.executable, "-m", "hosted_mcp_local.cli", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def audit_length(platform: LocalPlatform, server_id: str) -> int:
    with platform.admin() as api:
        return len(api.get(f"/mcp/{server_id}/audit").json()["Items"])


def test_the_cli_manages_servers_with_tables_json_and_exit_codes(
    platform: LocalPlatform, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOSTED_MCP_URL", platform.url)
    monkeypatch.setenv("HOSTED_MCP_TOKEN", platform.token("root", admin=True))
    monkeypatch.setenv("HOSTED_MCP_CONFIG", str(tmp_path / "none.json"))
    request = tmp_path / "server.yaml"
    request.write_text(
        "name: cli-made\nserverType: http\nstartCommand: python server.py\ns3Path: examples/greeter-http\n"
    )

    # create -f YAML, then wait by name
    assert cli.main(["create", "-f", str(request)]) == cli.Exit.OK
    assert "status:       Creating" in capsys.readouterr().out
    assert cli.main(["wait", "cli-made", "--timeout", "90"]) == cli.Exit.OK
    assert "InService" in capsys.readouterr().out

    # list as a table for people and as JSON for scripts
    assert cli.main(["list"]) == cli.Exit.OK
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["NAME", "ID", "TYPE", "STATUS", "REPLICAS", "RESTARTS", "URL"]
    assert any(line.startswith("cli-made ") and "InService" in line for line in table.splitlines())
    assert cli.main(["get", "cli-made", "--json"]) == cli.Exit.OK
    assert json.loads(capsys.readouterr().out)["normalizedName"] == "climade"
    assert cli.main(["logs", "cli-made", "--tail", "5"]) == cli.Exit.OK
    assert "[replica-0]" in capsys.readouterr().out

    # exit codes scripts can rely on
    with pytest.raises(SystemExit) as missing:
        cli.main(["get", "no-such-server"])
    assert missing.value.code == cli.Exit.NOT_FOUND
    with pytest.raises(SystemExit) as refused:  # `list` now shows a non-admin their connections instead
        cli.main(["get", "cli-made", "--token", platform.token("ada")])
    assert refused.value.code == cli.Exit.AUTH

    # delete, then wait for it to be gone
    assert cli.main(["delete", "cli-made"]) == cli.Exit.OK
    assert cli.main(["wait", "cli-made", "--for", "Deleted", "--timeout", "60"]) == cli.Exit.OK


def test_update_from_the_create_file_sends_only_what_differs(
    platform: LocalPlatform, as_admin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a server created from a YAML file
    import yaml

    spec = {**HTTP_GREETER, "name": "applied"}
    create_file = tmp_path / "applied.yaml"
    create_file.write_text(yaml.safe_dump(spec))
    assert run(["create", "-f", str(create_file)], capsys)[0] == cli.Exit.OK
    record = platform.wait(platform.get_by_name("applied")["id"])
    assert record is not None
    written = audit_length(platform, record["id"])

    # When the same file is applied as an update, Then nothing is sent and nothing changes
    code, _, err = run(["update", "-f", str(create_file)], capsys)
    assert code == cli.Exit.OK
    assert "nothing to change" in err
    assert audit_length(platform, record["id"]) == written

    # When only the description differs in the file, Then only that is updated (environment and groups kept)
    create_file.write_text(yaml.safe_dump({**spec, "description": "two"}))
    code, out, _ = run(["update", "-f", str(create_file), "--json"], capsys)
    assert code == cli.Exit.OK
    assert json.loads(out)["status"] == "Updating"
    updated = platform.wait(record["id"])
    assert updated is not None
    assert updated["description"] == "two"
    assert updated["environment"] == spec["environment"]
    assert updated["groups"] == ["group:demo"]

    # When the file changes what cannot change once created, Then it is refused with the field named, and not sent
    before = audit_length(platform, record["id"])
    create_file.write_text(yaml.safe_dump({**spec, "description": "three", "startCommand": "python other.py"}))
    code, _, err = run(["update", "-f", str(create_file)], capsys)
    assert code == cli.Exit.USAGE
    assert "startCommand" in err
    assert "cannot change once a server is created" in err
    assert audit_length(platform, record["id"]) == before


def test_env_flags_set_and_unset_one_variable_and_refuse_a_name_without_value(
    platform: LocalPlatform, as_admin: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a server with GREETING and TONE
    record = platform.wait(platform.create({**HTTP_GREETER, "name": "envflags"})["id"])
    assert record is not None

    # When --env is given a bare name, Then it is a usage error and nothing is sent
    code, _, err = run(["update", "envflags", "--env", "NOEQUALS"], capsys)
    assert code == cli.Exit.USAGE
    assert "expected NAME=VALUE" in err

    # When one variable is unset and another set, Then exactly that changes
    assert run(["update", "envflags", "--unset-env", "TONE", "--env", "GREETING=Hey"], capsys)[0] == cli.Exit.OK
    updated = platform.wait(record["id"])
    assert updated is not None
    assert updated["environment"] == {"GREETING": "Hey"}

    # When a variable the server does not have is unset, Then that is said, not ignored
    code, _, err = run(["update", "envflags", "--unset-env", "NOPE"], capsys)
    assert code == cli.Exit.USAGE
    assert "has no variable NOPE" in err


def test_wait_exits_with_its_own_code_when_an_update_rolls_back(
    platform: LocalPlatform, as_admin: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stdio server, and an update that makes it fail at start
    body = {
        "name": "rollsback",
        "serverType": "stdio",
        "startCommand": "python server.py",
        "s3Path": "examples/greeter-stdio",
        "environment": {"GREETING": "Hello"},
    }
    record = platform.wait(platform.create(body)["id"])
    assert record is not None
    assert run(["update", "rollsback", "--env", "STARTUP_DELAY=not-a-number"], capsys)[0] == cli.Exit.OK

    # When waiting for it
    code, out, err = run(["wait", "rollsback", "--timeout", "90"], capsys)

    # Then wait reports the rollback, not success, and says why
    assert code == cli.Exit.ROLLED_BACK
    assert "InService" in out
    assert "did not apply" in err


def test_audit_shows_every_status_change(greeter: dict, as_admin: None, capsys: pytest.CaptureFixture[str]) -> None:
    # When an admin reads a server's audit trail
    code, out, _ = run(["audit", greeter["name"]], capsys)

    # Then each transition is a row, oldest first, with who made it
    assert code == cli.Exit.OK
    lines = out.splitlines()
    assert lines[0].split() == ["AT", "VERSION", "ACTOR", "FROM", "TO", "REASON"]
    assert [line.split()[3:5] for line in lines[1:3]] == [["-", "Creating"], ["Creating", "InService"]]
    code, out, _ = run(["audit", greeter["name"], "--json"], capsys)
    assert [e["toStatus"] for e in json.loads(out)][:2] == ["Creating", "InService"]


def test_api_keys_are_issued_listed_and_revoked(
    platform: LocalPlatform, greeter: dict, as_admin: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # When an admin issues a key for the group 'demo'
    code, out, err = run(["api-keys", "issue", "--name", "nightly-agent", "--groups", "demo"], capsys)
    assert code == cli.Exit.OK
    key = out.strip()
    assert key.startswith("hmk_")
    assert "shown once" in err

    # Then it calls the group's server, and the listing shows it active without its secret
    assert call_tool(greeter["url"], key, "greet", {"name": "agent"}) == "Hi, agent!"
    code, out, _ = run(["api-keys", "list", "--json"], capsys)
    [listed] = [k for k in json.loads(out) if k["name"] == "nightly-agent"]
    assert listed["state"] == "active"
    assert key not in out

    # When it is revoked, Then the listing says so
    assert run(["api-keys", "revoke", listed["keyId"]], capsys)[0] == cli.Exit.OK
    code, out, _ = run(["api-keys", "list"], capsys)
    [row] = [line for line in out.splitlines() if line.startswith(listed["keyId"])]
    assert "revoked" in row.split()


def test_a_non_admin_lists_the_servers_they_may_use(
    platform: LocalPlatform, greeter: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a user of the group 'demo' (no admin rights)
    user = ["--url", platform.url, "--token", platform.token("ada", ["demo"])]

    # When they run `list`, Then they see their connections (not a 403), and are told why the view differs
    code, out, err = run(["list", *user], capsys)
    assert code == cli.Exit.OK
    assert out.splitlines()[0].split() == ["NAME", "TYPE", "STATUS", "GROUPS", "URL"]
    assert any(line.split()[0] == greeter["name"] and greeter["url"] in line for line in out.splitlines())
    assert "not an admin" in err

    # And `connections` shows the same, with the token placeholder rather than their credential
    code, out, _ = run(["connections", "--json", *user], capsys)
    [mine] = [c for c in json.loads(out) if c["id"] == greeter["id"]]
    assert mine["customHeaders"]["Authorization"] == "Bearer {LISA_BEARER_TOKEN}"


def test_logs_follow_prints_what_the_server_writes_next(platform: LocalPlatform, greeter: dict) -> None:
    # Given `hosted-mcp logs -f` following the server
    follower = cli_process(platform, "logs", greeter["name"], "-f", "--tail", "1")
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(follower, lines), daemon=True).start()
    try:
        first = lines.get(timeout=30)  # the one line of --tail 1: the follower is reading
        assert first.startswith("[replica-0]")

        # When the server is called (it logs each request)
        assert call_tool(greeter["url"], platform.token("ada", ["demo"]), "greet", {"name": "f"}) == "Hi, f!"

        # Then the request's log line arrives on the follower's output
        try:
            assert any("POST /mcp" in line for line in _until(lines, lambda line: "POST /mcp" in line))
        except queue.Empty as silence:  # say why: the follower's own words
            follower.terminate()
            follower.wait(timeout=10)
            said = follower.stderr.read().decode(errors="replace") if follower.stderr else ""
            raise AssertionError(f"nothing new in 60 s (exit {follower.returncode}): {said}") from silence
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_a_closed_pipe_ends_the_cli_quietly(platform: LocalPlatform, greeter: dict) -> None:
    # Given `hosted-mcp list` whose reader has gone (as after `| head -1`)
    process = cli_process(platform, "list")
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()

    # When it writes its table, Then it ends with success and no traceback
    assert process.wait(timeout=30) == cli.Exit.OK
    assert process.stderr.read() == b""


def test_serve_on_a_port_in_use_fails_with_its_own_code_before_starting_anything(
    platform: LocalPlatform, tmp_path: Path
) -> None:
    # Given a platform already listening on its port
    data_dir = tmp_path / "second"

    # When a second platform is started on the same port
    second = cli_process(platform, "serve", "--port", str(platform.port), "--data-dir", str(data_dir))
    out, err = second.communicate(timeout=60)

    # Then it says why and exits with serve's own code, without claiming to run or touching its data directory
    assert second.returncode == cli.Exit.SERVE_FAILED
    assert b"cannot listen on 127.0.0.1" in err
    assert b"running at" not in out
    assert not data_dir.exists()


def _pump(process: subprocess.Popen[bytes], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        lines.put(raw.decode(errors="replace").rstrip("\n"))


def _until(lines: queue.Queue[str], wanted: object, timeout: float = 60) -> Iterator[str]:
    """Lines as they arrive, up to the first that `wanted` accepts (bounded: each line within `timeout`)."""
    assert callable(wanted)
    while True:
        line = lines.get(timeout=timeout)
        yield line
        if wanted(line):
            return
