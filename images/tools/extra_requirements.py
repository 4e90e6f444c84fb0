"""Print the requirements one extra of a wheel adds (its `Requires-Dist: ...; extra == "<name>"` lines), so an image
installs the project's wheel without its other dependencies and then exactly what that extra needs.

    python3 extra_requirements.py WHEEL EXTRA > requirements.txt
"""

from __future__ import annotations

import re
import sys
import zipfile


def extra_requirements(wheel: str, extra: str) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    wanted = re.compile(r"""^\(?\s*extra\s*==\s*["']""" + re.escape(extra) + r"""["']\s*\)?$""")
    requirements = []
    for line in text.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        requirement, _, marker = line.removeprefix("Requires-Dist:").strip().partition(";")
        clauses = [c.strip() for c in marker.split(" and ")] if marker.strip() else []
        if any(wanted.search(c) for c in clauses):
            rest = " and ".join(c for c in clauses if not wanted.search(c))
            requirements.append(requirement.strip() + (f"; {rest}" if rest else ""))
    return requirements


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    found = extra_requirements(sys.argv[1], sys.argv[2])
    if not found:
        raise SystemExit(f"the wheel has no requirements for the extra {sys.argv[2]!r}")
    print("\n".join(found))
