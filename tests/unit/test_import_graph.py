"""No import circles in shared/ or local/: every module's imports (at import time; `TYPE_CHECKING` blocks and
imports inside functions excluded) form a graph without a cycle, so each layer can be read, and split, on its own."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.lambdas import REPO_ROOT

PACKAGES = {
    "hosted_mcp": REPO_ROOT / "shared" / "hosted_mcp",
    "hosted_mcp_local": REPO_ROOT / "local" / "hosted_mcp_local",
}


def modules() -> dict[str, Path]:
    found = {}
    for root in PACKAGES.values():
        for path in root.rglob("*.py"):
            parts = path.relative_to(root.parent).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_at_load(path: Path, known: dict[str, Path]) -> set[str]:
    wanted: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for statement in ast.walk(node):
            if isinstance(statement, ast.ImportFrom) and statement.module:
                for alias in statement.names:
                    child = f"{statement.module}.{alias.name}"
                    wanted.add(child if child in known else statement.module)
            elif isinstance(statement, ast.Import):
                wanted |= {alias.name for alias in statement.names}
    return {name for name in wanted if name in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_packages_import_without_circles() -> None:
    known = modules()
    graph = {name: imports_at_load(path, known) - {name} for name, path in known.items()}
    # the walk sees the modules it should (a renamed package would make this test vacuous)
    assert {"hosted_mcp.logic.reactions", "hosted_mcp_local.supervisor", "hosted_mcp_local.processes"} <= set(graph)
    assert "hosted_mcp_local.processes" in graph["hosted_mcp_local.replica_sets"]
    assert cycles(graph) == []


def test_a_circle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
