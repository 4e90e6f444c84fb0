"""How commands print: tables for people (rich), JSON for scripts, key: value details, one line per event."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def emit_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns aligned, no borders, one row per line and never wrapped, so that `grep`, `awk` and `cut` still work
    when the output is not a terminal."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold", show_edge=False)
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ignore")
    for row in rows:
        table.add_row(*(Text("" if cell is None else str(cell)) for cell in row))  # Text: never read as markup
    console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 100_000, highlight=False)
    with console.capture() as captured:
        console.print(table)
    sys.stdout.write("\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n")


def print_details(record: dict[str, Any], keys: Sequence[str]) -> None:
    for key in keys:
        value = record.get(key)
        if value is None or value == "":
            continue
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        print(f"{key + ':':<14}{shown}")
