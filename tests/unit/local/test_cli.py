"""The CLI's own rules, without a platform: exit codes, apply-style updates, flags, wait, logs -f, token, serve."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import Any

import pytest

from hosted_mcp_local import cli
from hosted_mcp_local.cli.apply import field_sets, flag_changes, update_from_file
from hosted_mcp_local.cli.exits import MEANINGS, CliError, Exit
from hosted_mcp_local.cli.logs import new_lines
from hosted_mcp_local.cli.serve import listen
from hosted_mcp_local.cli.wait import Follower

SERVER: dict[str, Any] = {
    "id": "abc",
    "name": "greeter",
    "normalizedName": "greeter",
    "description": "one",
    "serverType": "stdio",
    "startCommand": "python server.py",
    "s3Path": "examples/greeter-stdio",
    "port": 8080,
    "cpu": 256,
    "environment": {"GREETING": "Hello", "TONE": "warm"},
    "groups": ["group:demo"],
    "autoScalingConfig": {"minCapacity": 1, "maxCapacity": 1, "targetValue": 80},
    "loadBalancerConfig": {"healthCheckConfig": {"path": "/status", "interval": 30, "timeout": 5}},
}
CREATE_FILE = {k: SERVER[k] for k in ("name", "description", "serverType", "startCommand", "s3Path", "environment")}


def exit_code(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        cli.main(args)
    return int(exited.value.code or 0)


def flags(**given: Any) -> argparse.Namespace:
    update_flags = ("env", "unset_env", "groups", "min_capacity", "max_capacity", "description")
    policy_flags = ("tool_policy", "rate", "burst", "max_concurrent", "audit_calls")
    defaults = dict.fromkeys((*update_flags, *policy_flags))
    return argparse.Namespace(**{**defaults, "replace_env": False, **given})


def test_every_exit_code_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    # When the help of the CLI and of a command is shown
    assert exit_code(["--help"]) == Exit.OK
    root_help = capsys.readouterr().out
    assert exit_code(["wait", "--help"]) == Exit.OK
    wait_help = capsys.readouterr().out

    # Then each lists every code of the one table with its meaning
    for code in Exit:
        assert f"  {int(code)}  {MEANINGS[code]}" in root_help
        assert f"  {int(code)}  {MEANINGS[code]}" in wait_help


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["--version"]) == Exit.OK
    assert capsys.readouterr().out.startswith("hosted-mcp ")


def test_the_create_file_as_is_changes_nothing() -> None:
    assert update_from_file(SERVER, dict(CREATE_FILE), "f.yaml") == {}


def test_only_the_fields_that_differ_are_sent_nested_ones_merged() -> None:
    # Given the create file with a new description, the same groups unprefixed, and one health-check key changed
    document = {
        **CREATE_FILE,
        "description": "two",
        "groups": ["demo"],
        "loadBalancerConfig": {"healthCheckConfig": {"interval": 10}},
    }

    # When / Then only the description and the whole merged health check are sent
    assert update_from_file(SERVER, document, "f.yaml") == {
        "description": "two",
        "loadBalancerConfig": {"healthCheckConfig": {"path": "/status", "interval": 10, "timeout": 5}},
    }


def test_what_cannot_change_is_refused_naming_each_field() -> None:
    document = {**CREATE_FILE, "startCommand": "python other.py", "serverType": "http", "description": "two"}
    with pytest.raises(CliError) as refused:
        update_from_file(SERVER, document, "f.yaml")
    assert refused.value.code == Exit.USAGE
    assert "serverType" in refused.value.message
    assert "startCommand" in refused.value.message
    assert "description" not in refused.value.message


def test_a_name_that_normalizes_the_same_is_the_same_server_and_unknown_fields_are_refused() -> None:
    assert update_from_file(SERVER, {**CREATE_FILE, "name": "Greeter"}, "f.yaml") == {}
    with pytest.raises(CliError, match="not fields of a server: colour"):
        update_from_file(SERVER, {**CREATE_FILE, "colour": "red"}, "f.yaml")


def test_fixed_and_updatable_fields_come_from_the_request_models() -> None:
    UPDATABLE, FIXED = field_sets()
    assert {"name", "serverType", "startCommand", "s3Path", "image", "port"} <= FIXED
    assert {"description", "environment", "groups", "autoScalingConfig", "enabled"} <= UPDATABLE
    assert not FIXED & UPDATABLE


def test_env_flags_set_and_unset_against_the_current_environment() -> None:
    body = flag_changes(SERVER, flags(env=[("GREETING", "Hey")], unset_env=["TONE"]), None)
    assert body == {"environment": {"GREETING": "Hey"}}
    assert flag_changes(SERVER, flags(env=[("GREETING", "Hello")]), None) == {}  # already so: nothing to send


def test_env_without_equals_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["update", "greeter", "--env", "NOEQUALS"]) == Exit.USAGE
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_unsetting_a_variable_the_server_lacks_is_an_error() -> None:
    with pytest.raises(CliError, match="has no variable NOPE"):
        flag_changes(SERVER, flags(unset_env=["NOPE"]), None)


def test_capacity_flags_keep_the_other_scaling_settings() -> None:
    body = flag_changes(SERVER, flags(min_capacity=2, max_capacity=3), None)
    assert body == {"autoScalingConfig": {"minCapacity": 2, "maxCapacity": 3, "targetValue": 80}}


def test_wait_refuses_an_unknown_status_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["wait", "greeter", "--for", "Runing"]) == Exit.USAGE
    assert "unknown status 'Runing'" in capsys.readouterr().err


def test_wait_takes_a_status_in_any_case() -> None:
    parsed = cli.app.parser().parse_args(["wait", "greeter", "--for", "inservice"])
    assert parsed.status == "InService"


@pytest.mark.parametrize(
    ("seen", "wanted", "code"),
    [
        ([("Creating", None), ("InService", None)], "InService", Exit.OK),
        ([("Updating", None), ("InService", "replica 0 never answered")], "InService", Exit.ROLLED_BACK),
        ([("Starting", None), ("Stopped", "exited with code 1")], "InService", Exit.ROLLED_BACK),
        ([("InService", "replica 0 exited with code 1; restarted")], "InService", Exit.OK),  # a restart: no change
        ([("Creating", None), ("Failed", "no such file")], "InService", Exit.FAILED),
        ([("Deleting", None), ("Deleted", None)], "Deleted", Exit.OK),
        ([("Updating", None)], "InService", None),
    ],
)
def test_wait_decides_from_the_statuses_it_sees(
    seen: list[tuple[str, str | None]], wanted: str, code: Exit | None, capsys: pytest.CaptureFixture[str]
) -> None:
    follower = Follower("greeter", wanted)
    results = [follower.seen(status, reason) for status, reason in seen]
    assert results[-1] == code
    assert all(result is None for result in results[:-1])


def test_a_rollback_seen_first_is_known_by_the_status_it_came_from() -> None:
    # Given wait starts after the update settled: the record is InService with lastError, entered from Updating
    follower = Follower("greeter", "InService")

    # When / Then it is a rollback, while the same record entered from Creating (then restarted) is not
    assert follower.seen("InService", "replica 0 never answered", came_from="Updating") == Exit.ROLLED_BACK
    assert Follower("greeter", "InService").seen("InService", "restarted", came_from="Creating") == Exit.OK


def test_logs_follow_prints_only_the_lines_after_the_overlap() -> None:
    assert new_lines(["a", "b", "c"], ["b", "c", "d", "e"]) == ["d", "e"]
    assert new_lines(["a", "b"], ["a", "b"]) == []
    assert new_lines(["x", "x"], ["x", "x", "x"]) == ["x"]
    assert new_lines(["a"], ["q", "r"]) == ["q", "r"]  # no overlap (rotated, or more than a window): all of it


class FlakyLogs:
    """The logs endpoint as `logs -f` sees it: the log, then the platform unreachable once, then a new line."""

    def __init__(self) -> None:
        self.answers: list[object] = [
            "[replica-0] started\n",  # --tail
            "[replica-0] started\n",  # what is seen before following
            CliError("cannot reach http://127.0.0.1:8765: timed out", Exit.UNREACHABLE),
            "[replica-0] started\n[replica-0] POST /mcp\n",
            KeyboardInterrupt(),
        ]

    def server(self, ref: str) -> dict[str, str]:
        return {"id": "abc"}

    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> object:
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_logs_follow_keeps_following_when_the_platform_is_unreachable_for_a_moment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a follower whose platform does not answer one of its looks
    from hosted_mcp_local.cli import logs

    monkeypatch.setattr(logs.Api, "of", staticmethod(lambda args: FlakyLogs()))
    monkeypatch.setattr(logs.time, "sleep", lambda seconds: None)

    # When it follows until interrupted
    with pytest.raises(KeyboardInterrupt):
        logs.cmd_logs(argparse.Namespace(server="greeter", tail=1, follow=True))

    # Then it said so on stderr, and printed the line that came next
    out, err = capsys.readouterr()
    assert out == "[replica-0] started\n[replica-0] POST /mcp\n"
    assert "timed out (still following)" in err


def test_token_refuses_a_data_directory_without_a_platform(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a directory where no platform ever ran
    empty = tmp_path / "not-a-platform"

    # When a token is asked for with it
    code = exit_code(["token", "--data-dir", str(empty), "--user", "ada"])

    # Then it refuses, says what to do, prints no token and creates no key
    assert code == Exit.USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no platform has run in" in captured.err
    assert not empty.exists()


def test_serve_refuses_a_port_in_use_with_its_own_code() -> None:
    # Given a port someone listens on
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]

        # When serve would listen there, Then it refuses with serve's own exit code
        with pytest.raises(CliError) as refused:
            listen("127.0.0.1", port)
    assert refused.value.code == Exit.SERVE_FAILED
    assert f"127.0.0.1:{port}" in refused.value.message
