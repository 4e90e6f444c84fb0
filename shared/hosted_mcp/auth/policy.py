"""API Gateway Lambda authorizer responses that stay safe when API Gateway caches them.

API Gateway may cache an authorizer's answer (keyed by the authorizer's identity sources) and evaluate the
cached policy against later requests. Two rules make a cached decision unable to open anything else:

1. The policy names exactly one resource: the `methodArn` of the request that was decided (API id, stage,
   method and the concrete path, which includes the server name). A cached Allow evaluated for another method,
   route or server does not match it, so API Gateway answers 403 instead of reusing it.
2. That ARN may contain no IAM wildcard: a path with `*` or `?` is denied outright, so `GET /mcp/*` can never
   yield a policy matching every server.

The identity sources (Authorization header, HTTP method and path; see template.yaml) only make the cache
precise, so a cached answer for one route does not cause a spurious 403 on another; safety does not depend on
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hosted_mcp.errors import InvalidRequest

WILDCARDS = frozenset("*?")


@dataclass(frozen=True)
class MethodArn:
    """`arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path>`, split."""

    arn: str
    api_id: str
    stage: str
    method: str
    path: str

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[:3] != ["arn", parts[1], "execute-api"] or not parts[1].startswith("aws"):
            raise InvalidRequest.of("methodArn", "is not an execute-api method ARN")
        api_id, _, rest = parts[5].partition("/")
        stage, _, rest = rest.partition("/")
        method, _, path = rest.partition("/")
        if not api_id or not stage or not method:
            raise InvalidRequest.of("methodArn", "is not an execute-api method ARN")
        return cls(arn=arn, api_id=api_id, stage=stage, method=method, path="/" + path)

    @property
    def has_wildcard(self) -> bool:
        return any(ch in WILDCARDS for ch in self.arn)


def policy(principal_id: str, effect: str, method_arn: str, context: dict[str, str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}],
        },
    }
    if context:
        response["context"] = context
    return response


def allow(principal_id: str, method_arn: str, context: dict[str, str]) -> dict[str, Any]:
    return policy(principal_id, "Allow", method_arn, context)


def deny(principal_id: str, method_arn: str, context: dict[str, str] | None = None) -> dict[str, Any]:
    return policy(principal_id, "Deny", method_arn, context)
