"""Teardown: a record entered Deleting (stream) -> delete the server's stack (DELETE_COMPLETE then removes it)."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters.dynamodb_streams import status_change
from hosted_mcp.logic.reactions import react
from hosted_mcp.wiring import aws

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
HOSTS = frozenset({"teardown"})


def teardown(record: DynamoDBRecord) -> None:
    change = status_change(record.raw_event)
    if change is not None:
        react(aws.reaction_ports(), change, now=aws.utc_now(), hosts=HOSTS)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=teardown, processor=processor, context=context)
