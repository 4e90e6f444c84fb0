"""Reconcile (schedule): every record past its deadline in a transitional status is settled from its stack, or
failed with the reason it is overdue; every InService or Stopped record whose stack is gone or broken is failed
with the reason. Level-triggered: safe to run any number of times."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters.eventbridge import ScheduledTick
from hosted_mcp.logic.reactions import sweep
from hosted_mcp.wiring import aws

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    ScheduledTick.model_validate(event)
    repaired = sweep(aws.reaction_ports(), now=aws.utc_now())
    return {"repaired": [record.id for record in repaired]}
