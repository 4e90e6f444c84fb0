"""Teardown: a record entered Deleting (its change, from the records pipe's rule) -> delete the server's stack
(DELETE_COMPLETE then removes the record)."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters.dynamodb_streams import ServerRecordChanged
from hosted_mcp.logic.reactions import react
from hosted_mcp.wiring import aws

logger = Logger()
tracer = Tracer()
HOSTS = frozenset({"teardown"})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> None:
    change = ServerRecordChanged.model_validate(event).change()
    if change is not None:
        react(aws.reaction_ports(), change, now=aws.utc_now(), hosts=HOSTS)
