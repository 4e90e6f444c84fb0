"""Typed settings read once from the environment, and factories that build adapters only when asked."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hosted_mcp.wiring import aws
from tests.support.lambdas import REPO_ROOT


def test_settings_read_the_table_and_the_optional_base_url() -> None:
    settings = aws.PlatformSettings.from_environ(
        {"SERVERS_TABLE_NAME": "servers", "API_BASE_URL": "https://api.example.com/prod", "OTHER": "x"}
    )
    assert settings.servers_table_name == "servers"
    assert settings.api_base_url == "https://api.example.com/prod"


@pytest.mark.parametrize("environ", [{}, {"SERVERS_TABLE_NAME": ""}])
def test_a_missing_table_name_is_a_deployment_error_naming_the_variable(environ: dict[str, str]) -> None:
    with pytest.raises(aws.SettingsError, match="SERVERS_TABLE_NAME"):
        aws.PlatformSettings.from_environ(environ)


def test_factories_are_cached_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVERS_TABLE_NAME", "first")
    aws.clear_factories()
    assert aws.settings() is aws.settings()
    assert aws.settings().servers_table_name == "first"

    monkeypatch.setenv("SERVERS_TABLE_NAME", "second")
    assert aws.settings().servers_table_name == "first"  # read once per execution environment
    aws.clear_factories()
    assert aws.settings().servers_table_name == "second"
    aws.clear_factories()


def test_importing_the_wiring_does_not_import_boto3() -> None:
    code = "import sys, hosted_mcp.wiring.aws; print('boto3' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT / "shared")},
    )
    assert result.stdout.strip() == "False"
