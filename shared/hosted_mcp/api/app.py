"""The management API: one resolver over whatever adapters a runtime provides (AWS or one machine).

Roles live in one place, `hosted_mcp.auth.roles.MANAGEMENT_ROUTES` (the Lambda authorizer reads it too). The
resolver checks the route's role before anything else, so nobody learns how a body is validated, or whether a
route exists, before proving who they are; then that a body is JSON (`request_body`). It then puts the caller and
the services into the request context, and routes (split by feature, one `Router` each) receive them as
dependencies. A route missing from the table cannot be included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.router import Router

from hosted_mcp.api import api_keys, connections, servers
from hosted_mcp.api.errors import error_response
from hosted_mcp.api.request_body import JSON_MEDIA_TYPE, check_json_body
from hosted_mcp.api.responses import openapi_json
from hosted_mcp.api.services import CALLER, SERVICES, ApiServices
from hosted_mcp.auth.roles import MANAGEMENT_ROUTES, Role, require_role, rule_for
from hosted_mcp.errors import DomainError, NotFound, UnsupportedMediaType, invalid_request_from
from hosted_mcp.models.api import READ_ONLY_FIELDS
from hosted_mcp.models.domain import Caller

FEATURES: tuple[Router, ...] = (servers.router, api_keys.router, connections.router)


class ManagementResolver(APIGatewayRestResolver):
    def __init__(self, services: Callable[[], ApiServices]) -> None:
        super().__init__(enable_validation=True)
        self.services = services

    def include_secured(self, router: Router) -> None:
        """Include a feature's routes, each of which must have its role in the shared route table."""
        for rule, method, *_ in router._routes:
            for verb in (method,) if isinstance(method, str) else method:
                gateway_path = re.sub(r"<(\w+)>", r"{\1}", rule)
                if not any(r.method == verb.upper() and r.path == gateway_path for r in MANAGEMENT_ROUTES):
                    raise ValueError(f"{verb.upper()} {gateway_path} has no role in MANAGEMENT_ROUTES")
        self.include_router(router)

    @staticmethod
    def role_for(method: str, path: str) -> Role:
        """The role a request needs; anything not in the table needs at least an authenticated caller."""
        rule = rule_for(method.upper(), path)
        return rule.role if rule else Role.USER

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        role = self.role_for(str(event.get("httpMethod", "")), str(event.get("path", "")))
        caller = Caller.from_authorizer_context((event.get("requestContext") or {}).get("authorizer"))
        try:
            require_role(caller, role)
            check_json_body(event)
        except DomainError as error:
            return proxy_result(error_response(error))
        self.append_context(**{CALLER: caller, SERVICES: self.services()})
        return super().resolve(event, context)


def proxy_result(response: Response) -> dict[str, Any]:
    return {
        "statusCode": int(response.status_code),
        "headers": {"Content-Type": response.content_type or content_types.APPLICATION_JSON, **response.headers},
        "body": response.body,
        "isBase64Encoded": False,
    }


def build_resolver(services: Callable[[], ApiServices]) -> ManagementResolver:
    """The management API over whatever adapters `services()` returns."""
    app = ManagementResolver(services)

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return error_response(invalid_request_from(error, READ_ONLY_FIELDS))

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(_: RequestUnsupportedContentType) -> Response:  # e.g. `Application/JSON`: Powertools is strict
        return error_response(UnsupportedMediaType(f"The body must be {JSON_MEDIA_TYPE}"))

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(NotFound("No such route"))

    for feature in FEATURES:
        app.include_secured(feature)

    @app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
    def openapi_document() -> Response[str]:
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json(app))

    return app
