"""The README's lifecycle diagram is the one generated from statemachine/lifecycle.json."""

from __future__ import annotations

import re

from hosted_mcp.diagram import mermaid
from hosted_mcp.lifecycle import load_document
from tests.support.lambdas import REPO_ROOT


def readme_diagram() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Lifecycle\n", 1)[1]
    match = re.search(r"```mermaid\n(.*?)```", section, re.DOTALL)
    assert match, "the Lifecycle section has no mermaid block"
    return match.group(1)


def test_readme_shows_the_generated_diagram() -> None:
    assert readme_diagram() == mermaid()


def test_the_diagram_draws_every_status_operation_outcome_and_deadline() -> None:
    doc = load_document()
    diagram = mermaid(doc)

    for status in doc["statuses"]:
        assert f"    {status} --> " in diagram or f" --> {status}:" in diagram, status
    for name, rule in doc["operations"].items():
        for source in rule.get("from") or ["[*]"]:
            assert re.search(rf"^    {re.escape(source)} --> {rule['to']}: .*{name} \(API\)", diagram, re.M), name
    for t in doc["transitions"]:
        assert re.search(rf"^    {t['from']} --> {re.escape(t['to'] or '[*]')}: .*{t['on']}", diagram, re.M), t
    for status, rule in doc["statuses"].items():
        if "deadlineSeconds" in rule:
            assert re.search(rf"^    {status} --> {rule['onDeadline']}: .*past deadline", diagram, re.M), status


def test_a_changed_lifecycle_changes_the_diagram() -> None:
    doc = load_document()
    doc["operations"]["stop"]["from"].append("Failed")
    assert "Failed --> Stopping: stop (API)" in mermaid(doc)
    assert "Failed --> Stopping" not in mermaid()
