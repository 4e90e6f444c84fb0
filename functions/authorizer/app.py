"""The REQUEST Lambda authorizer in front of every route: management API and data plane.

It answers API Gateway with a policy for exactly this request's method ARN plus the caller's context, or raises
`Exception("Unauthorized")`, which API Gateway turns into a 401 (the gateway response adds WWW-Authenticate).
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from hosted_mcp.auth.gateway import AuthorizerRequest, authorize
from hosted_mcp.errors import Unauthorized
from hosted_mcp.wiring.aws import authenticator, server_store

logger = Logger()


@logger.inject_lambda_context(log_event=False)
def handler(event: dict, context: LambdaContext) -> dict:
    try:
        return authorize(AuthorizerRequest.model_validate(event), authenticator(), server_store())
    except Unauthorized as error:
        logger.info("request not authenticated", reason=error.message)
        raise Exception("Unauthorized") from None  # the exact answer API Gateway maps to 401
