"""The tool policy, call limits and recent calls in the MCP Management page (headless Chromium, `hosted-mcp serve`)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from playwright.sync_api import expect

from tests.browser.conftest import GREETER, LocalPlatform
from tests.browser.pages import ManagementPage, server_named

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def admin_ui(page: Any, platform: LocalPlatform, screenshots: Path) -> ManagementPage:
    ui = ManagementPage(page, platform.url, screenshots)
    ui.sign_in(platform.token("alice", "engineering", admin=True))
    return ui


def outcomes(url: str, token: str, tools: list[str]) -> list[str]:
    """Each tool called once by the official MCP client: `ok`, or the JSON-RPC error code it got. (In a thread of
    its own: Playwright's sync API keeps an event loop running in this one.)"""

    async def run() -> list[str]:
        seen = []
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=20) as http,
            Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
        ):
            for tool in tools:
                try:
                    await client.call_tool(tool, {"text": "hi", "name": "Ada"})
                    seen.append("ok")
                except MCPError as error:
                    seen.append(str(error.code))
        return seen

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(asyncio.wait_for(run(), 30))).result()


def test_the_wizard_sets_a_tool_policy_and_limits_and_the_details_show_them_and_the_calls(
    admin_ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    ui = admin_ui
    name = f"Policied {unique}"

    # When an admin creates a server whose callers may use only `echo`, with a rate limit
    ui.toolbar_button("Create hosted MCP server").click()
    ui.field("Name").fill(name)
    ui.field("Start command").fill("python server.py")
    ui.field("Artifact path (optional)").fill(GREETER)
    ui.page.get_by_role("button", name="Add rule").click()
    ui.page.get_by_label("Rule 1: group").fill("*")
    ui.page.get_by_label("Rule 1: Tools", exact=True).select_option("some")
    ui.page.get_by_label("Rule 1: Tools allowed (comma-separated, * matches anything)").fill("echo")
    ui.page.get_by_label("Rule 1: Prompts", exact=True).select_option("none")
    ui.field("Requests per second, per caller (optional)").fill("50")
    ui.shot("wizard-tool-policy")
    for _ in range(3):
        ui.next_step()
    expect(ui.page.locator(".review")).to_contain_text("*: tools echo; no prompts; all resources")
    ui.page.get_by_role("button", name="Launch server").click()
    ui.wait_for_banner("create")

    # Then the API holds the policy as the wizard showed it, and the details page describes it
    created = server_named(platform.servers(), name)
    assert created is not None
    assert created["toolPolicy"] == {"*": {"tools": ["echo"], "prompts": []}}
    assert created["callLimits"]["ratePerSecond"] == 50
    expect(ui.page.locator('dd[data-key="Tool policy"]')).to_have_text("*: tools echo; no prompts; all resources")
    expect(ui.page.locator('dd[data-key="Call limits"]')).to_have_text("50/s per caller")

    # And when a user calls an allowed and a refused tool, the recent calls show both with their outcomes
    assert outcomes(created["url"], platform.token("ada"), ["echo", "greet"]) == ["ok", "-32003"]
    ui.page.get_by_role("button", name="Refresh calls").click()
    rows = ui.page.locator("table.calls tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("greet")
    expect(rows.first).to_have_attribute("data-outcome", "denied")
    expect(rows.last).to_have_attribute("data-outcome", "ok")
    ui.shot("server-recent-calls")

    # And when the admin allows greet in the edit form, the server keeps running and the next call obeys
    ui.page.get_by_role("toolbar", name="Server actions").get_by_role("button", name="Edit").click()
    ui.page.get_by_label("Rule 1: Tools allowed (comma-separated, * matches anything)").fill("echo, greet")
    ui.page.get_by_role("button", name="Save changes").click()
    ui.wait_for_banner("update")
    assert outcomes(created["url"], platform.token("ada"), ["greet"]) == ["ok"]
    assert server_named(platform.servers(), name)["status"] == "InService"  # type: ignore[index]


def test_a_bad_pattern_shows_the_apis_message_by_the_policy_and_creates_nothing(
    admin_ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    ui = admin_ui
    name = f"Bad policy {unique}"
    ui.toolbar_button("Create hosted MCP server").click()
    ui.field("Name").fill(name)
    ui.field("Start command").fill("python server.py")
    ui.page.get_by_role("radio", name="Only members of these identity-provider groups").check()
    ui.field("Groups (comma-separated)").fill("engineering")
    ui.page.get_by_role("button", name="Add rule").click()
    ui.page.get_by_label("Rule 1: group").fill("finance")  # not one of the server's groups
    for _ in range(3):
        ui.next_step()
    ui.page.get_by_role("button", name="Launch server").click()

    expect(ui.error_for("toolPolicy")).to_contain_text("group:finance is not one of the server's groups")
    assert server_named(platform.servers(), name) is None
