"""Stopping or killing the platform loses nothing: records, audit, running servers, a server mid-Creating."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.platform import LocalPlatform, alive, call_tool, processes_in, stdio_greeter, wait_answering


def audit(platform: LocalPlatform, server_id: str) -> list[dict]:
    with platform.admin() as api:
        response = api.get(f"/mcp/{server_id}/audit")
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()["Items"]
    return items


def test_restart_loses_nothing_and_leaves_no_process_behind(tmp_path: Path) -> None:
    platform = LocalPlatform(tmp_path / "data")
    platform.data_dir.mkdir()
    platform.publish_examples()
    platform.start()
    try:
        # Given a running server, and a second one still Creating (it takes seconds to start)
        steady = platform.wait(platform.create(stdio_greeter("steady"))["id"])
        assert steady is not None
        history = audit(platform, steady["id"])
        first_run = processes_in(platform.workdir(steady["id"]))
        slow = platform.create(stdio_greeter("slow", environment={"GREETING": "Hey", "STARTUP_DELAY": "3"}))
        assert slow["status"] == "Creating"

        # When the platform is killed outright (no chance to clean up) and started again
        platform.crash()
        platform.start()

        # Then the processes of the killed run are gone, the record mid-Creating settles, and both servers answer
        # (the running one once it is restored: the platform opens before its servers are back)
        assert not any(alive(pid) for pid in first_run)
        settled = platform.wait(slow["id"])
        assert settled is not None
        token = platform.token("ada")
        wait_answering(steady["url"], token)
        assert call_tool(steady["url"], token, "greet", {"name": "Ada"}) == "Hello, Ada!"
        assert call_tool(settled["url"], token, "greet", {"name": "Ada"}) == "Hey, Ada!"
        # and nothing recorded before the crash was lost
        assert platform.get(steady["id"])["status"] == "InService"
        assert audit(platform, steady["id"])[: len(history)] == history
        assert [e["toStatus"] for e in audit(platform, slow["id"])] == ["Creating", "InService"]

        # When the platform is stopped gracefully, every process it started ends
        running = processes_in(platform.workdir(steady["id"])) + processes_in(platform.workdir(slow["id"]))
        assert running
        platform.stop()
        assert not any(alive(pid) for pid in running)

        # And after the next start the servers answer again
        platform.start()
        platform.wait(steady["id"])
        wait_answering(steady["url"], token)
        assert call_tool(steady["url"], token, "greet", {"name": "again"}) == "Hello, again!"

        # When it is stopped while the slow server's restore may still be starting, nothing outlives it either
        platform.stop()
        assert processes_in(platform.workdir(steady["id"])) + processes_in(platform.workdir(slow["id"])) == []
    finally:
        platform.stop()
