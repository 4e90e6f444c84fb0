"""Publish: a record changed status (its change, from the records pipe's rule) -> status event on the status bus,
the connection, transition metrics."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters import aws
from hosted_mcp.adapters.dynamodb_streams import ServerRecordChanged

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> None:
    change = ServerRecordChanged.model_validate(event).change()
    if change is not None:
        aws.announce(change)
