"""The data plane's metrics: Prometheus text for the local platform, CloudWatch (Powertools EMF) for the router."""

from __future__ import annotations

import json

import pytest

from hosted_mcp.models.calls import CallOutcome
from hosted_mcp_gateway import call_metrics
from hosted_mcp_gateway.call_metrics import CallMetrics, emit_to_cloudwatch, prometheus_text


def test_calls_errors_latency_and_refusals_in_prometheus_text() -> None:
    # Given calls to one tool that ended in each way, and refusals
    metrics = CallMetrics()
    metrics.call("echo", "tools/call", "say", CallOutcome.OK, 0.004)
    metrics.call("echo", "tools/call", "say", CallOutcome.OK, 0.2)
    metrics.call("echo", "tools/call", "say", CallOutcome.ERROR, 0.02)
    metrics.call("echo", "tools/call", "rm", CallOutcome.DENIED, None)
    metrics.refused("echo", "denied")
    metrics.refused("echo", "rate")

    # When they are rendered
    text = prometheus_text(metrics.snapshot())

    # Then each count, the errors and the latency histogram are there, by server, method and name
    lines = set(text.splitlines())
    assert 'hosted_mcp_calls_total{server="echo",method="tools/call",name="say",outcome="ok"} 2' in lines
    assert 'hosted_mcp_calls_total{server="echo",method="tools/call",name="rm",outcome="denied"} 1' in lines
    assert 'hosted_mcp_call_errors_total{server="echo",method="tools/call",name="say"} 1' in lines
    assert 'hosted_mcp_call_duration_seconds_bucket{server="echo",method="tools/call",name="say",le="0.005"} 1' in lines
    assert 'hosted_mcp_call_duration_seconds_bucket{server="echo",method="tools/call",name="say",le="+Inf"} 3' in lines
    assert 'hosted_mcp_call_duration_seconds_count{server="echo",method="tools/call",name="say"} 3' in lines
    assert 'hosted_mcp_requests_refused_total{server="echo",reason="rate"} 1' in lines
    assert "# TYPE hosted_mcp_call_duration_seconds histogram" in lines
    assert not any('name="rm"' in line for line in lines if "duration" in line)


def test_label_values_are_escaped() -> None:
    metrics = CallMetrics()
    metrics.call("echo", "tools/call", 'a"b\\c\nd', CallOutcome.OK, 0.1)
    assert 'name="a\\"b\\\\c\\nd"' in prometheus_text(metrics.snapshot())


def test_names_past_the_series_cap_are_counted_as_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_metrics, "MAX_SERIES", 2)
    metrics = CallMetrics()
    for name in ("a", "b", "c", "d"):
        metrics.call("echo", "tools/call", name, CallOutcome.DENIED, None)
    names = {series[2] for series, _ in metrics.snapshot().calls}
    assert names == {"a", "b", "_other"}


def test_the_router_writes_each_interval_as_cloudwatch_embedded_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    # Given an interval's calls on a router (latency samples kept)
    metrics = CallMetrics(keep_samples=True)
    metrics.call("echo", "tools/call", "say", CallOutcome.OK, 0.002)
    metrics.call("echo", "tools/call", "say", CallOutcome.FAILED, 0.5)
    metrics.call("echo", "tools/call", "rm", CallOutcome.LIMITED, None)
    metrics.refused("echo", "rate")

    # When the interval is written out
    written = emit_to_cloudwatch(metrics.drain(), namespace="HostedMcp")

    # Then each series is one EMF line with its counts and latencies, dimensioned by server and tool
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert written == len(lines) == 3
    say = next(line for line in lines if line.get("tool") == "tools/call say")
    assert (say["server"], say["Calls"], say["CallErrors"], say["CallLatency"]) == ("echo", [2.0], [1.0], [2.0, 500.0])
    assert say["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "HostedMcp"
    rm = next(line for line in lines if line.get("tool") == "tools/call rm")
    assert rm["CallsRefused"] == [1.0]
    refused = next(line for line in lines if "reason" in line)
    assert (refused["reason"], refused["RequestsRefused"]) == ("rate", [1.0])
    assert metrics.drain().calls == {}
