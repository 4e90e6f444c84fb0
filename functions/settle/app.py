"""Settle: a stack of ours reached a terminal status (EventBridge) -> InService after an MCP readiness check, Failed
with CloudFormation's real reason, back to the previous status after a rollback, or removed after DELETE_COMPLETE."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters.cloudformation import StackStatusChanged
from hosted_mcp.logic.reactions import settle
from hosted_mcp.wiring import aws

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context(correlation_id_path='detail."client-request-token"')
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> None:
    settlement = aws.stack_settlement(StackStatusChanged.model_validate(event))
    if settlement is not None:
        settle(aws.reaction_ports(), settlement, now=aws.utc_now())
