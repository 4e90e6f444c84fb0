"""The bridge as the one-machine platform runs it: stdio servers hosted behind it in either child mode (the record's
`stdioChild`), and clients reach every server→client message through the authenticating gateway at
/mcp/{name}/mcp and /mcp/{name}/sse."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.bridge.support import Peer, run, session, text_of
from tests.e2e.platform import LocalPlatform
from tests.support.lambdas import REPO_ROOT


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    """A platform with tests/servers as an artifact."""
    running = LocalPlatform(tmp_path_factory.mktemp("behind-gateway") / "data")
    running.data_dir.mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "tests" / "servers", running.data_dir / "artifacts" / "bridge" / "servers")
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module", params=["perSession", "shared"])
def companion(request: pytest.FixtureRequest, platform: LocalPlatform) -> dict:
    created = platform.create(
        {
            "name": f"companion-{request.param.lower()}",
            "serverType": "stdio",
            "startCommand": "python companion.py",
            "s3Path": "bridge/servers",
            "stdioChild": request.param,
            "environment": {"COMPANION_SETTING": "from the record"},
            "groups": ["demo"],
        }
    )
    record = platform.wait(created["id"])
    assert record is not None
    assert record["status"] == "InService", record
    return record


@pytest.mark.parametrize("transport", ["streamable", "sse"])
def test_server_messages_reach_the_client_through_the_gateway(
    platform: LocalPlatform, companion: dict, transport: str
) -> None:
    # Given a stdio server InService behind the bridge, and a group member
    headers = {"Authorization": f"Bearer {platform.token('ada', ['demo'])}"}
    url = companion["url"] if transport == "streamable" else companion["sseUrl"]
    ada = Peer("ada")
    seen: list[str] = []

    async def scenario() -> None:
        async with session(url, ada, transport=transport, headers=headers) as client:

            async def progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append(f"progress {progress:g}")

            # When tools report progress, log, sample, elicit and ask for roots, through the gateway
            seen.append(text_of(await client.call_tool("count", {"steps": 2}, progress_callback=progress)))
            seen.append(text_of(await client.call_tool("shout", {"text": "via gateway"})))
            seen.append(text_of(await client.call_tool("sample", {"prompt": "p"})))
            seen.append(text_of(await client.call_tool("ask", {"question": "q"})))
            seen.append(text_of(await client.call_tool("roots", {})))

    run(scenario())
    # Then progress arrived before its answer, and every server→client request round-tripped
    assert seen == [
        "progress 1",
        "progress 2",
        "counted 2",
        "shouted via gateway",
        "sampled by ada",
        "answer from ada",
        "file:///home/ada",
    ]
    assert ada.logs == ["via gateway"]


def test_the_bridge_reads_the_servers_environment(platform: LocalPlatform, companion: dict) -> None:
    # Given the server record's environment, which the platform hands to the bridge's process
    headers = {"Authorization": f"Bearer {platform.token('ada', ['demo'])}"}

    async def scenario() -> str:
        async with session(companion["url"], Peer("ada"), headers=headers) as client:
            return text_of(await client.call_tool("env", {"name": "COMPANION_SETTING"}))

    # Then the server under the bridge sees it too
    assert run(scenario()) == "from the record"
