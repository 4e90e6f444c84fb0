"""A module of the four packages grows past MAX_LINES only with a reason: its docstring says why it is one module.

The reason is a line of the module docstring starting with MARKER (`One module: ...`). Past the limit a module is
usually two things; when it is one, the reason tells the next reader so, and the test makes the choice deliberate.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.lambdas import REPO_ROOT

MAX_LINES = 400
MARKER = "One module:"
PACKAGE_ROOTS = ("shared", "gateway", "local", "bridge")


def oversized_without_reason(root: Path, folders: tuple[str, ...]) -> list[str]:
    """Modules under `folders` longer than MAX_LINES whose docstring has no MARKER line, as paths from `root`."""
    found = []
    for folder in folders:
        for module in sorted((root / folder).rglob("*.py")):
            text = module.read_text(encoding="utf-8")
            if len(text.splitlines()) <= MAX_LINES:
                continue
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if not any(line.startswith(MARKER) for line in docstring.splitlines()):
                found.append(module.relative_to(root).as_posix())
    return found


def test_every_module_past_the_limit_says_why_it_is_one_module() -> None:
    # Given the modules of the four packages
    modules = [m for folder in PACKAGE_ROOTS for m in (REPO_ROOT / folder).rglob("*.py")]

    # When those longer than the limit are looked for a reason
    unexplained = oversized_without_reason(REPO_ROOT, PACKAGE_ROOTS)

    # Then each of them gives one
    assert len(modules) > 50
    assert unexplained == []


def test_a_long_module_without_the_reason_is_reported_and_one_with_it_is_not(tmp_path: Path) -> None:
    # Given a package with a long module without a reason, the same with one, and a short module without
    package = tmp_path / "pkg"
    package.mkdir()
    body = "x = 1\n" * MAX_LINES
    (package / "silent.py").write_text('"""Does a lot."""\n' + body, encoding="utf-8")
    (package / "explained.py").write_text(f'"""Does a lot.\n\n{MARKER} it is one thing."""\n' + body, encoding="utf-8")
    (package / "short.py").write_text('"""Does a little."""\n' + "x = 1\n" * (MAX_LINES - 1), encoding="utf-8")

    # When the package is checked
    unexplained = oversized_without_reason(tmp_path, ("pkg",))

    # Then only the long module without a reason is reported
    assert unexplained == ["pkg/silent.py"]
