"""Apply: a record entered Updating, Starting or Stopping (its change, from the records pipe's rule) -> update its
stack to the desired config. An error (a stack busy with another operation) is retried by Lambda, then kept in the
reactions' failure queue; the reconciler settles what is left past its deadline."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters.dynamodb_streams import ServerRecordChanged
from hosted_mcp.logic.reactions import react
from hosted_mcp.wiring import aws

logger = Logger()
tracer = Tracer()
HOSTS = frozenset({"apply"})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> None:
    change = ServerRecordChanged.model_validate(event).change()
    if change is not None:
        react(aws.reaction_ports(), change, now=aws.utc_now(), hosts=HOSTS)
