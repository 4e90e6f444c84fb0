"""The one-machine platform end to end: servers created over REST, called through the gateway with the MCP SDK."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hosted_mcp_local import cli
from tests.e2e.platform import LocalPlatform, alive, call_tool, call_tools, processes_in, stdio_greeter, wait_until
from tests.support.lambdas import REPO_ROOT

FAST_LIVENESS = {"interval": 5, "timeout": 2, "retries": 1, "startPeriod": 0}


@pytest.fixture(scope="module")
def greeter(platform: LocalPlatform) -> dict:
    """A stdio server for the 'demo' group, InService."""
    created = platform.create(stdio_greeter("Greeter", groups=["demo"]))
    assert created["status"] == "Creating"
    record = platform.wait(created["id"])
    assert record is not None
    return record


def test_stdio_server_answers_over_streamable_http_and_sse(platform: LocalPlatform, greeter: dict) -> None:
    # Given a stdio server created over REST that reached InService behind the bridge
    token = platform.token("ada", ["demo"])

    # When a group member calls a tool through the gateway over each transport
    over_http = call_tool(greeter["url"], token, "greet", {"name": "Ada"})
    over_sse = call_tool(greeter["sseUrl"], token, "greet", {"name": "Ada"}, transport="sse")

    # Then both answers come from the hosted server
    assert over_http == "Hello, Ada!"
    assert over_sse == "Hello, Ada!"
    assert greeter["url"] == f"{platform.url}/mcp/greeter/mcp"


def test_http_server_answers_through_the_gateway(platform: LocalPlatform) -> None:
    # Given a streamable-HTTP server (the start command gets PORT), public to every authenticated caller
    created = platform.create(
        {
            "name": "greeter-http",
            "serverType": "http",
            "startCommand": "python server.py",
            "s3Path": "examples/greeter-http",
            "environment": {"GREETING": "Hi"},
        }
    )
    record = platform.wait(created["id"])
    assert record is not None

    # When anyone authenticated calls it
    answer = call_tool(record["url"], platform.token("someone"), "greet", {"name": "Bo"})

    # Then it answers
    assert answer == "Hi, Bo!"


def test_sse_server_answers_through_the_gateway(platform: LocalPlatform) -> None:
    # Given a server speaking only the SSE transport (its endpoint event names a path on the server itself)
    created = platform.create(
        {
            "name": "greeter-sse",
            "serverType": "sse",
            "startCommand": "python server.py",
            "s3Path": "examples/greeter-http",
            "environment": {"MCP_TRANSPORT": "sse", "GREETING": "Salut"},
        }
    )
    record = platform.wait(created["id"])
    assert record is not None

    # When a client follows the SSE URL, the gateway points it at its own message endpoint, and the call answers
    answer = call_tool(record["sseUrl"], platform.token("ada"), "greet", {"name": "Zoe"}, transport="sse")
    assert answer == "Salut, Zoe!"


def test_the_server_learns_who_calls_but_gets_the_token_only_by_opting_in(platform: LocalPlatform) -> None:
    # Given an HTTP server that reports what the gateway passed on
    created = platform.create(
        {"name": "witness", "serverType": "http", "startCommand": "python server.py", "s3Path": "examples/greeter-http"}
    )
    record = platform.wait(created["id"])
    assert record is not None
    token = platform.token("ada", ["demo", "research"])

    # When a caller uses it: the identity arrives in headers, the caller's token does not
    seen = json.loads(call_tool(record["url"], token, "caller", {}))
    assert seen == {"user": "ada", "groups": ["demo", "research"], "credentialType": "jwt", "receivedToken": False}

    # When the server opts in, the token is passed through
    with platform.admin() as api:
        assert api.put(f"/mcp/{record['id']}", json={"forwardCallerToken": True}).status_code == 200
    platform.wait(record["id"])
    assert json.loads(call_tool(record["url"], token, "caller", {}))["receivedToken"] is True


def test_registry_server_is_hosted_and_called(platform: LocalPlatform, time_server: Path) -> None:
    # Given mcp-server-time from PyPI, a stdio server run behind the bridge
    created = platform.create({"name": "time", "serverType": "stdio", "startCommand": f"{time_server}"})
    record = platform.wait(created["id"])
    assert record is not None

    # When its tool is called through the gateway over streamable HTTP and SSE
    token = platform.token("ada")
    over_http = call_tool(record["url"], token, "get_current_time", {"timezone": "UTC"})
    over_sse = call_tool(record["sseUrl"], token, "get_current_time", {"timezone": "UTC"}, transport="sse")

    # Then it answers with the time in UTC
    assert '"timezone": "UTC"' in over_http or '"timezone":"UTC"' in over_http
    assert "UTC" in over_sse


def test_credentials_and_groups_decide_who_may_call(platform: LocalPlatform, greeter: dict) -> None:
    url = greeter["url"]
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    accept = {"Accept": "application/json, text/event-stream"}

    # No credential: 401 with a challenge
    anonymous = httpx.post(url, json=initialize, headers=accept)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")

    # A user outside the server's groups: 403
    outsider = platform.token("eve", ["finance"])
    denied = httpx.post(url, json=initialize, headers={**accept, "Authorization": f"Bearer {outsider}"})
    assert denied.status_code == 403

    # A member: 200 and an MCP session
    member = platform.token("ada", ["demo"])
    allowed = httpx.post(url, json=initialize, headers={**accept, "Authorization": f"Bearer {member}"})
    assert allowed.status_code == 200
    assert allowed.headers.get("mcp-session-id")

    # A token from another issuer key is not a credential here
    forged = httpx.post(url, json=initialize, headers={**accept, "Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401


def test_unknown_server_is_404_for_admins_403_for_others_and_foreign_host_is_refused(
    platform: LocalPlatform,
) -> None:
    token = platform.token("ada")
    auth = {"Authorization": f"Bearer {token}"}
    # An unknown name answers like a server the caller may not use: names cannot be probed
    assert httpx.post(f"{platform.url}/mcp/nosuchserver/mcp", json={}, headers=auth).status_code == 403
    # An admin, who may list every server anyway, is told plainly that there is no such server
    with platform.admin() as api:
        missing = api.post(f"{platform.url}/mcp/nosuchserver/mcp", json={})
    assert missing.status_code == 404
    assert missing.json()["code"] == "NotFound"
    rebinding = httpx.post(f"{platform.url}/mcp/greeter/mcp", json={}, headers={**auth, "Host": "evil.example"})
    assert rebinding.status_code == 421
    cross_origin = httpx.post(
        f"{platform.url}/mcp/greeter/mcp", json={}, headers={**auth, "Origin": "http://evil.example"}
    )
    assert cross_origin.status_code == 403


def test_stop_answers_503_and_start_brings_it_back(platform: LocalPlatform) -> None:
    # Given a running server
    record = platform.wait(platform.create(stdio_greeter("stopper"))["id"])
    assert record is not None
    token = platform.token("ada")
    processes = processes_in(platform.workdir(record["id"]))
    assert processes

    # When it is stopped
    with platform.admin() as api:
        assert api.put(f"/mcp/{record['id']}", json={"enabled": False}).status_code == 200
    platform.wait(record["id"], "Stopped")

    # Then its processes are gone and the gateway answers 503 with Retry-After
    assert not any(alive(pid) for pid in processes)
    refused = httpx.post(record["url"], json={}, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) > 0

    # When it is started again, it answers again
    with platform.admin() as api:
        assert api.put(f"/mcp/{record['id']}", json={"enabled": True}).status_code == 200
    platform.wait(record["id"])
    assert call_tool(record["url"], token, "greet", {"name": "again"}) == "Hello, again!"


def test_environment_update_is_visible_to_the_tool(platform: LocalPlatform) -> None:
    record = platform.wait(platform.create(stdio_greeter("envy"))["id"])
    assert record is not None
    token = platform.token("ada")
    assert call_tool(record["url"], token, "greet", {"name": "Ada"}) == "Hello, Ada!"

    with platform.admin() as api:
        updated = api.put(f"/mcp/{record['id']}", json={"environment": {"GREETING": "Bonjour"}})
    assert updated.status_code == 200
    assert updated.json()["status"] == "Updating"
    platform.wait(record["id"])

    assert call_tool(record["url"], token, "greet", {"name": "Ada"}) == "Bonjour, Ada!"


def test_delete_removes_server_processes_and_working_directory(platform: LocalPlatform) -> None:
    record = platform.wait(platform.create(stdio_greeter("doomed"))["id"])
    assert record is not None
    workdir = platform.workdir(record["id"])
    processes = processes_in(workdir)
    assert processes

    with platform.admin() as api:
        assert api.delete(f"/mcp/{record['id']}").status_code == 200
    platform.wait(record["id"], "Deleted")

    token = platform.token("ada")
    assert httpx.post(record["url"], json={}, headers={"Authorization": f"Bearer {token}"}).status_code == 403
    with platform.admin() as api:
        assert api.get(f"/mcp/{record['id']}").status_code == 404
        assert api.post(record["url"], json={}).status_code == 404
    assert not any(alive(pid) for pid in processes)
    assert not workdir.parent.exists()


def test_killed_server_process_is_restarted_within_the_liveness_interval(platform: LocalPlatform) -> None:
    # Given a stdio server checked every 5 s, one failure being enough to restart it
    body = stdio_greeter("fragile", containerHealthCheckConfig=FAST_LIVENESS)
    record = platform.wait(platform.create(body)["id"])
    assert record is not None
    token = platform.token("ada")
    assert call_tool(record["url"], token, "greet", {"name": "x"}) == "Hello, x!"

    # When the server process behind the bridge dies (the bridge itself keeps running)
    replica_processes = processes_in(platform.workdir(record["id"]))
    children = [pid for pid in replica_processes if _cmdline(pid).split(b"\0")[:2] == [b"python", b"server.py"]]
    assert len(children) == 1
    os.kill(children[0], signal.SIGKILL)

    # Then the supervisor notices (the process is watched; a real MCP call confirms), restarts it, and the record
    # shows the restart and why
    wait_until(lambda: platform.get(record["id"])["restarts"] >= 1, 40, "the restart to be recorded")
    current = platform.get(record["id"])
    assert current["status"] == "InService"
    assert current["lastError"].startswith(f"pid {children[0]} (python server.py) of replica 0 exited")
    wait_until(lambda: _answers(record["url"], token), 30, "the restarted server to answer")


def test_two_replicas_keep_each_session_on_one_replica(platform: LocalPlatform) -> None:
    body = stdio_greeter("twins", autoScalingConfig={"minCapacity": 2, "maxCapacity": 2})
    record = platform.wait(platform.create(body)["id"])
    assert record is not None
    token = platform.token("ada")

    sessions = [call_tools(record["url"], token, [("whoami", {})] * 4) for _ in range(4)]

    for answers in sessions:
        assert len(set(answers)) == 1, answers  # every call of a session lands on the replica that created it
    replicas = {answers[0].split()[0] for answers in sessions}
    assert replicas == {"replica=0", "replica=1"}  # and sessions are spread over both


def test_image_without_container_runtime_fails_with_the_reason(platform: LocalPlatform) -> None:
    created = platform.create(
        {"name": "boxed", "serverType": "http", "startCommand": "serve", "image": "example/mcp:1"}
    )
    with pytest.raises(AssertionError, match="container runtime"):
        platform.wait(created["id"])
    assert platform.get(created["id"])["status"] == "Failed"


def test_events_stream_and_logs_are_available_to_admins(platform: LocalPlatform, greeter: dict) -> None:
    with platform.admin() as api:
        logs = api.get(f"/mcp/{greeter['id']}/logs", params={"tail": 50})
    assert logs.status_code == 200
    token = platform.token("ada", ["demo"])
    assert httpx.get(f"{platform.url}/events", headers={"Authorization": f"Bearer {token}"}).status_code == 403


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _answers(url: str, token: str, greeting: str = "Hello") -> bool:
    try:
        return call_tool(url, token, "greet", {"name": "back"}) == f"{greeting}, back!"
    except Exception:
        return False


def test_the_web_ui_is_served_at_the_root_when_installed(platform: LocalPlatform) -> None:
    index = REPO_ROOT / "local" / "hosted_mcp_local" / "web" / "index.html"
    if not index.exists():
        pytest.skip("the web UI is not in this tree")
    page = httpx.get(f"{platform.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


def test_an_api_key_calls_servers_of_its_groups_until_revoked(platform: LocalPlatform, greeter: dict) -> None:
    # Given an API key an admin issued for an agent in the 'demo' group
    with platform.admin() as api:
        issued = api.post("/api-keys", json={"name": "agent", "groups": ["demo"], "expiresInDays": 1})
    assert issued.status_code == 201, issued.text
    key = issued.json()["apiKey"]

    # When the agent calls the server with it, it answers (as X-Api-Key too)
    assert call_tool(greeter["url"], key, "greet", {"name": "agent"}) == "Hello, agent!"
    headers = {"X-Api-Key": key, "Accept": "application/json, text/event-stream"}
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    assert httpx.post(greeter["url"], json=initialize, headers=headers).status_code == 200

    # When the key is revoked, it no longer gets in
    with platform.admin() as api:
        assert api.delete(f"/api-keys/{issued.json()['keyId']}").status_code == 200
    assert httpx.post(greeter["url"], json=initialize, headers=headers).status_code == 401


def test_events_follow_status_changes_as_they_happen(platform: LocalPlatform) -> None:
    # Given `hosted-mcp events --json` following the platform
    env = {**os.environ, "HOSTED_MCP_URL": platform.url, "HOSTED_MCP_TOKEN": platform.token("root", admin=True)}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO_ROOT / p) for p in ("shared", "gateway", "local"))
    follower = subprocess.Popen(
        [sys.executable, "-m", "hosted_mcp_local.cli", "events", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert follower.stderr is not None
        assert follower.stderr.readline().startswith(b"following status events")  # subscribed
        # When a server is created
        created = platform.create(stdio_greeter("watched"))
        # Then its transitions arrive in order, each as one JSON line
        seen = []
        assert follower.stdout is not None
        for line in follower.stdout:
            detail = json.loads(line)["detail"]
            if detail["serverId"] == created["id"]:
                seen.append(detail["toStatus"])
            if detail["toStatus"] in ("InService", "Failed") and detail["serverId"] == created["id"]:
                break
        assert seen == ["Creating", "InService"]
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_an_exited_server_is_restarted_at_once_not_at_the_next_check(platform: LocalPlatform) -> None:
    # Given an HTTP server with the default liveness interval (30 s)
    created = platform.create(
        {"name": "crashy", "serverType": "http", "startCommand": "python server.py", "s3Path": "examples/greeter-http"}
    )
    record = platform.wait(created["id"])
    assert record is not None
    assert record["containerHealthCheckConfig"]["interval"] == 30
    [server] = processes_in(platform.workdir(record["id"]))

    # When its process dies
    os.kill(server, signal.SIGKILL)

    # Then it is restarted well before the next periodic check would have noticed, and answers again
    wait_until(lambda: platform.get(record["id"])["restarts"] >= 1, 20, "the restart to be recorded")
    wait_until(lambda: _answers(record["url"], platform.token("ada"), "Hello"), 30, "the server to answer")


def test_an_update_that_does_not_start_rolls_back_and_the_old_config_keeps_answering(platform: LocalPlatform) -> None:
    record = platform.wait(platform.create(stdio_greeter("steadfast"))["id"])
    assert record is not None
    token = platform.token("ada")

    # When an update makes the server fail at start
    with platform.admin() as api:
        bad = {"environment": {"GREETING": "Broken", "STARTUP_DELAY": "not-a-number"}}
        assert api.put(f"/mcp/{record['id']}", json=bad).status_code == 200
    rolled_back = platform.wait(record["id"], expect=cli.Exit.ROLLED_BACK)

    # Then the record is back InService with the real reason, the old configuration, and the old replicas answering
    assert rolled_back is not None
    assert rolled_back["lastError"]
    assert rolled_back["environment"] == {"GREETING": "Hello"}
    assert [e["toStatus"] for e in _audit(platform, record["id"])][-2:] == ["Updating", "InService"]
    assert call_tool(record["url"], token, "greet", {"name": "Ada"}) == "Hello, Ada!"


def _audit(platform: LocalPlatform, server_id: str) -> list[dict]:
    with platform.admin() as api:
        items: list[dict] = api.get(f"/mcp/{server_id}/audit").json()["Items"]
    return items
