"""Reconcile (schedule): every record past its deadline in a transitional status is settled from its stack, or
failed with the reason it is overdue. Level-triggered: safe to run any number of times."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters import aws
from hosted_mcp.adapters.eventbridge import ScheduledTick

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    ScheduledTick.model_validate(event)
    repaired = aws.reconcile_overdue()
    return {"repaired": [record.id for record in repaired]}
