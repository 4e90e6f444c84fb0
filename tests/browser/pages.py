"""What a person does on the page, in their words: sign in, open the wizard, pick rows, confirm, read banners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

SETTLE_TIMEOUT_MS = 60_000  # a stdio server: bridge start + MCP readiness probe


class ManagementPage:
    def __init__(self, page: Page, base_url: str, screenshots: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.screenshots = screenshots

    # -- navigation ------------------------------------------------------------------------------------------
    def sign_in(self, token: str) -> None:
        self.page.goto(f"{self.base_url}/")
        self.page.get_by_label("Bearer token or API key").fill(token)
        self.page.get_by_role("button", name="Continue").click()
        expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()

    def shot(self, name: str, *, full_page: bool = True) -> None:
        lines = [line.strip() for line in self.page.locator("body").inner_text().splitlines()]
        assert "null" not in lines, "a missing value was rendered as the word null"
        self.page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=full_page)

    def open_table(self) -> None:
        self.page.goto(f"{self.base_url}/#/")
        expect(self.page.get_by_role("heading", name="MCP Management")).to_be_visible()

    # -- table -----------------------------------------------------------------------------------------------
    def row(self, name: str) -> Locator:
        return self.page.locator("#servers-table tbody tr").filter(
            has=self.page.get_by_role("rowheader", name=name, exact=True)
        )

    def status_of(self, name: str) -> Locator:
        return self.row(name).locator("td[data-col=status] .status")

    def wait_for_status(self, name: str, status: str) -> None:
        expect(self.status_of(name)).to_have_attribute("data-status", status, timeout=SETTLE_TIMEOUT_MS)

    def select(self, *names: str) -> None:
        for name in names:
            self.page.get_by_role("checkbox", name=f"Select {name}", exact=True).check()

    def toolbar_button(self, label: str) -> Locator:
        return self.page.get_by_role("toolbar", name="Server actions").get_by_role("button", name=label, exact=True)

    def confirm(self, label: str, *, screenshot: str | None = None) -> None:
        dialog = self.page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        if screenshot:
            self.shot(screenshot, full_page=False)
        dialog.get_by_role("button", name=label, exact=True).click()

    # -- banners ---------------------------------------------------------------------------------------------
    def banner(self, operation: str) -> Locator:
        return self.page.locator(f"#banners .banner[data-operation={operation}]").first

    def wait_for_banner(self, operation: str, outcome: str = "success") -> Locator:
        banner = self.banner(operation)
        expect(banner).to_have_class(f"banner {outcome}", timeout=SETTLE_TIMEOUT_MS)
        return banner

    # -- forms -----------------------------------------------------------------------------------------------
    def field(self, label: str) -> Locator:
        return self.page.get_by_label(label, exact=True)

    def next_step(self) -> None:
        self.page.get_by_role("button", name="Next").click()

    def error_for(self, field_path: str) -> Locator:
        return self.page.locator(f'[data-error-for="{field_path}"]')


def server_named(servers: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((s for s in servers if s["name"] == name), None)
