"""The tool-policy matrix on the AWS data plane, in one process: the authorizer and the router, with real servers.

Group x tool/prompt/resource x method x era x transport, against the conformance server hosted three ways (over
HTTP itself, SSE itself, and stdio behind our bridge as the stdio base image runs it). Each request goes through the
real authorizer logic (as API Gateway runs the uncached data-plane authorizer), its context mapped onto the identity
headers, and the router (`create_app`, the same DataPlane as the local gateway), as the official MCP Python SDK
client makes it. Zero unexpected allows or denies; and where each refusal came from: a 2026-07-28 client names its
tool in headers, so the authorizer refuses at the edge; a 2025 client names it only in the body, so the router does.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hosted_mcp.adapters.memory import InMemoryCallAudit, InMemoryServerStore
from hosted_mcp.auth import Authenticator, InMemoryApiKeyStore, RefreshingJwks
from hosted_mcp.logic.servers import create_server
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.domain import Caller
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp_gateway.call_metrics import CallMetrics
from hosted_mcp_gateway.call_recorder import CallRecorder
from hosted_mcp_gateway.calls import CallGate
from hosted_mcp_gateway.router import RouterSettings, create_app
from hosted_mcp_gateway.sealing import Sealer
from tests.support.edge import Edge, LoopbackServer, free_port
from tests.support.policy_matrix import (
    ALLOWED,
    GROUPS,
    MODERN,
    POLICY,
    Endpoint,
    differences,
    expected,
    matrix_cases,
    probe,
)
from tests.support.tokens import TestIdp

pytestmark = pytest.mark.slow

SERVER = Path(__file__).parents[1] / "servers" / "conformance_server.py"
ADMIN = Caller(username="admin", groups=("admin",), isAdmin=True)
HOSTINGS = ["http", "sse", "stdio"]


def launch(hosting: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if hosting == "stdio":
        command = [sys.executable, "-m", "hosted_mcp_bridge", "--port", str(port), "--host", "127.0.0.1"]
        command += ["--log-level", "warning", "--", sys.executable, str(SERVER)]
    else:
        env.update({"PORT": str(port), **({"MCP_TRANSPORT": "sse"} if hosting == "sse" else {})})
        command = [sys.executable, str(SERVER)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


class AwsDataPlane:
    def __init__(self, idp: TestIdp, store: InMemoryServerStore, edge: Edge, url: str, recorder: CallRecorder) -> None:
        self.idp, self.store, self.edge, self.url, self.recorder = idp, store, edge, url, recorder

    def endpoint(self, hosting: str) -> Endpoint:
        base = f"{self.url}/mcp/policy{hosting}"
        return Endpoint(url=f"{base}/mcp", sse_url=f"{base}/sse")

    def headers(self, caller: str) -> dict[str, str]:
        groups = ALLOWED[caller][0]
        token = self.idp.mint(caller.replace("+", "-"), groups)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsDataPlane]:
    idp = TestIdp()
    store = InMemoryServerStore()
    ports = {hosting: free_port() for hosting in HOSTINGS}
    processes = [launch(hosting, port) for hosting, port in ports.items()]
    try:
        for hosting, process in zip(HOSTINGS, processes, strict=True):
            wait_listening(ports[hosting], process)
            body = {
                "name": f"policy-{hosting}",
                "serverType": hosting,
                "startCommand": "python conformance_server.py",
                "groups": GROUPS,
                "toolPolicy": POLICY,
            }
            if hosting != "stdio":
                body["port"] = ports[hosting]
            record = create_server(store, CreateServerRequest.model_validate(body), ADMIN, now=datetime.now(UTC))
            move(store, record, ServerStatus.IN_SERVICE, actor="t", reason="ready", now=datetime.now(UTC))
        key = base64.b64encode(Sealer.generate_key()).decode()
        settings = RouterSettings.from_environ(
            {"SERVERS_TABLE_NAME": "t", "DISCOVERY_NAMESPACE": "hmcp.internal", "ROUTER_SEALING_KEY": key}
        )
        stdio_port = ports["stdio"]

        def read(name: str) -> object:
            record = store.get_by_name(name)
            if record is not None and record.spec.serverType.value == "stdio":  # the base image's proxy port
                return record.evolve(spec=record.spec.model_copy(update={"port": stdio_port}))
            return record

        recorder = CallRecorder(InMemoryCallAudit(), interval=3600)
        gate = CallGate(recorder=recorder, metrics=CallMetrics(keep_samples=True))
        router = create_app(settings, read, resolve=lambda host: ["127.0.0.1"], calls=gate)  # type: ignore[arg-type]
        authenticator = Authenticator(idp.settings(), RefreshingJwks(idp.source()), InMemoryApiKeyStore())
        edge = Edge(authenticator, store, router)
        with LoopbackServer(edge) as served:
            yield AwsDataPlane(idp, store, edge, served.url, recorder)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


CASES = matrix_cases(HOSTINGS)


@pytest.mark.parametrize(("hosting", "era", "transport", "caller"), CASES)
def test_every_call_and_list_obeys_the_policy_through_the_authorizer_and_the_router(
    aws: AwsDataPlane, hosting: str, era: str, transport: str, caller: str
) -> None:
    # Given a server whose tool policy gives each group its own tools, prompts and resources
    aws.edge.denied.clear()

    # When a caller's client tries every list, tool, prompt and resource
    observed = probe(aws.endpoint(hosting), aws.headers(caller), era, transport)

    # Then it is allowed exactly what its groups may use, and lists show exactly that
    assert differences(observed, expected(caller)) == []
    # And a 2026-07-28 call outside the policy was refused by the authorizer already; a 2025 one by the router
    refused_calls = sum(1 for key, value in observed.items() if value == "denied")
    assert len(aws.edge.denied) == (refused_calls if era == MODERN else 0)


def test_the_router_records_each_call_with_its_outcome(aws: AwsDataPlane) -> None:
    # Given the router's audit trail (DynamoDB's adapter behind the same port is tested on its own)
    record = aws.store.get_by_name("policyhttp")
    assert record is not None
    audit = aws.recorder.audit
    aws.recorder.flush()
    before = {c.id for c in audit.calls(record.id, 10_000).records}

    # When a 2025 client of group alpha makes an allowed and a refused call
    observed = probe(aws.endpoint("http"), aws.headers("alpha"), "legacy", "streamable")
    assert observed[("tools/call", "test_simple_text")] == "allowed"

    # Then the router recorded every call of the session, each with its caller and outcome
    aws.recorder.flush()
    new = [c for c in reversed(audit.calls(record.id, 10_000).records) if c.id not in before]
    tried = expected("alpha")
    assert [(c.method, c.name, c.outcome.value) for c in new] == [
        (method, name, "ok" if want == "allowed" else "denied")
        for (method, name), want in tried.items()
        if method in ("tools/call", "prompts/get", "resources/read")
    ]
    assert {(c.caller, c.credentialType) for c in new} == {("alpha", "jwt")}
