"""What a hosted server receives about its caller: identity headers it can trust, and a token only by opt-in.

The gateway (API Gateway's integration mapping on AWS, the local gateway on one machine) applies these rules to
every data-plane request:

- every inbound `X-Hosted-Mcp-*` header is dropped, so a caller cannot forge the identity headers;
- `X-Api-Key` and `Cookie` are dropped: platform credentials never reach server code;
- `Authorization` is dropped unless the server's spec sets `forwardCallerToken`, and even then only a JWT is
  passed on, never a platform API key;
- `X-Hosted-Mcp-User` (percent-encoded UTF-8), `X-Hosted-Mcp-Groups` (a JSON array, ASCII-escaped) and
  `X-Hosted-Mcp-Credential-Type` (`jwt` or `apiKey`) describe the authenticated caller.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import quote, unquote

from hosted_mcp.auth.api_keys import looks_like_api_key
from hosted_mcp.auth.authenticator import header
from hosted_mcp.models.domain import Caller

IDENTITY_PREFIX = "x-hosted-mcp-"
USER_HEADER = "X-Hosted-Mcp-User"
GROUPS_HEADER = "X-Hosted-Mcp-Groups"
CREDENTIAL_TYPE_HEADER = "X-Hosted-Mcp-Credential-Type"
ALWAYS_STRIPPED = frozenset({"x-api-key", "cookie"})


def identity_headers(caller: Caller) -> dict[str, str]:
    return {
        USER_HEADER: quote(caller.username, safe="@._-:+"),
        GROUPS_HEADER: json.dumps(list(caller.groups), ensure_ascii=True, separators=(",", ":")),
        CREDENTIAL_TYPE_HEADER: caller.credentialType,
    }


def forwarded_authorization(authorization: str | None, *, forward_caller_token: bool) -> str | None:
    """The Authorization value the server gets: the caller's JWT bearer when it opted in, else nothing."""
    if not forward_caller_token or not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential or looks_like_api_key(credential.strip()):
        return None
    return authorization.strip()


def upstream_headers(incoming: Mapping[str, str], caller: Caller, *, forward_caller_token: bool) -> dict[str, str]:
    """The request headers to send to a hosted server, given the inbound ones and the authenticated caller."""
    result: dict[str, str] = {}
    authorization: str | None = None
    for name, value in incoming.items():
        lowered = name.lower()
        if lowered == "authorization":
            authorization = value
            continue
        if lowered in ALWAYS_STRIPPED or lowered.startswith(IDENTITY_PREFIX):
            continue
        result[name] = value
    token = forwarded_authorization(authorization, forward_caller_token=forward_caller_token)
    if token is not None:
        result["Authorization"] = token
    result.update(identity_headers(caller))
    return result


def caller_from_identity_headers(headers: Mapping[str, str]) -> Caller | None:
    """The caller the edge established, from the identity headers it set (the AWS router's view of API Gateway's
    mapping); None when they are missing or malformed. Only a hop that the edge alone can reach may trust them."""
    user = header(headers, USER_HEADER)
    groups_value = header(headers, GROUPS_HEADER)
    credential = header(headers, CREDENTIAL_TYPE_HEADER)
    if not user or groups_value is None or credential not in ("jwt", "apiKey"):
        return None
    try:
        groups = json.loads(groups_value)
    except ValueError:
        return None
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        return None
    return Caller(username=unquote(user), groups=tuple(groups), credentialType=credential)
