"""Deploy: a record entered Creating (its change, from the records pipe's rule) -> create the server's stack
(idempotent by name + request token). An error is retried by Lambda, then kept in the reactions' failure queue."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters import aws
from hosted_mcp.adapters.dynamodb_streams import ServerRecordChanged
from hosted_mcp.logic.reactions import deploy_server

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> None:
    change = ServerRecordChanged.model_validate(event).change()
    if change is not None:
        deploy_server(aws.server_store(), aws.deployment_backend(), change.server.id, now=aws.utc_now())
