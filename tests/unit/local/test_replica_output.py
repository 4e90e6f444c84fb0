"""What a replica writes, without a process: pipes and a FIFO written by the test, the log file read back."""

from __future__ import annotations

import os
from pathlib import Path

from hosted_mcp_local.replica_output import (
    TAIL_BYTES,
    OutputReader,
    ProbeTraffic,
    ReplicaLog,
    redact,
    stderr_shim,
)


def a_log(tmp_path: Path, **kwargs: object) -> ReplicaLog:
    settings: dict = {"max_bytes": 1 << 20, "backups": 2} | kwargs
    return ReplicaLog(tmp_path / "replica-0.log", **settings)


def test_secrets_are_redacted_longest_first_and_short_values_are_left_alone() -> None:
    text = "token=abcd1234-extended; short=on; again abcd1234"
    assert redact(text, ["abcd1234", "abcd1234-extended", "on"]) == "token=***; short=on; again ***"


def test_the_last_lines_are_the_servers_own_bounded_and_redacted(tmp_path: Path) -> None:
    # Given a server that wrote a long traceback, and a wrapper that wrote its own lines after it
    log = a_log(tmp_path, secrets=["s3cr3t-value"])
    for index in range(60):
        log.write(f"  frame {index}".encode(), own=True)
    log.write(b"RuntimeError: DATABASE_URL=postgres://u:s3cr3t-value@db is unreachable", own=True)
    log.write(b"  + Exception Group Traceback (most recent call last):", own=False)
    # Then the reason's lines are the server's last five, the secret replaced, the wrapper's left out
    assert log.last_lines().splitlines() == [
        "  frame 56",
        "  frame 57",
        "  frame 58",
        "  frame 59",
        "RuntimeError: DATABASE_URL=postgres://u:***@db is unreachable",
    ]
    # And everything is in the file, as written
    assert "s3cr3t-value" in log.path.read_text()


def test_the_last_lines_never_exceed_their_byte_budget(tmp_path: Path) -> None:
    log = a_log(tmp_path)
    for _ in range(5):
        log.write(b"x" * 2000, own=True)
    assert len(log.last_lines()) <= TAIL_BYTES


def test_a_log_is_rotated_at_its_size_cap_keeping_the_backups_it_may(tmp_path: Path) -> None:
    # Given a cap of 4 KiB and two backups
    log = a_log(tmp_path, max_bytes=4096, backups=2)
    # When 20 KiB are written
    for index in range(200):
        log.write(f"{index:04d} ".encode() + b"y" * 95, own=True)
    log.close()
    # Then the current file and two backups are kept, each under the cap, the newest lines in the current file
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["replica-0.log", "replica-0.log.1", "replica-0.log.2"]
    assert all((tmp_path / name).stat().st_size <= 4096 for name in files)
    assert (tmp_path / "replica-0.log").read_text().splitlines()[-1].startswith("0199 ")


def test_probe_traffic_is_recognised_by_its_ports_and_sessions_and_nothing_else() -> None:
    noise = ProbeTraffic()
    noise.connected(45250)
    noise.session("26710110aed0443a96a6ed00cbc7afa6")
    assert noise.is_noise('INFO:     127.0.0.1:45250 - "POST /mcp HTTP/1.1" 200 OK')
    assert noise.is_noise("Created new transport with session ID: 26710110aed0443a96a6ed00cbc7afa6")
    assert not noise.is_noise('INFO:     127.0.0.1:45251 - "POST /mcp HTTP/1.1" 200 OK')
    assert not noise.is_noise("Processing request of type CallToolRequest")
    assert not noise.is_noise("listening on port 45250")  # a port alone, not a peer address


def test_probe_traffic_is_forgotten_after_a_while() -> None:
    now = [0.0]
    noise = ProbeTraffic(clock=lambda: now[0])
    noise.connected(45250)
    now[0] += 600
    assert not noise.is_noise('127.0.0.1:45250 - "POST /mcp HTTP/1.1" 200 OK')


def test_the_reader_keeps_probe_lines_out_and_tells_the_servers_lines_from_the_wrappers(tmp_path: Path) -> None:
    # Given a wrapped server: the wrapper writes to the pipe, the server's stderr goes to the FIFO
    log = a_log(tmp_path)
    noise = ProbeTraffic()
    fifo = tmp_path / "replica-0.stderr"
    os.mkfifo(fifo)
    pipe_read, pipe_write = os.pipe()
    reader = OutputReader(log, pipe_read, own_pipe=False, fifo=fifo, noise=noise)
    server = os.open(fifo, os.O_WRONLY)
    # When the probe's request shows up in the wrapper's log, a real caller's too, and the server writes a line
    noise.connected(51000)
    os.write(pipe_write, b'INFO: 127.0.0.1:51000 - "POST /mcp HTTP/1.1" 200 OK\n')
    os.write(pipe_write, b'INFO: 127.0.0.1:51001 - "POST /mcp HTTP/1.1" 200 OK\n')
    os.write(server, b"server: ready\nTraceback (most recent call last):\nValueError: bad input\n")
    os.close(server)
    os.close(pipe_write)
    # Then once the pipe ends everything is in the log but the probe's line, and the server's lines are its own
    assert reader.wait(5)
    written = log.path.read_text().splitlines()
    assert "server: ready" in written
    assert 'INFO: 127.0.0.1:51001 - "POST /mcp HTTP/1.1" 200 OK' in written
    assert not any("51000" in line for line in written)
    assert log.last_lines().splitlines() == [
        "server: ready",
        "Traceback (most recent call last):",
        "ValueError: bad input",
    ]


def test_the_shim_runs_the_command_itself_with_stderr_on_the_fifo(tmp_path: Path) -> None:
    command = stderr_shim(tmp_path / "f", ["python", "server.py", "--flag"])
    assert command[1:4] == ["-I", "-S", "-c"]
    assert command[5:] == [str(tmp_path / "f"), "python", "server.py", "--flag"]
