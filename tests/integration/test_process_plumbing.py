"""Process plumbing against the real OS (short-lived `sleep` and Python processes, no servers): exits of processes
that are not our children are noticed, a tag reaches every process of a tree, the stderr shim keeps the pid."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from hosted_mcp_local.processes import PROCESS_TAG, ExitWatcher, alive, end, spawn, tagged_processes
from hosted_mcp_local.replica_output import OutputReader, ProbeTraffic, ReplicaLog, stderr_shim

# A parent that starts a grandchild in a session of its own (as a stdio wrapper may start its server), prints its pid
# and waits.
PARENT = (
    "import subprocess,sys,time\n"
    "child=subprocess.Popen(['sleep','60'],start_new_session=True)\n"
    "print(child.pid,flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_grandchild_in_a_session_of_its_own_is_tagged_watched_and_ended(tmp_path: Path) -> None:
    # Given a process started with a tag, which starts a grandchild outside its process group
    tag = f"test-{os.getpid()}-{threading.get_ident()}"
    process, pipe = spawn([sys.executable, "-c", PARENT], cwd=tmp_path, env={**os.environ, PROCESS_TAG: tag})
    grandchild = int(os.fdopen(pipe).readline())
    watcher = ExitWatcher()
    exited = threading.Event()
    try:
        # Then the grandchild carries the tag, and its exit is noticed although it is not our child
        assert set(tagged_processes(tag)) == {process.pid, grandchild}
        watcher.watch(grandchild, lambda pid: exited.set())
        os.kill(grandchild, 9)
        assert exited.wait(10)
        # And ending the tag ends the rest of the tree
        end(process, tag)
        assert not alive(process.pid)
        assert tagged_processes(tag) == []
    finally:
        watcher.close()
        if process.poll() is None:
            process.kill()


def test_watching_a_process_that_is_already_gone_reports_it_at_once() -> None:
    watcher = ExitWatcher()
    seen: list[int] = []
    try:
        watcher.watch(2**22 + 12345, seen.append)  # no such pid
        assert seen == [2**22 + 12345]
    finally:
        watcher.close()


def test_the_stderr_shim_runs_the_command_in_its_own_place_and_says_when_it_cannot(tmp_path: Path) -> None:
    # Given a FIFO the platform reads a server's stderr from
    fifo = tmp_path / "replica-0.stderr"
    os.mkfifo(fifo)
    log = ReplicaLog(tmp_path / "replica-0.log", max_bytes=1 << 20, backups=1)
    # When a command that prints its pid to stdout and a line to stderr runs through the shim
    script = "import os,sys; print(os.getpid(), flush=True); print('to stderr', file=sys.stderr)"
    process, pipe = spawn(stderr_shim(fifo, [sys.executable, "-c", script]), cwd=tmp_path, env=dict(os.environ))
    reader = OutputReader(log, pipe, own_pipe=False, fifo=fifo, noise=ProbeTraffic())
    process.wait(10)
    assert reader.wait(10)
    # Then the command ran as the very process we started (exec, no extra process), stdout on the pipe, stderr as
    # the server's own lines
    written = log.path.read_text().splitlines()
    assert written[0] == str(process.pid)
    assert log.last_lines() == "to stderr"

    # When the command does not exist, Then the shim says so where the server's stderr goes, and exits 127
    fifo.unlink()
    os.mkfifo(fifo)
    missing = ReplicaLog(tmp_path / "replica-1.log", max_bytes=1 << 20, backups=1)
    process, pipe = spawn(stderr_shim(fifo, ["no-such-server-binary"]), cwd=tmp_path, env=dict(os.environ))
    reader = OutputReader(missing, pipe, own_pipe=False, fifo=fifo, noise=ProbeTraffic())
    assert process.wait(10) == 127
    assert reader.wait(10)
    assert missing.last_lines() == "cannot run no-such-server-binary: No such file or directory"
