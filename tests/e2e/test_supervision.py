"""No status without a process behind it, against a real `hosted-mcp serve`: what the supervisor does when servers
die, hang, crash-loop or do not come back after a platform restart, what it tells (the record, the audit trail,
events, failure reasons in the server's own words) and what it writes (logs without health-check noise, rotated).

The test servers are `tests/e2e/servers/moody.py` (its misbehaviour chosen by its environment) and the examples.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hosted_mcp_local.processes import data_dir_tag, tagged_processes
from tests.e2e.platform import (
    LocalPlatform,
    call_tool,
    entered,
    gateway_answer,
    processes_in,
    restarted,
    stdio_greeter,
    wait_answering,
    wait_until,
)

SERVERS = Path(__file__).parent / "servers"
SECRET = "s3cr3t-Value-42"
# At most 2 restarts within 2 minutes; logs rotated at 64 KiB with one backup.
SETTINGS = {
    "HOSTED_MCP_CRASH_LOOP_RESTARTS": "2",
    "HOSTED_MCP_CRASH_LOOP_WINDOW": "120",
    "HOSTED_MCP_LOG_MAX_BYTES": "65536",
    "HOSTED_MCP_LOG_BACKUPS": "1",
}
QUICK_CHECKS = {"interval": 5, "timeout": 2, "retries": 1, "startPeriod": 0}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    running = LocalPlatform(tmp_path_factory.mktemp("supervision") / "data", env=SETTINGS)
    running.data_dir.mkdir(parents=True)
    running.publish_examples()
    shutil.copytree(SERVERS, running.data_dir / "artifacts" / "servers")
    running.start()
    try:
        yield running
    finally:
        running.stop()
    # No orphan: every process the platform started ended with it, restarted and crash-looped ones included
    assert tagged_processes(f"{data_dir_tag(running.data_dir)}:") == []


def moody(name: str, environment: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "serverType": "stdio",
        "startCommand": "python moody.py",
        "s3Path": "servers",
        "environment": environment,
        **extra,
    }


def cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def count(platform: LocalPlatform, server_id: str, name: str) -> int:
    path = platform.workdir(server_id) / name
    return int(path.read_text() or 0) if path.exists() else 0


# -- exits and hangs ---------------------------------------------------------------------------------------------


def test_a_killed_stdio_server_behind_a_live_wrapper_is_restarted_at_once_not_after_checks(
    platform: LocalPlatform,
) -> None:
    # Given a stdio server with the default checks (every 30 s, 3 retries: ~90 s before checks alone would act)
    record = platform.wait(platform.create(stdio_greeter("watched"))["id"])
    assert record is not None
    assert (record["containerHealthCheckConfig"]["interval"], record["containerHealthCheckConfig"]["retries"]) == (
        30,
        3,
    )
    events = platform.follow(record["id"])
    [server] = [p for p in processes_in(platform.workdir(record["id"])) if cmdline(p)[:2] == [b"python", b"server.py"]]

    # When the server behind the bridge is killed (the bridge keeps running)
    killed_at = time.monotonic()
    os.kill(server, signal.SIGKILL)

    # Then the restart comes from watching that process, not from the 3 failed checks the interval would need
    restart = events.wait_for(restarted)
    detected = time.monotonic() - killed_at
    reason = restart["detail"]["reason"]
    assert reason.startswith(f"pid {server} (python server.py) of replica 0 exited; the replica no longer answers MCP")
    assert restart["detail"]["restarts"] == 1
    assert restart["detail"]["status"] == "InService"
    # And the record shows it, and the server answers again
    current = platform.get(record["id"])
    assert (current["status"], current["restarts"], current["lastError"]) == ("InService", 1, reason)
    wait_answering(record["url"], platform.token("ada"))
    assert call_tool(record["url"], platform.token("ada"), "greet", {"name": "again"}) == "Hello, again!"
    print(f"\nkilled stdio server behind the bridge: restart event {detected:.2f}s after the kill")
    events.close()


def test_a_hung_stdio_server_is_restarted_after_its_retries_within_the_bound(platform: LocalPlatform) -> None:
    # Given a stdio server checked every 5 s, 2 s per check, 2 failures in a row to restart: at most 5 * 2 + 2 * 2 s
    health = {"interval": 5, "timeout": 2, "retries": 2, "startPeriod": 0}
    record = platform.wait(platform.create(stdio_greeter("frozen") | {"containerHealthCheckConfig": health})["id"])
    assert record is not None
    events = platform.follow(record["id"])
    [server] = [p for p in processes_in(platform.workdir(record["id"])) if cmdline(p)[:2] == [b"python", b"server.py"]]

    # When the server behind the bridge hangs (alive, answering nothing)
    stopped_at = time.monotonic()
    os.kill(server, signal.SIGSTOP)

    # Then the failed checks restart it, with a reason that says so, and it answers again
    restart = events.wait_for(restarted)
    detected = time.monotonic() - stopped_at
    assert restart["detail"]["reason"].startswith("replica 0 failed 2 liveness check(s) in a row: ")
    wait_answering(record["url"], platform.token("ada"))
    print(f"\nhung stdio server (interval 5, timeout 2, retries 2; bound 14 s): restarted after {detected:.1f}s")
    events.close()


def test_after_a_restart_the_start_period_is_honoured_so_a_slow_server_is_restarted_once(
    platform: LocalPlatform,
) -> None:
    # Given a server that needs 4 s before it answers, checked every 5 s with one retry, with a 15 s start period
    health = {"interval": 5, "timeout": 2, "retries": 1, "startPeriod": 15}
    body = stdio_greeter("slowpoke", environment={"GREETING": "Hi", "STARTUP_DELAY": "4"})
    record = platform.wait(platform.create(body | {"containerHealthCheckConfig": health})["id"])
    assert record is not None
    events = platform.follow(record["id"])

    # When its process group dies
    running = processes_in(platform.workdir(record["id"]))
    [bridge] = [p for p in running if b"hosted_mcp_bridge" in b" ".join(cmdline(p))]
    os.kill(bridge, signal.SIGKILL)

    # Then it is restarted once and answers again: its slow start is not taken for failed checks
    events.wait_for(restarted)
    wait_answering(record["url"], platform.token("ada"))
    assert call_tool(record["url"], platform.token("ada"), "greet", {"name": "x"}) == "Hi, x!"
    assert platform.get(record["id"])["restarts"] == 1
    events.close()


# -- crash loops ---------------------------------------------------------------------------------------------------


def test_a_crash_loop_is_visible_then_ends_failed_with_the_servers_own_words(platform: LocalPlatform) -> None:
    # Given a server that serves, then crashes with a traceback two seconds later, every time
    created = platform.create(moody("crashy", {"CRASH_AFTER": "2", "REVEAL": "API_TOKEN", "API_TOKEN": SECRET}))
    events = platform.follow(created["id"])

    # When it keeps crashing
    failed_event = events.wait_for(entered("Failed"), timeout=120)

    # Then each restart was announced with the reason, in the server's own words
    restarts = [e for e in events.events if restarted(e)]
    assert [e["detail"]["restarts"] for e in restarts] == [1, 2]
    words = "RuntimeError: lost the connection to the upstream database (config: ***)"
    assert all(e["detail"]["reason"].endswith(words) for e in restarts)
    # And after the 2 restarts the settings allow, the record is Failed with a reason that says so
    record = platform.get(created["id"])
    assert record["status"] == "Failed"
    assert record["restarts"] == 2
    assert record["lastError"].startswith("crash loop: restarted 2 times within 120s; last: ")
    assert record["lastError"].endswith(words)
    assert SECRET not in record["lastError"]
    assert failed_event["detail"]["lastError"] == record["lastError"]
    # And the move is audited as the platform's, and nothing of it runs any more
    last = platform.audit(created["id"])[-1]
    assert (last["fromStatus"], last["toStatus"], last["actor"]) == ("InService", "Failed", "hosted-mcp")
    assert processes_in(platform.workdir(created["id"])) == []
    # And the gateway says what is true
    answer = gateway_answer(record["url"], platform.token("ada"))
    assert (answer.status_code, answer.json()["message"]) == (503, "Server crashy is Failed")
    events.close()


def test_a_server_that_fails_at_start_is_failed_with_its_last_lines_and_no_secret(platform: LocalPlatform) -> None:
    # Given a server that dies at start with a long traceback whose message would show a secret from its environment
    body = moody("brittle", {"FAIL_IF_EXISTS": "moody.py", "REVEAL": "API_TOKEN", "API_TOKEN": SECRET})
    created = platform.create(body)

    # When its creation fails
    record = platform.wait(created["id"], "Failed")

    # Then the reason quotes the server's own last lines (not the bridge's after them), the secret redacted
    assert record is not None
    reason = record["lastError"]
    assert reason.startswith("replica 0: exited with code 3 before answering MCP; its last output:\n")  # the bridge's
    assert reason.endswith("RuntimeError: cannot open the cache directory: permission denied (config: ***)")
    assert "hosted-mcp-bridge" not in reason
    assert SECRET not in reason
    assert len(reason.split("its last output:\n", 1)[1].splitlines()) <= 5
    # And the whole story is in the server's log
    log = platform.replica_log(created["id"]).read_text()
    assert "Traceback (most recent call last)" in log
    assert "the server process exited (code 1)" in log


def test_a_failed_server_is_fixed_by_an_update_and_runs_the_fix(platform: LocalPlatform) -> None:
    # Given a server whose creation failed (it refuses to start while the file it is told to check exists)
    created = platform.create(moody("fixable", {"FAIL_IF_EXISTS": "moody.py"}))
    failed = platform.wait(created["id"], "Failed")
    assert failed is not None
    events = platform.follow(created["id"])

    # When an admin fixes its configuration
    with platform.admin() as api:
        answer = api.put(f"/mcp/{created['id']}", json={"environment": {"FAIL_IF_EXISTS": "absent"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "Creating"

    # Then it is redeployed with the fix and answers
    record = platform.wait(created["id"])
    assert record is not None
    assert (record["status"], record["lastError"], record["environment"]) == (
        "InService",
        None,
        {"FAIL_IF_EXISTS": "absent"},
    )
    assert call_tool(record["url"], platform.token("ada"), "mood", {}) == "1"
    # And the way back is announced and audited like every transition, the redeploy with its own entry
    events.wait_for(entered("InService"))
    assert [(e["detail"]["fromStatus"], e["detail"]["toStatus"]) for e in events.events] == [
        ("Failed", "Creating"),
        ("Creating", "InService"),
    ]
    assert [(e["fromStatus"], e["toStatus"], e["actor"], e["reason"]) for e in platform.audit(created["id"])[-2:]] == [
        ("Failed", "Creating", "root", "redeploy requested"),
        ("Creating", "InService", "hosted-mcp", "1 replica(s) answer MCP"),
    ]
    events.close()


# -- a platform restart ------------------------------------------------------------------------------------------


def test_after_a_platform_restart_servers_restore_in_the_background_and_one_that_cannot_is_failed(
    tmp_path: Path,
) -> None:
    platform = LocalPlatform(tmp_path / "data")
    platform.data_dir.mkdir()
    platform.publish_examples()
    shutil.copytree(SERVERS, platform.data_dir / "artifacts" / "servers")
    platform.start()
    try:
        # Given three servers InService: one that will not start a second time, one slow to start, one ordinary
        once = platform.create(moody("once", {"FAIL_IF_EXISTS": "started", "REVEAL": "API_TOKEN", "API_TOKEN": SECRET}))
        slow = platform.create(
            stdio_greeter("tortoise", environment={"GREETING": "Hey", "STARTUP_DELAY": "12"})
            | {"containerHealthCheckConfig": {"startPeriod": 30, "interval": 5, "retries": 1, "timeout": 2}}
        )
        fine = platform.create(stdio_greeter("hare"))
        parked = platform.create(
            stdio_greeter("sloth", environment={"GREETING": "Hm", "STARTUP_DELAY": "12"})
            | {"containerHealthCheckConfig": {"startPeriod": 30}}
        )
        for server in (once, slow, fine, parked):
            platform.wait(server["id"])

        # When the platform is killed and started again
        platform.crash()
        platform.start()
        token = platform.token("ada")

        # Then the API answers at once, and the ordinary server answers while the slow one is still starting,
        # whose requests meanwhile get a 503 that says what is true
        assert platform.get(fine["id"])["status"] == "InService"
        wait_answering(fine["url"], token)
        waiting = gateway_answer(slow["url"], token)
        assert waiting.status_code == 503
        assert waiting.json()["message"] == (
            "Server tortoise is InService but its replicas are starting again after a platform restart"
        )
        assert "not InService" not in waiting.text
        # And a server stopped while it is still being restored ends Stopped with nothing running (the stop waits
        # for the restore, then undoes it)
        with platform.admin() as api:
            assert api.put(f"/mcp/{parked['id']}", json={"enabled": False}).status_code == 200
        assert platform.wait(parked["id"], "Stopped", timeout=90) is not None
        assert processes_in(platform.workdir(parked["id"])) == []
        # And the one that does not start again settles Failed, with the reason in its own words and an audit entry
        failed = platform.wait(once["id"], "Failed")
        assert failed is not None
        assert failed["lastError"].startswith("does not start again after a platform restart: replica 0: exited")
        assert failed["lastError"].endswith("permission denied (config: ***)")
        last = platform.audit(once["id"])[-1]
        assert (last["fromStatus"], last["toStatus"], last["actor"]) == ("InService", "Failed", "hosted-mcp")
        # And the slow one comes back within its start period, without a single restart
        wait_answering(slow["url"], token, timeout=90)
        assert call_tool(slow["url"], token, "greet", {"name": "x"}) == "Hey, x!"
        assert platform.get(slow["id"])["restarts"] == 0
        # And no secret reached the platform's own output
        platform.stop()
        assert SECRET not in platform.logs()
    finally:
        platform.stop()


# -- logs ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_liveness_checks_leave_no_line_in_the_servers_log_but_real_calls_do(
    platform: LocalPlatform, transport: str
) -> None:
    # Given a server checked every 5 s (HTTP: uvicorn logs every request and every session it opens)
    extra = {"serverType": "http"} if transport == "http" else {}
    body = moody(f"quiet{transport}", {}, containerHealthCheckConfig=QUICK_CHECKS, **extra)
    record = platform.wait(platform.create(body)["id"])
    assert record is not None
    log = platform.replica_log(record["id"])
    before = log.read_text()

    # When three liveness checks have reached the server itself (each asks it for tools/list), and a caller calls
    checked = count(platform, record["id"], "tools-list.count")
    wait_until(lambda: count(platform, record["id"], "tools-list.count") >= checked + 3, 60, "three checks")
    assert call_tool(record["url"], platform.token("ada"), "mood", {}) == "1"

    # Then the log grew only by the caller's lines: none of the checks' requests or sessions are there
    if transport == "http":
        wait_until(lambda: "Terminating session" in log.read_text()[len(before) :], 10, "the caller's session to end")
    added = log.read_text()[len(before) :].splitlines()
    if transport == "http":
        # one session opened and ended (the caller's), where each check alone opens and ends one
        assert sum("Created new transport with session ID" in line for line in added) == 1, added
        assert sum("Terminating session" in line for line in added) == 1, added
        assert sum('"DELETE /mcp HTTP/1.1"' in line for line in added) == 1, added
    else:
        assert added == [], added  # the bridge is quiet, and the server says nothing about tools/list


def test_a_chatty_replica_log_is_rotated_under_its_cap(platform: LocalPlatform) -> None:
    # Given logs capped at 64 KiB with one backup, When a server writes about 200 KiB at start
    record = platform.wait(platform.create(moody("chatty", {"CHATTER": "2500"}))["id"])
    assert record is not None
    logs = platform.replica_log(record["id"]).parent
    wait_until(lambda: "chatter line 002499" in (logs / "replica-0.log").read_text(), 10, "the last line to be in")
    # Then the current log and one backup are kept, each at most the cap, the latest lines in the current one
    assert sorted(p.name for p in logs.glob("replica-0.log*")) == ["replica-0.log", "replica-0.log.1"]
    assert all(p.stat().st_size <= 65536 for p in logs.glob("replica-0.log*"))
    assert "chatter line 002499" in (logs / "replica-0.log").read_text()
    assert "chatter line 000000" not in "".join(p.read_text() for p in logs.glob("replica-0.log*"))


# -- the platform's own output -----------------------------------------------------------------------------------


def test_the_platforms_own_output_is_json_lines_without_environment_values_or_credentials(
    platform: LocalPlatform,
) -> None:
    # Given everything this module did (servers failing with a secret in their environment, crash loops, restarts),
    # and a caller using a bearer token, an API key, and a wrong token
    record = platform.wait(platform.create(stdio_greeter("audited", environment={"GREETING": SECRET}))["id"])
    assert record is not None
    token = platform.token("ada")
    with platform.admin() as api:
        issued = api.post("/api-keys", json={"name": "agent", "groups": [], "expiresInDays": 1})
    assert issued.status_code == 201, issued.text
    key = issued.json()["apiKey"]
    assert call_tool(record["url"], token, "greet", {"name": "x"}) == f"{SECRET}, x!"
    assert call_tool(record["url"], key, "greet", {"name": "y"}) == f"{SECRET}, y!"
    assert gateway_answer(record["url"], token[:-4] + "AAAA").status_code == 401

    # When the platform's own output is read (stdout and stderr of `hosted-mcp serve`)
    assert platform.log is not None
    lines = [line for line in platform.log.read_text().splitlines() if line.strip()]

    # Then every line is a JSON object with a level and a message, and none shows a secret or a credential
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"level", "message"} <= set(entry), line
    output = "\n".join(lines)
    for secret in (SECRET, token, key, platform.token("root", admin=True)):
        assert secret not in output
