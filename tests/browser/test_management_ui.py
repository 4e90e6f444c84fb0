"""The MCP Management page in headless Chromium against `hosted-mcp serve`: what an admin and a user see and do."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import GREETER, LocalPlatform
from tests.browser.pages import ManagementPage, server_named

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def ui(page: Any, platform: LocalPlatform, screenshots: Path) -> ManagementPage:
    return ManagementPage(page, platform.url, screenshots)


@pytest.fixture
def admin_ui(ui: ManagementPage, platform: LocalPlatform) -> ManagementPage:
    ui.sign_in(platform.token("alice", "engineering", admin=True))
    return ui


def test_wizard_creates_a_stdio_server_and_the_page_follows_it_to_in_service(
    ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    # Given an admin on the sign-in page, which says how to get a token
    ui.page.goto(f"{platform.url}/")
    expect(ui.page.get_by_text("hosted-mcp token --user")).to_be_visible()
    ui.shot("sign-in", full_page=False)
    ui.sign_in(platform.token("alice", "engineering", admin=True))
    name = f"Greeter {unique}"

    # When they go through the wizard: details, scaling (only valid sizes offered), health checks, review
    ui.toolbar_button("Create hosted MCP server").click()
    ui.field("Name").fill(name)
    ui.field("Description (optional)").fill("Greets people")
    ui.page.get_by_role("radio", name="Only members of these identity-provider groups").check()
    ui.field("Groups (comma-separated)").fill("engineering")
    expect(ui.field("Server type")).to_have_value("stdio")
    ui.field("Start command").fill("python server.py")
    ui.field("Artifact path (optional)").fill(GREETER)
    ui.page.get_by_role("button", name="Add variable").click()
    ui.page.get_by_label("Variable 1 name").fill("GREETING")
    ui.page.get_by_label("Variable 1 value").fill("Hello")
    ui.page.get_by_role("button", name="Add variable").click()
    ui.page.get_by_label("Variable 2 name").fill("STARTUP_DELAY")  # slow to start: long enough to watch Creating
    ui.page.get_by_label("Variable 2 value").fill("4")
    ui.shot("wizard-details")
    ui.next_step()

    ui.field("CPU units").select_option("512")
    memory_offered = ui.field("Memory").locator("option").evaluate_all("options => options.map(o => o.value)")
    assert memory_offered == ["1024", "2048", "3072", "4096"]
    ui.field("Memory").select_option("2048")
    ui.field("Maximum tasks").fill("2")
    ui.shot("wizard-scaling")
    ui.next_step()

    expect(ui.field("Path")).to_have_value("/mcp")
    expect(ui.page.get_by_text("Default 30").first).to_be_visible()
    ui.shot("wizard-health-checks")
    ui.next_step()
    expect(ui.page.get_by_role("heading", name="Step 4 of 4: Review and launch")).to_be_visible()
    ui.page.get_by_text("Request body").click()
    ui.shot("wizard-review")
    ui.page.get_by_role("button", name="Launch server").click()

    # Then the details page shows the server in progress, and the banner follows it until it answers MCP
    expect(ui.page.get_by_role("heading", name=name, level=1)).to_be_visible()
    creating = ui.page.locator('.page-head .status[data-status="Creating"]')
    expect(creating.locator(".spinner")).to_be_visible()
    expect(ui.banner("create")).to_have_class("banner info")
    ui.shot("server-creating", full_page=False)
    banner = ui.wait_for_banner("create")
    expect(banner).to_contain_text(f"“{name}” created.")
    expect(ui.page.locator(".page-head .status")).to_have_attribute("data-status", "InService")
    expect(ui.page.locator(".mcp-url")).to_have_text(f"{platform.url}/mcp/greeter{unique}/mcp")
    snippet = json.loads(ui.page.locator(f"#snippet-greeter{unique}").inner_text())
    assert snippet["mcpServers"][f"greeter{unique}"]["url"] == f"{platform.url}/mcp/greeter{unique}/mcp"
    audit = ui.page.locator("table.audit tbody tr")
    expect(audit.last).to_contain_text("InService")
    ui.shot("server-details")

    # And the API holds exactly what the wizard showed
    created = server_named(platform.servers(), name)
    assert created is not None
    assert (created["cpu"], created["memoryLimitMiB"]) == (512, 2048)
    assert created["autoScalingConfig"]["maxCapacity"] == 2
    assert created["groups"] == ["group:engineering"]
    assert created["environment"] == {"GREETING": "Hello", "STARTUP_DELAY": "4"}

    # And the table lists it with its columns
    ui.open_table()
    ui.wait_for_status(name, "InService")
    expect(ui.row(name).locator("td[data-col=stack_name]")).not_to_be_empty()
    expect(ui.row(name).locator("td[data-col=groups]")).to_have_text("engineering")
    ui.shot("servers-table")


def test_a_bad_memory_value_shows_the_apis_message_next_to_the_field_and_creates_nothing(
    admin_ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    ui = admin_ui
    name = f"Oversized {unique}"
    ui.toolbar_button("Create hosted MCP server").click()
    ui.field("Name").fill(name)
    ui.field("Start command").fill("python server.py")
    ui.next_step()

    # Given a memory value the page would never offer (a stale or tampered form), for cpu 256
    ui.field("Memory").evaluate("select => { select.append(new Option('3000 MiB', '3000')); select.value = '3000'; }")
    ui.next_step()
    ui.next_step()

    # When the admin launches
    ui.page.get_by_role("button", name="Launch server").click()

    # Then the wizard returns to the scaling step and shows the API's own message beside Memory
    error = ui.error_for("memoryLimitMiB")
    expect(error).to_be_visible()
    expect(error).to_contain_text("3000 MiB is not a valid Fargate size for cpu 256")
    expect(ui.page.get_by_role("heading", name="Step 2 of 4: Scaling")).to_be_visible()
    expect(ui.field("Memory")).to_have_attribute("aria-invalid", "true")
    expect(ui.field("Memory")).to_be_focused()
    ui.shot("wizard-field-error")

    # And nothing was created
    assert server_named(platform.servers(), name) is None
    expect(ui.page.locator("#banners .banner")).to_have_count(0)


def test_edit_scaling_applies_through_the_api_and_the_banner_follows_it(
    admin_ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    ui = admin_ui
    name = f"Scalable {unique}"
    created = platform.create(name)
    ui.open_table()
    ui.wait_for_status(name, "InService")

    # When the admin edits the server's scaling from the table
    ui.select(name)
    ui.toolbar_button("Edit").click()
    expect(ui.page.get_by_role("heading", name=f"Edit {name}")).to_be_visible()
    expect(ui.field("Name")).to_have_count(0)  # fixed once created: not offered
    ui.field("Maximum tasks").fill("3")
    ui.field("CPU units").select_option("1024")
    expect(ui.field("Memory")).to_have_value("2048")
    ui.shot("edit-server")
    ui.page.get_by_role("button", name="Save changes").click()

    # Then the banner follows the update to its end and the details show the new configuration
    expect(ui.wait_for_banner("update")).to_contain_text("updated")
    expect(ui.page.locator('dd[data-key="Tasks"]')).to_have_text("1 to 3")
    expect(ui.page.locator('dd[data-key="CPU / memory"]')).to_have_text("1024 / 2048 MiB")
    updated = server_named(platform.servers(), name)
    assert updated is not None
    assert updated["id"] == created["id"]
    assert updated["autoScalingConfig"]["maxCapacity"] == 3
    assert (updated["cpu"], updated["memoryLimitMiB"]) == (1024, 2048)
    assert updated["status"] == "InService"


def test_stop_then_start_from_the_table(admin_ui: ManagementPage, platform: LocalPlatform, unique: str) -> None:
    ui = admin_ui
    name = f"Pausable {unique}"
    platform.create(name)
    ui.open_table()
    with ui.page.expect_response(lambda response: response.url.endswith("/events")) as stream:
        ui.page.reload()
    assert stream.value.status == 200  # the table follows the platform's status events
    assert stream.value.headers["content-type"].startswith("text/event-stream")
    ui.wait_for_status(name, "InService")

    # When the admin stops it (a confirmation first: clients lose access)
    ui.select(name)
    expect(ui.toolbar_button("Start")).to_be_disabled()
    ui.toolbar_button("Stop").click()
    ui.confirm("Stop")

    # Then the row goes through Stopping to Stopped and the banner says so
    expect(ui.wait_for_banner("stop")).to_contain_text("stopped")
    ui.wait_for_status(name, "Stopped")

    # When they start it again
    ui.select(name)
    ui.toolbar_button("Start").click()

    # Then it is back in service
    expect(ui.wait_for_banner("start")).to_contain_text("started")
    ui.wait_for_status(name, "InService")
    assert server_named(platform.servers(), name)["status"] == "InService"  # type: ignore[index]


def test_select_two_servers_and_delete_both(admin_ui: ManagementPage, platform: LocalPlatform, unique: str) -> None:
    ui = admin_ui
    first, second, kept = f"Doomed A {unique}", f"Doomed B {unique}", f"Kept {unique}"
    for name in (first, second, kept):
        platform.create(name)
    ui.open_table()
    for name in (first, second, kept):
        ui.wait_for_status(name, "InService")

    # When the admin selects two rows and deletes them, confirming in the dialog that names both
    ui.select(first, second)
    expect(ui.page.locator("#selection-info")).to_have_text("2 selected")
    ui.toolbar_button("Delete").click()
    dialog = ui.page.get_by_role("dialog")
    expect(dialog).to_contain_text(first)
    expect(dialog).to_contain_text(second)
    expect(dialog).not_to_contain_text(kept)
    expect(dialog).not_to_contain_text("null")
    ui.confirm("Delete", screenshot="confirm-delete")

    # Then one banner follows both deletions to their end, and both rows disappear
    banner = ui.wait_for_banner("delete")
    expect(banner).to_contain_text("2 servers deleted.")
    expect(ui.row(first)).to_have_count(0)
    expect(ui.row(second)).to_have_count(0)
    expect(ui.row(kept)).to_have_count(1)
    remaining = {s["name"] for s in platform.servers()}
    assert remaining.isdisjoint({first, second})
    assert kept in remaining


def test_a_non_admin_sees_only_the_servers_of_their_groups(
    ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    research, finance = f"Research tools {unique}", f"Finance tools {unique}"
    platform.create(research, groups=["research"])
    platform.create(finance, groups=["finance"])
    admin = ManagementPage(ui.page.context.new_page(), platform.url, ui.screenshots)
    admin.sign_in(platform.token("alice", "engineering", admin=True))
    admin.open_table()
    admin.wait_for_status(research, "InService")
    admin.wait_for_status(finance, "InService")
    admin.page.close()

    # When a user of the research group signs in
    ui.sign_in(platform.token("bob", "research"))

    # Then they see their servers with URLs and client snippets, and no management controls
    expect(ui.page.get_by_role("heading", name="My MCP servers", level=1)).to_be_visible()
    cards = ui.page.locator("li.connection")
    expect(cards.filter(has_text=research)).to_have_count(1)
    expect(cards.filter(has_text=finance)).to_have_count(0)
    card = cards.filter(has_text=research)
    expect(card.locator(".mcp-url")).to_have_text(f"{platform.url}/mcp/researchtools{unique}/mcp")
    ui.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    card.get_by_role("button", name=f"Copy client configuration for {research}").click()
    copied = json.loads(ui.page.evaluate("navigator.clipboard.readText()"))
    assert copied["mcpServers"][f"researchtools{unique}"] == {
        "type": "http",
        "url": f"{platform.url}/mcp/researchtools{unique}/mcp",
        "headers": {"Authorization": "Bearer ${HOSTED_MCP_TOKEN}"},
    }
    expect(ui.page.get_by_role("button", name="Create hosted MCP server")).to_have_count(0)
    expect(ui.page.get_by_role("toolbar")).to_have_count(0)
    for group_line in cards.locator("p.muted").all_inner_texts():
        assert "research" in group_line or "public" in group_line
    ui.shot("my-servers")


def test_table_sorts_filters_keeps_column_preferences_and_exports(
    admin_ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    ui = admin_ui
    names = [f"Zulu {unique}", f"Alpha {unique}"]
    for name in names:
        platform.create(name)
    ui.open_table()
    for name in names:
        ui.wait_for_status(name, "InService")

    # Filtering narrows the rows to what matches
    ui.page.get_by_label("Filter", exact=True).fill(unique)
    rows = ui.page.locator("#servers-table tbody tr")
    expect(rows).to_have_count(2)

    # Sorting by name, with the keyboard, in both directions
    sort = ui.page.get_by_role("button", name="Name", exact=True)
    sort.focus()
    ui.page.keyboard.press("Enter")
    expect(ui.page.locator("th[data-key=name]")).to_have_attribute("aria-sort", "descending")
    expect(rows.first.get_by_role("rowheader")).to_have_text(names[0])
    ui.page.keyboard.press("Enter")
    expect(ui.page.locator("th[data-key=name]")).to_have_attribute("aria-sort", "ascending")
    expect(rows.first.get_by_role("rowheader")).to_have_text(names[1])

    # Hiding a column persists across a reload
    ui.page.get_by_text("Preferences").click()
    ui.page.get_by_role("checkbox", name="Owner").uncheck()
    expect(ui.page.locator("th[data-key=owner]")).to_have_count(0)
    ui.shot("table-preferences", full_page=False)
    ui.page.reload()
    expect(ui.page.locator("th[data-key=name]")).to_be_visible()
    expect(ui.page.locator("th[data-key=owner]")).to_have_count(0)

    # Export: CSV of the visible columns and JSON of the full records, both of the filtered rows
    ui.page.get_by_label("Filter", exact=True).fill(unique)
    ui.page.get_by_text("Preferences").click()
    with ui.page.expect_download() as download:
        ui.page.get_by_role("button", name="Export CSV").click()
    exported = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert exported[0][:3] == ["id", "Name", "Status"]
    assert "Owner" not in exported[0]
    assert sorted(row[1] for row in exported[1:]) == sorted(names)
    with ui.page.expect_download() as download:
        ui.page.get_by_role("button", name="Export JSON").click()
    records = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert sorted(r["name"] for r in records) == sorted(names)
    assert all("autoScalingConfig" in r for r in records)


def test_narrow_window_keeps_the_page_usable(admin_ui: ManagementPage, platform: LocalPlatform, unique: str) -> None:
    ui = admin_ui
    name = f"Phone {unique}"
    platform.create(name)
    ui.page.set_viewport_size({"width": 390, "height": 844})
    ui.open_table()
    ui.wait_for_status(name, "InService")

    # The page itself never scrolls sideways: the table scrolls inside its own labelled region
    overflow = ui.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    expect(ui.page.get_by_role("region", name="Servers table")).to_be_visible()
    expect(ui.toolbar_button("Create hosted MCP server")).to_be_in_viewport()
    ui.shot("narrow-table")


def test_a_failed_launch_shows_the_real_reason_in_the_banner_and_the_table(
    admin_ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    ui = admin_ui
    name = f"Broken {unique}"

    # Given a server whose command dies before it ever answers MCP
    ui.toolbar_button("Create hosted MCP server").click()
    ui.field("Name").fill(name)
    ui.field("Start command").fill('python -c "import a_module_that_is_not_there"')
    for _ in range(3):
        ui.next_step()
    ui.page.get_by_role("button", name="Launch server").click()

    # Then the banner ends in failure with the platform's own reason, not a generic one
    banner = ui.wait_for_banner("create", "error")
    expect(banner).to_have_attribute("role", "alert")
    reason = server_named(platform.servers(), name)["lastError"]  # type: ignore[index]
    assert reason
    expect(banner).to_contain_text(reason)
    ui.shot("failure-banner", full_page=False)

    # And the server's own output says why, one click away
    ui.page.get_by_text("Recent logs").click()
    expect(ui.page.get_by_label("Server logs")).to_contain_text("ModuleNotFoundError")

    # And the table shows it Failed with its last error; a Failed server can be fixed (an edit or a start redeploys
    # it) or deleted
    ui.open_table()
    ui.wait_for_status(name, "Failed")
    expect(ui.row(name).locator("td[data-col=lastError]")).to_have_text(reason)
    ui.select(name)
    expect(ui.toolbar_button("Edit")).to_be_enabled()
    expect(ui.toolbar_button("Start")).to_be_enabled()
    ui.toolbar_button("Delete").click()
    ui.confirm("Delete")
    expect(ui.wait_for_banner("delete")).to_contain_text("deleted")
    assert server_named(platform.servers(), name) is None


def test_keyboard_alone_reaches_a_server_and_opens_its_details(
    admin_ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    ui = admin_ui
    name = f"Keyboard {unique}"
    platform.create(name)
    ui.open_table()
    ui.wait_for_status(name, "InService")
    ui.page.get_by_label("Filter", exact=True).fill(unique)

    # When the user tabs to the row's checkbox, selects it with Space, tabs to its link and presses Enter
    checkbox = ui.page.get_by_role("checkbox", name=f"Select {name}", exact=True)
    for _ in range(40):
        if checkbox.evaluate("el => el === document.activeElement"):
            break
        ui.page.keyboard.press("Tab")
    expect(checkbox).to_be_focused()
    ui.page.keyboard.press("Space")
    expect(checkbox).to_be_checked()
    expect(ui.toolbar_button("Stop")).to_be_enabled()
    ui.page.keyboard.press("Tab")
    expect(ui.page.get_by_role("link", name=name)).to_be_focused()
    ui.page.keyboard.press("Enter")

    # Then the details open, with the configuration and audit history as labelled regions
    expect(ui.page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(ui.page.get_by_role("region", name="Configuration", exact=True)).to_be_visible()
    expect(ui.page.get_by_role("region", name="Audit history", exact=True)).to_be_visible()
    expect(ui.page.get_by_role("button", name=f"Copy client configuration for {name}")).to_be_visible()


def test_transitional_statuses_are_visibly_in_progress(
    admin_ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    ui = admin_ui
    name = f"Busy {unique}"
    record = platform.create(name)

    # Given the API reports the server mid-update (held there by the test: real updates settle in seconds)
    def mid_update(route: Any) -> None:
        route.fulfill(json={"Items": [{**record, "status": "Updating", "pendingChanges": {"cpu": 512}}]})

    ui.page.route("**/mcp?limit=*", mid_update)
    ui.open_table()

    # Then its status shows a spinner and says, for screen readers too, that it is in progress
    status = ui.status_of(name)
    expect(status).to_have_attribute("data-status", "Updating")
    expect(status.locator(".spinner")).to_have_count(1)
    expect(status).to_contain_text("(in progress)")
    ui.select(name)
    expect(ui.toolbar_button("Edit")).to_be_disabled()
    expect(ui.toolbar_button("Delete")).to_be_disabled()
    ui.shot("transitional-status", full_page=False)


def test_signing_out_returns_to_the_sign_in_form_and_forgets_the_credential(
    admin_ui: ManagementPage, platform: LocalPlatform
) -> None:
    ui = admin_ui
    ui.page.get_by_role("button", name="Sign out").click()
    expect(ui.page.get_by_label("Bearer token or API key")).to_be_focused()
    expect(ui.page.get_by_role("navigation", name="Main")).to_be_hidden()
    assert ui.page.evaluate("sessionStorage.length + localStorage.length") == 0

    # A credential the API refuses brings the user back here with the reason
    ui.page.get_by_label("Bearer token or API key").fill("not-a-token")
    ui.page.get_by_role("button", name="Continue").click()
    expect(ui.page.get_by_role("alert")).to_contain_text("Sign in again")


def test_an_update_that_rolls_back_ends_its_banner_with_the_reason(
    admin_ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    ui = admin_ui
    name = f"Rollback {unique}"
    record = platform.create(name)
    ui.open_table()
    ui.wait_for_status(name, "InService")
    current = server_named(platform.servers(), name)
    assert current is not None
    reason = "update rolled back: replica 0 did not answer MCP within 60 s; the previous configuration keeps running"

    # Given a platform whose deployment of the next update rolls back (scripted: a real one needs a broken image)
    accepted = {**current, "status": "Updating", "version": current["version"] + 1}
    rolled_back = {**current, "status": "InService", "version": current["version"] + 2, "lastError": reason}
    answered: dict[str, bool] = {}

    def api(route: Any) -> None:
        request = route.request
        if request.method == "PUT" and request.url.endswith(f"/mcp/{record['id']}"):
            answered["put"] = True
            route.fulfill(json=accepted)
        elif answered.get("put") and request.method == "GET" and "/mcp?limit=" in request.url:
            route.fulfill(json={"Items": [rolled_back]})
        elif answered.get("put") and request.method == "GET" and request.url.endswith(f"/mcp/{record['id']}"):
            route.fulfill(json=rolled_back)
        else:
            route.continue_()

    ui.page.route("**/mcp**", api)

    # When the admin saves a scaling change
    ui.select(name)
    ui.toolbar_button("Edit").click()
    ui.field("Maximum tasks").fill("4")
    ui.page.get_by_role("button", name="Save changes").click()

    # Then the banner ends in failure with the platform's reason, though the server is back InService
    banner = ui.wait_for_banner("update", "error")
    expect(banner).to_contain_text(f"not applied, InService with the previous configuration: {reason}")
    expect(ui.page.locator(".page-head .status")).to_have_attribute("data-status", "InService")


def test_an_api_key_signs_in_too(ui: ManagementPage, platform: LocalPlatform, unique: str) -> None:
    # Given an API key an admin issued for an automation of the research group
    with platform.api() as client:
        response = client.post("/api-keys", json={"name": f"robot {unique}", "groups": ["research"]})
    assert response.status_code == 201, response.text
    key = response.json()["apiKey"]

    # When it is pasted on the sign-in page
    ui.sign_in(key)

    # Then the page works as that key's identity, with the user view its groups allow
    expect(ui.page.get_by_role("heading", name="My MCP servers", level=1)).to_be_visible()
    expect(ui.page.locator("#who-name")).to_have_text("API key")


def test_wizard_creates_a_streamable_http_server_on_its_own_port(
    admin_ui: ManagementPage, platform: LocalPlatform, unique: str
) -> None:
    ui = admin_ui
    name = f"Greeter HTTP {unique}"
    ui.toolbar_button("Create hosted MCP server").click()
    ui.field("Name").fill(name)

    # stdio has no port to choose; HTTP shows the port with its default
    expect(ui.field("Port")).to_be_hidden()
    ui.field("Server type").select_option("http")
    expect(ui.field("Port")).to_be_visible()
    expect(ui.field("Port")).to_have_attribute("placeholder", "8000")
    ui.field("Port").fill("8123")
    ui.field("Start command").fill("python server.py")
    ui.field("Artifact path (optional)").fill("examples/greeter-http")
    for _ in range(3):
        ui.next_step()
    ui.page.get_by_role("button", name="Launch server").click()

    expect(ui.wait_for_banner("create")).to_contain_text("created.")
    created = server_named(platform.servers(), name)
    assert created is not None
    assert (created["serverType"], created["port"], created["status"]) == ("http", 8123, "InService")
