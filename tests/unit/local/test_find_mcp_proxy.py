"""Which mcp-proxy `hosted-mcp serve` runs stdio servers with, when nobody names one."""

from __future__ import annotations

from pathlib import Path

import pytest

from hosted_mcp_local.cli import serve
from hosted_mcp_local.cli.serve import PROJECT_PROXY, find_mcp_proxy


def test_an_explicit_proxy_wins(tmp_path: Path) -> None:
    assert find_mcp_proxy(str(tmp_path / "my-proxy")) == str(tmp_path / "my-proxy")


def test_the_one_on_path_comes_before_the_project_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an mcp-proxy on PATH and the project's own install in the working directory
    on_path = tmp_path / "bin" / "mcp-proxy"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    project = tmp_path / "checkout"
    (project / PROJECT_PROXY).parent.mkdir(parents=True)
    (project / PROJECT_PROXY).write_text("#!/bin/sh\n")
    monkeypatch.chdir(project)
    monkeypatch.setenv("PATH", str(on_path.parent))

    # When nobody names one, Then PATH wins
    assert find_mcp_proxy(None) == str(on_path)


def test_without_one_on_path_the_project_install_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given `make install` put mcp-proxy in .tools/ and nothing is on PATH
    (tmp_path / PROJECT_PROXY).parent.mkdir(parents=True)
    (tmp_path / PROJECT_PROXY).write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    # Then `hosted-mcp serve` run from the checkout finds it without any setting
    assert find_mcp_proxy(None) == str((tmp_path / PROJECT_PROXY).resolve())


def test_started_outside_the_checkout_it_finds_the_checkouts_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the checkout this package runs from has .tools/mcp-proxy, and serve starts elsewhere with none on PATH
    checkout = tmp_path / "checkout"
    (checkout / PROJECT_PROXY).parent.mkdir(parents=True)
    (checkout / PROJECT_PROXY).write_text("#!/bin/sh\n")
    monkeypatch.setattr(serve, "CHECKOUT", checkout)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    # When / Then the checkout's own install is used
    assert find_mcp_proxy(None) == str((checkout / PROJECT_PROXY).resolve())


def test_nothing_anywhere_leaves_the_plain_name_so_the_failure_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve, "CHECKOUT", tmp_path / "no-checkout")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_mcp_proxy(None) == "mcp-proxy"
