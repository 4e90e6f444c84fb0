"""The README's map of the tree is the tree: every path it names exists, and every top-level folder is on it.

The map is the first ```text block under `## Map`. Each line is a path, then its description; a line indented two
spaces deeper than a folder's line names something inside that folder. Top-level folders are those git tracks
files in (dotfolders such as `.ci` are left out).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.lambdas import REPO_ROOT

INDENT = 2


def map_block(readme: str) -> str:
    section = readme.split("\n## Map\n", 1)[1]
    match = re.search(r"```text\n(.*?)```", section, re.DOTALL)
    assert match, "the Map section has no ```text block"
    return match.group(1)


def mapped_paths(block: str) -> list[str]:
    """Every path the map names, in full ("tests/" + "  unit/" is "tests/unit/")."""
    parents: list[str] = []
    paths = []
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % INDENT == 0, f"odd indentation: {line!r}"
        level = indent // INDENT
        assert level <= len(parents), f"indented under nothing: {line!r}"
        parent = parents[level - 1] if level else ""
        assert not parent or parent.endswith("/"), f"indented under a file: {line!r}"
        path = parent + line.split()[0]
        parents[level:] = [path]
        paths.append(path)
    return paths


def missing(paths: list[str], root: Path) -> list[str]:
    """Paths the map names that are not there, or are a file where the map says folder (a trailing slash)."""
    return [p for p in paths if not ((root / p).is_dir() if p.endswith("/") else (root / p).is_file())]


def tracked_top_level_folders(root: Path) -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    return {name.split("/", 1)[0] for name in listed if "/" in name and not name.startswith(".")}


def readme_paths() -> list[str]:
    return mapped_paths(map_block((REPO_ROOT / "README.md").read_text(encoding="utf-8")))


def test_every_path_the_map_names_exists() -> None:
    # Given the paths the README's map names
    paths = readme_paths()

    # When each is looked up in the checkout
    absent = missing(paths, REPO_ROOT)

    # Then every one is there, folders as folders and files as files
    assert len(paths) > 20
    assert absent == []


def test_every_tracked_top_level_folder_is_on_the_map() -> None:
    # Given the top-level folders git tracks files in
    folders = tracked_top_level_folders(REPO_ROOT)

    # When the map's paths are reduced to their first folder
    on_the_map = {path.split("/", 1)[0] for path in readme_paths() if "/" in path}

    # Then none of the tracked folders is left off the map
    assert {"shared", "gateway", "local", "bridge", "tests"} <= folders
    assert sorted(folders - on_the_map) == []


def test_the_map_reads_nesting_from_indentation_and_catches_a_wrong_path(tmp_path: Path) -> None:
    # Given a small tree and a map of it with one folder that is not there and one file mapped as a folder
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "mod.py").write_text("", encoding="utf-8")
    block = "pkg/    the package\n  sub/  a folder\n  mod.py  a module\n  gone/  removed\nmod.py/  wrong\n"

    # When the map is read and checked against the tree
    paths = mapped_paths(block)

    # Then nested lines name paths inside their folder, and only the wrong ones are reported
    assert paths == ["pkg/", "pkg/sub/", "pkg/mod.py", "pkg/gone/", "mod.py/"]
    assert missing(paths, tmp_path) == ["pkg/gone/", "mod.py/"]
