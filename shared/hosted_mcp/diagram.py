"""The lifecycle as a Mermaid state diagram, generated from statemachine/lifecycle.json.

`python -m hosted_mcp.diagram` prints it; the README's "Lifecycle" section holds the same text (a test checks).
Edges: API operations (`stop (API)`), deployment outcomes (`deployed`, `rolledBack`, `failed`, `lost`) and deadlines;
notes: what each status triggers on entry.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hosted_mcp.lifecycle import load_document

TERMINAL = "[*]"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def mermaid(doc: dict[str, Any] | None = None) -> str:
    """The state diagram for a lifecycle document (the packaged one by default)."""
    doc = doc if doc is not None else load_document()
    statuses: list[str] = list(doc["statuses"])
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)

    for name, rule in doc["operations"].items():
        for source in rule.get("from") or [TERMINAL]:
            edges[(source, rule["to"])].append(f"{name} (API)")
    for transition in doc["transitions"]:
        edges[(transition["from"], transition["to"] or TERMINAL)].append(transition["on"])
    for name, rule in doc["statuses"].items():
        if "deadlineSeconds" in rule:
            edges[(name, rule["onDeadline"])].append(f"past deadline ({_duration(rule['deadlineSeconds'])})")

    order = {status: index for index, status in enumerate([TERMINAL, *statuses])}
    lines = ["stateDiagram-v2"]
    for (source, target), labels in sorted(edges.items(), key=lambda e: (order[e[0][0]], order[e[0][1]])):
        lines.append(f"    {source} --> {target}: {' / '.join(labels)}")
    for name, rule in doc["statuses"].items():
        if rule.get("onEnter"):
            lines.append(f"    note right of {name} : {rule['onEnter']} on entry")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(mermaid(), end="")


if __name__ == "__main__":
    main()
