"""Follow the platform: the platform stack itself reached UPDATE_COMPLETE (EventBridge) -> every InService or
Stopped server is re-applied through an ordinary update, so its stack reads the platform's new values."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters.cloudformation import StackStatusChanged
from hosted_mcp.logic.platform import follow_platform
from hosted_mcp.wiring import aws

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    StackStatusChanged.model_validate(event)
    followed = follow_platform(aws.server_store(), now=aws.utc_now())
    return {"reapplied": [record.id for record in followed]}
