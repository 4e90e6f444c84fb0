"""The pure helpers behind every benchmark table: percentiles, ratios, target verdicts."""

import math

import pytest

from bench.stats import Table, Target, median, percentile, ratio


def test_percentile_interpolates_between_closest_ranks() -> None:
    # Given four samples out of order
    samples = [4.0, 1.0, 3.0, 2.0]
    # When the median and the extremes are asked for
    # Then they follow the linear method (numpy's default)
    assert percentile(samples, 50) == 2.5
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 100) == 4.0
    assert percentile(samples, 95) == pytest.approx(3.85)


def test_percentile_of_one_sample_is_that_sample() -> None:
    assert percentile([7.0], 95) == 7.0
    assert median([7.0]) == 7.0


@pytest.mark.parametrize("pct", [-1, 101])
def test_percentile_rejects_out_of_range(pct: float) -> None:
    with pytest.raises(ValueError, match="pct"):
        percentile([1.0], pct)


def test_percentile_rejects_no_samples() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_ratio_handles_a_zero_baseline() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(0.0, 0.0) == 1.0
    assert math.isinf(ratio(1.0, 0.0))


def test_target_verdict_says_by_how_much_it_missed() -> None:
    # Given a lower-is-better target of 1.10x and a higher-is-better one of 0.90x
    latency, throughput = Target(1.10), Target(0.90, at_most=False)
    # Then a value inside passes and a value outside reports the miss relative to the limit
    assert latency.verdict(1.05) == "met"
    assert latency.verdict(1.21) == "MISSED by 10%"
    assert throughput.verdict(0.95) == "met"
    assert throughput.verdict(0.45) == "MISSED by 50%"


def test_table_renders_aligned_columns() -> None:
    table = Table("T", ["a", "bbb"])
    table.add("long cell", 1)
    lines = table.render().splitlines()
    assert lines[2] == "| a         | bbb |"
    assert lines[4] == "| long cell | 1   |"
