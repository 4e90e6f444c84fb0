"""CloudWatch metrics of the lifecycle (Powertools EMF): one count per transition, time to InService, failures."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from hosted_mcp.models.domain import StatusChange
from hosted_mcp.models.fields import ServerStatus
from hosted_mcp.ports import TransitionMetrics


@dataclass(frozen=True)
class MetricPoint:
    name: str
    unit: MetricUnit
    value: float
    dimensions: tuple[tuple[str, str], ...] = ()


def transition_metrics(change: StatusChange) -> list[MetricPoint]:
    """What one status change counts for: the transition itself; the time from Creating to InService; a failed
    deployment (what the alarm watches)."""
    if not change.status_changed:
        return []
    old = change.old.status.value if change.old else "None"
    new = change.new.status.value if change.new else "Removed"
    points = [MetricPoint("StatusTransition", MetricUnit.Count, 1, (("From", old), ("To", new)))]
    if change.new is not None and change.new.status is ServerStatus.IN_SERVICE and old == ServerStatus.CREATING:
        seconds = (change.new.updatedAt - change.new.createdAt).total_seconds()
        points.append(MetricPoint("TimeToInService", MetricUnit.Seconds, seconds))
    if change.new is not None and change.new.status is ServerStatus.FAILED:
        points.append(MetricPoint("DeploymentFailed", MetricUnit.Count, 1))
    rolled_back = (
        change.new is not None
        and change.new.status is not ServerStatus.FAILED
        and change.new.lastError is not None
        and change.old is not None
        and change.old.lastError != change.new.lastError
    )
    if rolled_back:
        points.append(MetricPoint("DeploymentRolledBack", MetricUnit.Count, 1, (("From", old),)))
    return points


def record_transition(change: StatusChange) -> list[MetricPoint]:
    points = transition_metrics(change)
    for point in points:
        with single_metric(name=point.name, unit=point.unit, value=point.value) as metric:
            for name, value in point.dimensions:
                metric.add_dimension(name=name, value=value)
    return points


class CloudWatchTransitionMetrics(TransitionMetrics):
    """Each transition as CloudWatch metrics, written as embedded metric format lines to the function's log."""

    def record(self, change: StatusChange) -> None:
        record_transition(change)
