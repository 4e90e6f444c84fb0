"""The /mcp management API: every route of the control plane, resolved by the shared layer's resolver."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.adapters.aws import api_services
from hosted_mcp.adapters.aws_limits import configure_from_environ
from hosted_mcp.api.routes import build_resolver

logger = Logger()
tracer = Tracer()
configure_from_environ()  # the role path task roles must live under, as this platform was deployed
app = build_resolver(api_services)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
