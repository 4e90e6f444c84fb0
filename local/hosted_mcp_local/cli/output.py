"""How commands print: tables for people, JSON for scripts, key: value details, one line per event."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def emit_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns aligned, no borders, one row per line and never wrapped, so that `grep`, `awk` and `cut` still work.

    Not rich: the MCP SDK logs through rich's handler whenever rich is importable, and hosted Python servers run
    with the platform's environment, so installing it would reformat (and wrap) every such server's log."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)]
    for row in [list(headers), *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def print_details(record: dict[str, Any], keys: Sequence[str]) -> None:
    for key in keys:
        value = record.get(key)
        if value is None or value == "":
            continue
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        print(f"{key + ':':<14}{shown}")
