"""Small, pure helpers every benchmark shares: percentiles, ratios and the printed table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(samples: Sequence[float], pct: float) -> float:
    """The `pct` percentile (0..100) of `samples`, linearly interpolated between closest ranks.

    Matches numpy's default ("linear") method: p50 of [1, 2, 3, 4] is 2.5, p100 is the maximum.
    """
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= pct <= 100:
        raise ValueError("pct must be between 0 and 100")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(samples: Sequence[float]) -> float:
    return percentile(samples, 50)


def ratio(ours: float, baseline: float) -> float:
    """ours / baseline; infinite when the baseline is zero and ours is not."""
    if baseline == 0:
        return math.inf if ours else 1.0
    return ours / baseline


@dataclass(frozen=True)
class Target:
    """A target on a ratio: `at_most` (lower is better) or `at_least` (higher is better)."""

    limit: float
    at_most: bool = True

    def met(self, value: float) -> bool:
        return value <= self.limit if self.at_most else value >= self.limit

    def describe(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.limit:.2f}x"

    def verdict(self, value: float) -> str:
        if self.met(value):
            return "met"
        miss = (value / self.limit - 1) if self.at_most else (1 - value / self.limit)
        return f"MISSED by {miss:.0%}"


@dataclass
class Table:
    """A titled, fixed-width text table; rows are already formatted strings."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(cell) for cell in cells])

    def render(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        lines = [self.title, ""]
        lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(self.headers, widths, strict=True)) + " |")
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        lines.extend(f"\n{note}" if i == 0 else note for i, note in enumerate(self.notes))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {"title": self.title, "headers": self.headers, "rows": self.rows, "notes": self.notes}


def ms(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def times(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}x"


def usd(amount: float) -> str:
    return f"${amount:,.2f}"
