"""Counts of the data plane, per server and tool: calls by outcome, errors, latency, refusals by reason.

One `CallMetrics` per gateway process, updated on the event loop (no locks). The local platform serves it as
Prometheus text at `/metrics` (admins only); the AWS router writes each interval's counts as CloudWatch metrics
through Powertools (`emit_to_cloudwatch`: embedded metric format on the task's log, namespace `HostedMcp`,
dimensions `server` and `tool`). Series are keyed by the server's name, the method and the tool, prompt or resource
name; names come from callers, so after `MAX_SERIES` distinct ones the rest count as `_other`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from hosted_mcp.models.calls import CallOutcome

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MAX_SERIES = 10_000
MAX_SAMPLES = 100  # latency values per series and interval an embedded-metric-format line may carry
OTHER = "_other"
ERRORS = frozenset({CallOutcome.ERROR, CallOutcome.FAILED})

Series = tuple[str, str, str]  # server, method, name


@dataclass
class Latency:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def add(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.count += 1


@dataclass
class Snapshot:
    """What was counted (since the start, or since the last `drain`)."""

    calls: dict[tuple[Series, CallOutcome], int]
    latency: dict[Series, Latency]
    refused: dict[tuple[str, str], int]
    samples: dict[Series, list[float]] = field(default_factory=dict)


class CallMetrics:
    """`keep_samples`: also keep up to `MAX_SAMPLES` latencies per series until the next `drain` (the router)."""

    def __init__(self, *, keep_samples: bool = False) -> None:
        self._calls: dict[tuple[Series, CallOutcome], int] = {}
        self._latency: dict[Series, Latency] = {}
        self._refused: dict[tuple[str, str], int] = {}
        self._samples: dict[Series, list[float]] = {}
        self._series: set[Series] = set()
        self._keep_samples = keep_samples

    def call(self, server: str, method: str, name: str | None, outcome: CallOutcome, seconds: float | None) -> None:
        """One call ended (`seconds` is None for calls refused before the server saw them)."""
        series = self._series_of(server, method, name or "")
        key = (series, outcome)
        self._calls[key] = self._calls.get(key, 0) + 1
        if seconds is not None:
            latency = self._latency.get(series)
            if latency is None:
                latency = self._latency[series] = Latency()
            latency.add(seconds)
            if self._keep_samples:
                samples = self._samples.setdefault(series, [])
                if len(samples) < MAX_SAMPLES:
                    samples.append(seconds)

    def refused(self, server: str, reason: str) -> None:
        """A request refused by the tool policy (`denied`) or a limit (`rate`, `concurrency`)."""
        key = (server, reason)
        self._refused[key] = self._refused.get(key, 0) + 1

    def _series_of(self, server: str, method: str, name: str) -> Series:
        series = (server, method, name)
        if series in self._series:
            return series
        if len(self._series) >= MAX_SERIES:
            series = (server, method, OTHER)
        self._series.add(series)
        return series

    def snapshot(self) -> Snapshot:
        return Snapshot(dict(self._calls), dict(self._latency), dict(self._refused), dict(self._samples))

    def drain(self) -> Snapshot:
        """What was counted since the last drain, and start again (the router's per-interval export)."""
        taken = Snapshot(self._calls, self._latency, self._refused, self._samples)
        self._calls, self._latency, self._refused, self._samples = {}, {}, {}, {}
        return taken


def emit_to_cloudwatch(snapshot: Snapshot, namespace: str = "HostedMcp", service: str = "hosted-mcp-router") -> int:
    """Each series' interval as one embedded-metric-format line (Powertools): `Calls`, `CallErrors`, `CallsRefused`
    (denied or limited) and `CallLatency` (milliseconds, the kept samples), by `server` and `tool`; and each
    server's refusals by `reason`. How many lines were written."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    per_series: dict[Series, dict[str, int]] = {}
    for (series, outcome), count in snapshot.calls.items():
        counts = per_series.setdefault(series, {"Calls": 0, "CallErrors": 0, "CallsRefused": 0})
        counts["Calls"] += count
        if outcome in ERRORS:
            counts["CallErrors"] += count
        elif outcome in (CallOutcome.DENIED, CallOutcome.LIMITED):
            counts["CallsRefused"] += count
    lines = 0
    for (server, method, name), counts in sorted(per_series.items()):
        metrics = EphemeralMetrics(namespace=namespace, service=service)
        metrics.add_dimension(name="server", value=server)
        metrics.add_dimension(name="tool", value=f"{method} {name}".strip())
        for metric, value in counts.items():
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)
        for seconds in snapshot.samples.get((server, method, name), []):
            metrics.add_metric(name="CallLatency", unit=MetricUnit.Milliseconds, value=round(seconds * 1000, 3))
        metrics.flush_metrics()
        lines += 1
    for (server, reason), count in sorted(snapshot.refused.items()):
        metrics = EphemeralMetrics(namespace=namespace, service=service)
        metrics.add_dimension(name="server", value=server)
        metrics.add_dimension(name="reason", value=reason)
        metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=count)
        metrics.flush_metrics()
        lines += 1
    return lines


def prometheus_text(snapshot: Snapshot) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    out: list[str] = []

    def family(name: str, kind: str, text: str) -> None:
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")

    family("hosted_mcp_calls_total", "counter", "Calls through the gateway, by server, method, name and outcome.")
    for (series, outcome), count in sorted(snapshot.calls.items()):
        out.append(f"hosted_mcp_calls_total{{{_labels(series, outcome=outcome.value)}}} {count}")
    family("hosted_mcp_call_errors_total", "counter", "Calls the server answered with an error, or did not answer.")
    errors: dict[Series, int] = {}
    for (series, outcome), count in snapshot.calls.items():
        if outcome in ERRORS:
            errors[series] = errors.get(series, 0) + count
    for series, count in sorted(errors.items()):
        out.append(f"hosted_mcp_call_errors_total{{{_labels(series)}}} {count}")
    family("hosted_mcp_call_duration_seconds", "histogram", "Time from the call's arrival to its complete answer.")
    for series, latency in sorted(snapshot.latency.items()):
        labels = _labels(series)
        cumulative = 0
        for bound, count in zip((*BUCKETS, float("inf")), latency.counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'hosted_mcp_call_duration_seconds_bucket{{{labels},le="{le}"}} {cumulative}')
        out.append(f"hosted_mcp_call_duration_seconds_sum{{{labels}}} {latency.total!r}")
        out.append(f"hosted_mcp_call_duration_seconds_count{{{labels}}} {latency.count}")
    family("hosted_mcp_requests_refused_total", "counter", "Requests refused: denied by policy, or over a limit.")
    for (server, reason), count in sorted(snapshot.refused.items()):
        out.append(f'hosted_mcp_requests_refused_total{{server="{_escape(server)}",reason="{reason}"}} {count}')
    return "\n".join(out) + "\n"


def _labels(series: Series, **extra: str) -> str:
    server, method, name = series
    pairs: Iterable[tuple[str, str]] = (("server", server), ("method", method), ("name", name), *extra.items())
    return ",".join(f'{key}="{_escape(value)}"' for key, value in pairs)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
