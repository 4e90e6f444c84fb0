"""Publish: a record changed status (its change, from the records pipe's rule) -> status event on the status bus,
the connection, transition metrics."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters.dynamodb_streams import ServerRecordChanged
from hosted_mcp.logic.reactions import react
from hosted_mcp.wiring import aws

logger = Logger()
tracer = Tracer()
HOSTS = frozenset({"publish"})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> None:
    change = ServerRecordChanged.model_validate(event).change()
    if change is not None:
        react(aws.reaction_ports(), change, now=aws.utc_now(), hosts=HOSTS)
