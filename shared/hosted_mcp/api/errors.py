"""The one place domain errors become HTTP answers: a stable code, a message, the field when there is one."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

from hosted_mcp.errors import (
    ConcurrentModification,
    DomainError,
    Forbidden,
    InvalidRequest,
    NameConflict,
    NotFound,
    PayloadTooLarge,
    StatusConflict,
    Unauthorized,
    UnsupportedMediaType,
)
from hosted_mcp.models.api import ErrorBody, ErrorDetail

HTTP_STATUS: dict[type[DomainError], HTTPStatus] = {
    InvalidRequest: HTTPStatus.BAD_REQUEST,
    Unauthorized: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    NameConflict: HTTPStatus.CONFLICT,
    StatusConflict: HTTPStatus.CONFLICT,
    ConcurrentModification: HTTPStatus.CONFLICT,
    PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    UnsupportedMediaType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
}


def status_of(error: DomainError) -> HTTPStatus:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def error_response(error: DomainError) -> Response:
    body = ErrorBody(code=error.code, message=error.message)
    if isinstance(error, InvalidRequest):
        body.field = error.problems[0].field
        body.errors = [ErrorDetail(field=p.field, message=p.message) for p in error.problems]
    headers = {"WWW-Authenticate": 'Bearer realm="hosted-mcp"'} if isinstance(error, Unauthorized) else None
    return Response(
        status_code=status_of(error),
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(exclude_none=True),
        headers=headers,
    )
