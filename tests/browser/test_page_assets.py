"""The page's static files, without a browser: the rules it offers match the API's, and every file it loads exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hosted_mcp.lifecycle import load_document
from hosted_mcp.models.fields import FARGATE_MEMORY_BY_CPU, ServerStatus
from hosted_mcp_local.app import WEB_DIR

OPERATIONS = ("update", "stop", "start", "delete", "redeploy")


def page_rules() -> dict:
    return json.loads((WEB_DIR / "rules.json").read_text(encoding="utf-8"))


def test_the_page_offers_exactly_the_fargate_sizes_the_api_accepts() -> None:
    offered = {int(cpu): tuple(memory) for cpu, memory in page_rules()["memoryByCpu"].items()}
    assert offered == FARGATE_MEMORY_BY_CPU


def test_the_page_enables_actions_in_the_statuses_the_lifecycle_allows() -> None:
    lifecycle = load_document()
    rules = page_rules()
    assert {op: set(rules["operations"][op]) for op in OPERATIONS} == {
        op: set(lifecycle["operations"][op]["from"]) for op in OPERATIONS
    }
    transitional = {name for name, rule in lifecycle["statuses"].items() if rule["transitional"]}
    assert set(rules["transitional"]) == transitional
    assert rules["statuses"] == list(lifecycle["statuses"])
    assert transitional <= {s.value for s in ServerStatus}


def test_every_file_the_page_loads_is_shipped() -> None:
    index = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    referenced = set(re.findall(r'(?:src|href)="(?!data:|#)([^"]+)"', index))
    for module in (WEB_DIR / "js").glob("*.js"):
        text = module.read_text(encoding="utf-8")
        referenced |= {f"js/{m}" for m in re.findall(r'from "\./([^"]+)"', text)}
        referenced |= set(re.findall(r'fetch\("([a-z]+\.json)"', text))
    missing = sorted(ref for ref in referenced if not (WEB_DIR / ref).is_file())
    assert referenced, "no references found: the patterns no longer match the page"
    assert missing == []


def test_the_default_configuration_means_same_origin_and_pasted_credentials() -> None:
    config = json.loads((WEB_DIR / "config.json").read_text(encoding="utf-8"))
    assert config == {"apiBaseUrl": "", "oidc": None}


def test_the_page_is_package_data_of_the_local_platform() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'hosted_mcp_local = ["web/**"]' in pyproject
