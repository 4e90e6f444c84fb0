"""The gateway forwards exactly the path it authorized: no caller can write into a hosted server's request head.

Attack found by black-box testing: `%0D%0A` in the data-plane path decoded into the ASGI path, which the gateway
wrote into the upstream request line, so a caller could forge identity headers or smuggle a second request onto
a kept-alive connection (and swap answers with another user).
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from tests.e2e.platform import LocalPlatform, wait_until

SERVERS = Path(__file__).parent / "servers"
INITIALIZE = (
    b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
    b'"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
)


@pytest.fixture(scope="module")
def witness(platform: LocalPlatform) -> dict:
    shutil.copytree(SERVERS, platform.data_dir / "artifacts" / "servers", dirs_exist_ok=True)
    created = platform.create(
        {"name": "witness", "serverType": "http", "startCommand": "python witness.py", "s3Path": "servers"}
    )
    record = platform.wait(created["id"])
    assert record is not None
    return record


def raw_request(platform: LocalPlatform, target: str, token: str, body: bytes = INITIALIZE) -> bytes:
    """One request written byte for byte, as an attacker would; the whole answer the gateway gives."""
    head = (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{platform.port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", platform.port), timeout=10) as sock:
        sock.sendall(head + body)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def heads(platform: LocalPlatform, record: dict) -> bytes:
    log = platform.workdir(record["id"]) / "heads.log"
    return log.read_bytes() if log.exists() else b""


@pytest.mark.parametrize(
    "suffix",
    [
        "mcp%0D%0AX-Hosted-Mcp-User:%20admin%0D%0AX-Hosted-Mcp-Groups:%20[%22admin%22]%0D%0AX:",
        "mcp%20HTTP/1.1%0D%0AHost:%20x%0D%0A%0D%0APOST%20/mcp",
        "mcp%0AX-Hosted-Mcp-User:%20admin",
        "mcp%00",
    ],
)
def test_control_characters_in_the_path_are_refused_and_never_reach_the_server(
    platform: LocalPlatform, witness: dict, suffix: str
) -> None:
    # Given a user allowed to call the server, and what the server has seen so far
    token = platform.token("mallory", ["demo"])
    before = heads(platform, witness)

    # When they put CR, LF or NUL in the path, percent-encoded
    answer = raw_request(platform, f"/mcp/witness/{suffix}", token)

    # Then the gateway answers 400 itself, and the server saw nothing of it
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert heads(platform, witness) == before


def test_the_path_reaches_the_server_encoded_as_it_was_authorized(platform: LocalPlatform, witness: dict) -> None:
    # Given a caller's path with characters that mean something else once decoded (`#`, a space, `%`)
    token = platform.token("ada")
    before = len(heads(platform, witness))

    # When it is forwarded
    answer = raw_request(platform, "/mcp/witness/mcp/a%23b%20c%25d?x=%0D%0A", token)

    # Then the server gets the same path, percent-encoded, and the query exactly as sent
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    wait_until(lambda: len(heads(platform, witness)) > before, 10, "the server to log the request")
    request_line = heads(platform, witness)[before:].split(b"\r\n", 1)[0]
    assert request_line == b"POST /mcp/a%23b%20c%25d?x=%0D%0A HTTP/1.1"


def test_forged_identity_headers_are_replaced_by_the_gateways_own(platform: LocalPlatform, witness: dict) -> None:
    # Given a caller who sends identity headers of their own
    token = platform.token("mallory", ["demo"])
    before = len(heads(platform, witness))
    head = (
        f"POST /mcp/witness/mcp HTTP/1.1\r\nHost: 127.0.0.1:{platform.port}\r\nAuthorization: Bearer {token}\r\n"
        'X-Hosted-Mcp-User: admin\r\nX-Hosted-Mcp-Groups: ["admin"]\r\nContent-Type: application/json\r\n'
        f"Content-Length: {len(INITIALIZE)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", platform.port), timeout=10) as sock:
        sock.sendall(head + INITIALIZE)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")

    # Then the server sees exactly one of each, saying who really called
    wait_until(lambda: len(heads(platform, witness)) > before, 10, "the server to log the request")
    seen = heads(platform, witness)[before:].lower()
    assert seen.count(b"x-hosted-mcp-user:") == 1
    assert b"x-hosted-mcp-user: mallory\r\n" in seen
    assert seen.count(b"x-hosted-mcp-groups:") == 1
    assert b'x-hosted-mcp-groups: ["demo"]' in seen
