"""Know every call, on one machine: per-tool authorization, the call audit trail, call limits, metrics and traces,
through a real `hosted-mcp serve` with real servers and the official MCP Python SDK client.

The matrix: the conformance server hosted as stdio (behind the bridge), HTTP and SSE, with one tool policy for three
groups; four callers; 2025 and 2026-07-28 clients on streamable HTTP and the SSE transport; every list, tool, prompt
and resource tried, zero unexpected allows or denies. Then what a person sees: one allowed tool listed alone and a
clean error for the others, a policy changed with one update and obeyed by the next call, the audit trail of a
scripted session, 429 after the burst with nothing more reaching the server, the trace continued to the server.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from hosted_mcp_gateway.calls import FORBIDDEN, TOO_MANY_REQUESTS
from tests.e2e.platform import LocalPlatform
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

TESTS = Path(__file__).parents[1]
HOSTINGS: dict[str, dict[str, Any]] = {
    "stdio": {"serverType": "stdio"},
    "http": {"serverType": "http"},
    "sse": {"serverType": "sse", "environment": {"MCP_TRANSPORT": "sse"}},
}
TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"


@pytest.fixture(scope="module")
def artifacts(platform: LocalPlatform) -> None:
    shutil.copytree(TESTS / "servers", platform.data_dir / "artifacts" / "policy-servers", dirs_exist_ok=True)
    shutil.copytree(TESTS / "e2e" / "servers", platform.data_dir / "artifacts" / "witness", dirs_exist_ok=True)


def conformance(platform: LocalPlatform, name: str, hosting: str = "http", **fields: Any) -> dict[str, Any]:
    body = {"name": name, "s3Path": "policy-servers", "startCommand": "python conformance_server.py"}
    record = platform.wait(platform.create({**body, **HOSTINGS[hosting], **fields})["id"], timeout=120)
    assert record is not None
    return record


def witness(platform: LocalPlatform, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "serverType": "http", "startCommand": "python witness.py", "s3Path": "witness"}
    record = platform.wait(platform.create({**body, **fields})["id"])
    assert record is not None
    return record


@pytest.fixture(scope="module")
def hosted(platform: LocalPlatform, artifacts: None) -> dict[str, dict[str, Any]]:
    """The conformance server with the matrix's policy, once per server type."""
    created = {
        hosting: platform.create(
            {
                "name": f"policy-{hosting}",
                "s3Path": "policy-servers",
                "startCommand": "python conformance_server.py",
                "groups": GROUPS,
                "toolPolicy": POLICY,
                **body,
            }
        )
        for hosting, body in HOSTINGS.items()
    }
    records = {hosting: platform.wait(record["id"], timeout=120) for hosting, record in created.items()}
    return {hosting: record for hosting, record in records.items() if record is not None}


def bearer(platform: LocalPlatform, user: str, groups: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.token(user, groups or [])}"}


def session(url: str, headers: dict[str, str], mode: str, use: Callable[[Client], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=20) as http,
            Client(streamable_http_client(url, http_client=http), mode=mode) as client,
        ):
            return await use(client)

    return asyncio.run(asyncio.wait_for(run(), timeout=60))


def admin_json(platform: LocalPlatform, method: str, path: str, **kwargs: Any) -> Any:
    with platform.admin() as api:
        answer = api.request(method, path, **kwargs)
    assert answer.status_code < 300, answer.text
    return answer.json()


def calls_of(platform: LocalPlatform, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The server's data-plane audit trail, oldest first."""
    page = admin_json(platform, "GET", f"/mcp/{record['id']}/audit", params={"kind": "call", "limit": 1000})
    return list(reversed(page["Items"]))


# -- the matrix ------------------------------------------------------------------------------------------------

CASES = matrix_cases(HOSTINGS)


@pytest.mark.parametrize(("hosting", "era", "transport", "caller"), CASES)
def test_every_call_and_list_obeys_the_policy(
    platform: LocalPlatform, hosted: dict[str, dict[str, Any]], hosting: str, era: str, transport: str, caller: str
) -> None:
    # Given a server whose tool policy gives each group its own tools, prompts and resources
    record = hosted[hosting]

    # When a caller's client tries every list, tool, prompt and resource through the gateway
    headers = bearer(platform, caller.replace("+", "-"), ALLOWED[caller][0])
    observed = probe(Endpoint(record["url"], record["sseUrl"]), headers, era, transport)

    # Then it is allowed exactly what its groups may use, and its lists show exactly that
    assert differences(observed, expected(caller)) == []


# -- what a person sees ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", MODERN])
def test_a_user_allowed_one_tool_sees_only_it_and_a_clean_error_for_the_others(
    platform: LocalPlatform, hosted: dict[str, dict[str, Any]], mode: str
) -> None:
    # Given alpha's members may use one tool of the server
    async def use(client: Client) -> tuple[list[str], str, MCPError]:
        listed = [tool.name for tool in (await client.list_tools()).tools]
        allowed = await client.call_tool("test_simple_text", {})
        with pytest.raises(MCPError) as refused:
            await client.call_tool("test_image_content", {})
        return listed, allowed.content[0].text, refused.value  # type: ignore[union-attr]

    # When one of them lists the tools and calls one allowed and one not
    listed, text, refused = session(hosted["stdio"]["url"], bearer(platform, "ada", ["alpha"]), mode, use)

    # Then only that tool is listed, it answers, and the other is a JSON-RPC error the client shows
    assert listed == ["test_simple_text"]
    assert text == "This is a simple text response for testing."
    assert refused.code == FORBIDDEN
    assert "tool 'test_image_content'" in str(refused)
    assert "tool policy" in str(refused)


def test_an_admin_changes_the_policy_with_one_update_and_the_next_call_obeys(
    platform: LocalPlatform, artifacts: None
) -> None:
    # Given a running server whose policy lets everyone use one tool
    record = conformance(platform, "policy-live", toolPolicy={"*": {"tools": ["test_simple_text"]}})
    path = f"/mcp/{record['id']}"

    async def use(client: Client) -> tuple[str, str, dict[str, Any], str, int]:
        before = await _outcome(client, "test_image_content")
        # When an admin allows another tool (and no longer the first) with one update, during the session
        updated = await asyncio.to_thread(
            admin_json, platform, "PUT", path, json={"toolPolicy": {"*": {"tools": ["test_image_content"]}}}
        )
        # Then the very next calls obey the new policy
        after = await _outcome(client, "test_image_content")
        first = await _outcome(client, "test_simple_text")
        return before, after, updated, first, len((await client.list_tools()).tools)

    before, after, updated, first, listed = session(record["url"], bearer(platform, "ada"), "legacy", use)

    assert (before, after, first, listed) == ("denied", "allowed", "denied", 1)
    # And the server kept running: nothing was redeployed
    assert (updated["status"], updated["pendingChanges"]) == ("InService", None)
    assert platform.get(record["id"])["restarts"] == 0


async def _outcome(client: Client, tool: str) -> str:
    try:
        await client.call_tool(tool, {})
    except MCPError as error:
        return "denied" if error.code == FORBIDDEN else f"error {error.code}"
    return "allowed"


def test_the_audit_trail_holds_exactly_the_calls_of_a_session_in_order(
    platform: LocalPlatform, artifacts: None
) -> None:
    # Given a server whose policy allows some tools, one prompt and every resource
    policy = {
        "*": {"tools": ["test_simple_text", "test_error_handling", "no_such_tool"], "prompts": ["test_simple_prompt"]}
    }
    record = conformance(platform, "policy-audit", toolPolicy=policy)

    # When a scripted session makes its calls (and lists, which are no calls)
    async def script(client: Client) -> None:
        await client.list_tools()
        await client.call_tool("test_simple_text", {})
        with pytest.raises(MCPError):
            await client.call_tool("test_image_content", {})
        assert (await client.call_tool("test_error_handling", {})).is_error
        with pytest.raises(MCPError):
            await client.call_tool("no_such_tool", {})
        await client.get_prompt("test_simple_prompt", {})
        await client.read_resource("test://static-text")

    session(record["url"], bearer(platform, "auditor"), "legacy", script)
    key = admin_json(platform, "POST", "/api-keys", json={"name": "audit-bot", "groups": []})
    session(
        record["url"],
        {"Authorization": f"Bearer {key['apiKey']}"},
        MODERN,
        lambda c: c.call_tool("test_simple_text", {}),
    )

    # Then the trail holds exactly those calls, in order, with their outcomes, callers and sizes
    trail = calls_of(platform, record)
    assert [(c["method"], c["name"], c["outcome"], c["caller"], c["credentialType"]) for c in trail] == [
        ("tools/call", "test_simple_text", "ok", "auditor", "jwt"),
        ("tools/call", "test_image_content", "denied", "auditor", "jwt"),
        ("tools/call", "test_error_handling", "error", "auditor", "jwt"),
        ("tools/call", "no_such_tool", "error", "auditor", "jwt"),
        ("prompts/get", "test_simple_prompt", "ok", "auditor", "jwt"),
        ("resources/read", "test://static-text", "ok", "auditor", "jwt"),
        ("tools/call", "test_simple_text", "ok", key["owner"], "apiKey"),
    ]
    assert all(c["requestBytes"] > 0 and c["responseBytes"] > 0 for c in trail)
    assert all(re.fullmatch("[0-9a-f]{32}", c["traceId"]) for c in trail)
    # And never the arguments or the results
    assert "This is a simple text response" not in json.dumps(trail)


def test_a_429_after_the_burst_and_the_server_never_sees_the_excess(platform: LocalPlatform, artifacts: None) -> None:
    # Given a server that lets each caller make 3 requests at once, refilled at one per 100 seconds
    record = witness(platform, "policy-rate", callLimits={"ratePerSecond": 0.01, "burst": 3})
    headers = {**bearer(platform, "eager"), "MCP-Protocol-Version": "2025-06-18", "Accept": "application/json"}

    # When the caller sends five calls in a row
    answers = []
    with httpx.Client(timeout=10) as http:
        for n in range(5):
            message = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}
            answers.append(http.post(record["url"], json=message, headers=headers))

    # Then the burst passes and the rest is refused with Retry-After and a JSON-RPC error for each call
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert all(int(a.headers["retry-after"]) >= 1 for a in answers[3:])
    assert [a.json()["error"]["code"] for a in answers[3:]] == [TOO_MANY_REQUESTS, TOO_MANY_REQUESTS]
    assert [a.json()["id"] for a in answers[3:]] == [3, 4]
    # And the server saw exactly the three calls that passed
    bodies = (platform.workdir(record["id"]) / "bodies.log").read_text().splitlines()
    assert [json.loads(b)["id"] for b in bodies if '"tools/call"' in b] == [0, 1, 2]
    # And the refusals are in the audit trail and the metrics
    assert [c["outcome"] for c in calls_of(platform, record)] == ["ok", "ok", "ok", "limited", "limited"]
    with platform.admin() as api:
        metrics = api.get("/metrics").text
    assert 'hosted_mcp_requests_refused_total{server="policyrate",reason="rate"} 2' in metrics


def test_calls_over_the_replica_cap_wait_for_a_slot(platform: LocalPlatform, artifacts: None) -> None:
    # Given a server that runs one call at a time
    record = conformance(platform, "policy-cap", callLimits={"maxConcurrentPerReplica": 1})

    async def use(client: Client) -> tuple[int, str]:
        started = asyncio.Event()

        async def progress(value: float, total: float | None, message: str | None) -> None:
            started.set()

        # When a second call arrives while a long one is running
        long = asyncio.ensure_future(
            client.call_tool("slow_progress", {"steps": 3, "intervalMs": 200}, progress_callback=progress)
        )
        await started.wait()
        with pytest.raises(MCPError) as refused:
            await client.call_tool("test_simple_text", {})
        await long
        # Then it is refused; once the long call is over, the next one goes through
        after = await client.call_tool("test_simple_text", {})
        return refused.value.code, after.content[0].text  # type: ignore[union-attr]

    code, text = session(record["url"], bearer(platform, "busy"), "legacy", use)
    assert code == TOO_MANY_REQUESTS
    assert text == "This is a simple text response for testing."
    assert [c["outcome"] for c in calls_of(platform, record)] == ["ok", "limited", "ok"]


def test_the_callers_trace_continues_through_the_gateways_span_to_the_server(
    platform: LocalPlatform, artifacts: None
) -> None:
    # Given a server that records the headers it receives
    record = witness(platform, "policy-trace")
    headers = {**bearer(platform, "tracer"), "MCP-Protocol-Version": "2025-06-18", "Accept": "application/json"}
    headers["traceparent"] = f"00-{TRACE}-{CLIENT_SPAN}-01"

    # When a client in a trace calls a tool
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}
    assert httpx.post(record["url"], json=message, headers=headers, timeout=10).status_code == 200

    # Then the server sees the same trace, with the gateway's span as its parent
    heads = (platform.workdir(record["id"]) / "heads.log").read_text().lower()
    seen = re.findall(rf"traceparent: 00-{TRACE}-([0-9a-f]{{16}})-01", heads)
    assert len(seen) == 1
    assert seen[0] != CLIENT_SPAN
    # And the gateway's span is in the audit trail: the client's span its parent, the server's parent its own id
    (call,) = calls_of(platform, record)
    assert (call["traceId"], call["parentSpanId"], call["spanId"]) == (TRACE, CLIENT_SPAN, seen[0])


def test_metrics_count_calls_per_server_and_tool_for_admins_only(
    platform: LocalPlatform, hosted: dict[str, dict[str, Any]]
) -> None:
    # Given an allowed and a refused call through the gateway
    async def calls(client: Client) -> None:
        await client.call_tool("test_simple_text", {})
        assert await _outcome(client, "test_image_content") == "denied"

    session(hosted["http"]["url"], bearer(platform, "ada", ["alpha"]), "legacy", calls)

    # When a user and an admin read /metrics
    with httpx.Client(base_url=platform.url, timeout=10) as http:
        refused = http.get("/metrics", headers=bearer(platform, "ada", ["alpha"]))
    with platform.admin() as api:
        text = api.get("/metrics").text

    # Then only the admin gets them: calls by outcome, errors and latency per server and tool
    assert refused.status_code == 403
    ok = re.search(
        r'hosted_mcp_calls_total\{server="policyhttp",method="tools/call",name="test_simple_text",outcome="ok"\} (\d+)',
        text,
    )
    assert ok is not None
    assert int(ok.group(1)) >= 1
    assert (
        'hosted_mcp_call_duration_seconds_count{server="policyhttp",method="tools/call",name="test_simple_text"}'
        in text
    )
    assert re.search(
        r'hosted_mcp_calls_total\{server="policyhttp",method="tools/call",name="test_image_content",outcome="denied"\}',
        text,
    )


def test_the_cli_sets_a_policy_and_limits_and_reads_the_call_audit(
    platform: LocalPlatform,
    artifacts: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hosted_mcp_local import cli

    monkeypatch.setenv("HOSTED_MCP_URL", platform.url)
    monkeypatch.setenv("HOSTED_MCP_TOKEN", platform.token("root", admin=True))
    monkeypatch.setenv("HOSTED_MCP_CONFIG", str(tmp_path / "none.json"))
    record = conformance(platform, "policy-cli")
    capsys.readouterr()

    # When an admin sets a policy from a YAML file and limits from flags, in one update
    policy = tmp_path / "policy.yaml"
    policy.write_text("'*':\n  tools: [test_simple_text]\n")
    update = ["update", "policy-cli", "--tool-policy", str(policy), "--rate", "50", "--burst", "100", "--json"]
    assert cli.main(update) == cli.Exit.OK
    updated = json.loads(capsys.readouterr().out)
    assert updated["toolPolicy"] == {"*": {"tools": ["test_simple_text"]}}
    assert (updated["callLimits"]["ratePerSecond"], updated["callLimits"]["burst"]) == (50.0, 100)
    assert updated["status"] == "InService"

    # And a client makes an allowed and a refused call
    async def calls(client: Client) -> None:
        await client.call_tool("test_simple_text", {})
        assert await _outcome(client, "test_image_content") == "denied"

    session(record["url"], bearer(platform, "cli-user"), "legacy", calls)

    # Then the CLI shows the calls, newest first, and the status trail shows the change
    assert cli.main(["audit", "policy-cli", "--kind", "call"]) == cli.Exit.OK
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split()[:6] == ["AT", "CALLER", "CREDENTIAL", "METHOD", "NAME", "OUTCOME"]
    assert [row.split()[4:6] for row in rows[1:]] == [["test_image_content", "denied"], ["test_simple_text", "ok"]]
    assert cli.main(["audit", "policy-cli"]) == cli.Exit.OK
    assert "callLimits, toolPolicy changed" in capsys.readouterr().out
    # And a bad policy is refused naming the field, changing nothing
    with pytest.raises(SystemExit) as refused:
        cli.main(["update", "policy-cli", "--tool-policy", '{"*": {"tools": [""]}}'])
    assert refused.value.code == cli.Exit.API_ERROR
    assert "toolPolicy.*.tools.0" in capsys.readouterr().err
