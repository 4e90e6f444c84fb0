"""Domain errors. Each carries a stable code; the HTTP status for each lives in one table in `api.errors`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FieldProblem:
    field: str
    message: str


class DomainError(Exception):
    code = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(DomainError):
    """Input broke a documented rule. Names the offending field(s)."""

    code = "ValidationError"

    def __init__(self, problems: list[FieldProblem]) -> None:
        if not problems:
            raise ValueError("InvalidRequest needs at least one problem")
        first = problems[0]
        super().__init__(f"{first.field}: {first.message}")
        self.problems = problems

    @classmethod
    def of(cls, field_name: str, message: str) -> InvalidRequest:
        return cls([FieldProblem(field_name, message)])


class NotFound(DomainError):
    code = "NotFound"


class NameConflict(DomainError):
    code = "NameConflict"

    def __init__(self) -> None:
        super().__init__("Server name conflicts with existing server")


class StatusConflict(DomainError):
    """The operation is not allowed in the record's current status."""

    code = "StatusConflict"


class ConcurrentModification(DomainError):
    """A conditional write lost a race: the record changed since it was read."""

    code = "ConcurrentModification"

    def __init__(self, message: str = "The server was modified concurrently; read it again and retry") -> None:
        super().__init__(message)


class UnsupportedMediaType(DomainError):
    """A body in a format the API does not read (it reads JSON only)."""

    code = "UnsupportedMediaType"


class PayloadTooLarge(DomainError):
    code = "PayloadTooLarge"


class Unauthorized(DomainError):
    code = "Unauthorized"


class Forbidden(DomainError):
    code = "Forbidden"


class DeploymentRejected(Exception):
    """A deployment backend refused an action outright (bad image, no container runtime, an invalid template...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class DeploymentFailure:
    """The real reason a deployment did not settle as asked."""

    reason: str
    details: dict[str, str] = field(default_factory=dict)


# Enough to fix a request by; a body of thousands of unknown keys must not make an answer of megabytes.
MAX_PROBLEMS = 20

# Where a request validator locates a problem (`("query", "limit")`): the field name is what follows.
_REQUEST_PARTS = frozenset({"body", "query", "path", "header", "cookie"})


def field_problems(errors: Iterable[dict[str, Any]], read_only: frozenset[str] = frozenset()) -> list[FieldProblem]:
    """Turn pydantic error dicts into problems that name the field (`a.b.c`), dropping the `body` location."""
    problems = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and loc[0] in _REQUEST_PARTS:
            loc = loc[1:]
        if error.get("type") == "json_invalid":
            loc = []
        name = (error.get("ctx") or {}).get("field") or ".".join(loc) or "body"
        if error.get("type") == "extra_forbidden":
            message = "is read-only" if name in read_only else "is not a known field"
        else:
            message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        problems.append(FieldProblem(name, message))
    return problems[:MAX_PROBLEMS] or [FieldProblem("body", "is invalid")]


def invalid_request_from(exc: Any, read_only: frozenset[str] = frozenset()) -> InvalidRequest:
    """An InvalidRequest from a pydantic ValidationError (or anything with `.errors()`)."""
    return InvalidRequest(field_problems(exc.errors(), read_only))
