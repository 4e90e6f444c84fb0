"""The AWS side of authentication in-process: the real authorizer and API handlers, as API Gateway drives them.

Settings come from `AUTH_*` variables as deployed, the issuer's keys are fetched over HTTP (a loopback JWKS
endpoint), servers and API keys live in DynamoDB tables built from template.yaml (moto). `Platform.status` sends
one request the way API Gateway would: authorizer first, then (for a management route it allowed) the API
handler with the authorizer's context.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from hosted_mcp.auth import new_key
from hosted_mcp.logic import servers
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.domain import Caller
from hosted_mcp.models.fields import ServerStatus
from tests.support.auth_matrix import (
    ADMIN_GROUP,
    PRINCIPALS,
    SERVERS,
    CredentialKind,
    MatrixRoute,
    Principal,
    fill,
)
from tests.support.ddb import create_servers_table, load_template
from tests.support.events import api_event
from tests.support.gateway import authorizer_event, method_arn, policy_allows
from tests.support.lambdas import FakeLambdaContext, load_handler
from tests.support.tokens import JwksServer, TestIdp

SERVERS_TABLE = "hosted-mcp-servers"
API_KEYS_TABLE = "hosted-mcp-api-keys"
OPTED_IN = "token-consumer"


@dataclass
class Platform:
    idp: TestIdp
    authorizer: Any
    api: Any
    credentials: dict[str, dict[str, str]]
    values: dict[str, str]

    def authorize(self, method: str, path: str, headers: dict[str, str]) -> dict[str, Any] | None:
        """The authorizer's answer, or None for its 401 (`Exception("Unauthorized")`)."""
        try:
            return self.authorizer.handler(authorizer_event(method, path, headers), FakeLambdaContext())
        except Exception as error:
            if str(error) != "Unauthorized":
                raise
            return None

    def status(self, principal: Principal, route: MatrixRoute) -> int:
        """The HTTP status the caller would see through API Gateway."""
        path = fill(route.path, self.values)
        result = self.send(self.credentials[principal.name], route.method, path, body=route.body, query=route.query)
        return int(result["statusCode"])

    def send(
        self,
        headers: dict[str, str],
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One request through API Gateway: the authorizer, then the API handler (or the data-plane proxy)."""
        answer = self.authorize(method, path, dict(headers))
        if answer is None:
            return {"statusCode": 401, "headers": {"WWW-Authenticate": 'Bearer realm="hosted-mcp"'}, "body": None}
        if not policy_allows(answer, method_arn(method, path)):
            return {"statusCode": 403, "headers": {}, "body": None}
        if path.startswith("/mcp/") and path.split("/")[3:4] in (["mcp"], ["sse"], ["messages"]):
            return {"statusCode": 200, "headers": {}, "body": None}  # API Gateway proxies to the server
        event = api_event(method, path, body=body, query=query or None, caller=None)
        event["headers"] = {k: v for k, v in event["headers"].items() if k != "Authorization"} | headers
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
        event["requestContext"]["authorizer"] = {**answer.get("context", {}), "principalId": answer["principalId"]}
        result: dict[str, Any] = self.api.handler(event, FakeLambdaContext())
        return result


def _api_keys_table(dynamodb: Any) -> None:
    props = load_template()["Resources"]["ApiKeysTable"]["Properties"]
    dynamodb.create_table(
        TableName=API_KEYS_TABLE,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props["BillingMode"],
    )


@contextmanager
def aws_auth_platform() -> Iterator[Platform]:
    """The authorizer and API handlers over moto tables from template.yaml and a loopback JWKS endpoint."""
    from moto import mock_aws

    idp = TestIdp()
    with pytest.MonkeyPatch.context() as env, JwksServer(idp) as jwks, mock_aws():
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "SERVERS_TABLE_NAME": SERVERS_TABLE,
            "API_KEYS_TABLE_NAME": API_KEYS_TABLE,
            "API_BASE_URL": "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "HostedMcpTest",
            "AUTH_ISSUER": idp.issuer,
            "AUTH_AUDIENCE": idp.audience,
            "AUTH_JWKS_URL": jwks.url,
            "AUTH_ADMIN_GROUP": ADMIN_GROUP,
            "AUTH_REQUIRE_NBF": "true",
        }.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        import boto3

        from hosted_mcp.wiring import aws

        aws.clear_factories()
        create_servers_table(boto3.resource("dynamodb", region_name="us-east-1"), SERVERS_TABLE)
        _api_keys_table(boto3.client("dynamodb", region_name="us-east-1"))
        values = _seed_servers(aws.server_store())
        key_store = aws.api_key_store()
        assert key_store is not None
        credentials = {p.name: _credentials(p, idp, key_store) for p in PRINCIPALS}
        victim = new_key(
            name="victim",
            owner="apikey/victim",
            groups=(),
            created_by="alice",
            now=servers.utc_now(),
            expires_at=servers.utc_now() + timedelta(days=1),
        )
        key_store.put(victim.record)
        values["keyId"] = victim.record.keyId
        yield Platform(idp, load_handler("authorizer"), load_handler("api"), credentials, values)
        aws.clear_factories()


def _seed_servers(store: Any) -> dict[str, str]:
    values: dict[str, str] = {}
    admin = Caller(username="seed", groups=(ADMIN_GROUP,), isAdmin=True)
    seeds = [(s.key, s.name, list(s.groups), False) for s in SERVERS] + [(OPTED_IN, OPTED_IN, [], True)]
    for key, name, groups, forward in seeds:
        request = CreateServerRequest(
            name=name, serverType="stdio", startCommand="python server.py", groups=groups, forwardCallerToken=forward
        )
        now = servers.utc_now()
        record = servers.create_server(store, request, admin, now=now)
        record = move(store, record, ServerStatus.IN_SERVICE, actor="seed", reason="ready", now=now)
        values[f"{key}.id"] = record.id
        values[f"{key}.name"] = record.normalizedName
    return values


def _credentials(principal: Principal, idp: TestIdp, key_store: Any) -> dict[str, str]:
    if principal.kind is CredentialKind.NONE:
        return {}
    if principal.kind is CredentialKind.JWT:
        return {"Authorization": f"Bearer {idp.mint(principal.username, list(principal.groups))}"}
    now = servers.utc_now()
    created = now - timedelta(days=10) if principal.expired else now
    issued = new_key(
        name=principal.name,
        owner=principal.username,
        groups=principal.groups,
        created_by="alice",
        now=created,
        expires_at=created + timedelta(days=1 if principal.expired else 30),
    )
    key_store.put(issued.record)
    if principal.revoked:
        key_store.revoke(issued.record.keyId, now)
    # On AWS the authorizer's identity source is the Authorization header, so keys travel as bearer credentials.
    return {"Authorization": f"Bearer {issued.secret}"}
