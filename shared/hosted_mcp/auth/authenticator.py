"""Who is calling: a bearer JWT verified against the issuer's keys, or a platform API key.

One `Authenticator` serves the Lambda authorizer on AWS and the local gateway on one machine; only the
`JwksSource` and `ApiKeyStore` adapters differ. Every failure raises `Unauthorized` (no or bad credential) or
`Forbidden` (a good credential the stage options refuse); messages never contain the credential.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from hosted_mcp.auth.api_keys import ApiKeyStore, looks_like_api_key, verify_key
from hosted_mcp.errors import Forbidden, Unauthorized
from hosted_mcp.models.domain import Caller

if TYPE_CHECKING:  # annotations only: the management API imports the header helpers without the JWKS client
    from hosted_mcp.auth.jwks import JwksSource
    from hosted_mcp.auth.settings import AuthSettings

logger = Logger(service="hosted-mcp-auth", child=True)

API_KEY_HEADER = "x-api-key"
MAX_GROUPS = 200
MAX_CLAIM_CHARS = 256
KEY_TYPE_BY_ALG_FAMILY = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class CredentialType:
    JWT = "jwt"
    API_KEY = "apiKey"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name (API Gateway and ASGI differ)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The credential of `Authorization: Bearer <credential>`, or None when there is no such header."""
    value = header(headers, "authorization")
    if value is None:
        return None
    scheme, _, credential = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthorized("Authorization must be a Bearer credential")
    return credential.strip()


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted claim path; a claim whose own name contains dots (or colons) is found first."""
    if path in claims:
        return claims[path]
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def parse_groups(value: Any) -> tuple[str, ...]:
    """Groups as a tuple of non-empty strings: the claim must be a JSON array of strings, nothing else."""
    if not isinstance(value, list) or len(value) > MAX_GROUPS:
        raise Unauthorized("Invalid token: malformed groups claim")
    if not all(isinstance(g, str) and 0 < len(g) <= MAX_CLAIM_CHARS for g in value):
        raise Unauthorized("Invalid token: malformed groups claim")
    return tuple(dict.fromkeys(value))


def in_group(groups: tuple[str, ...], group: str) -> bool:
    bare = group.removeprefix("group:")
    return any(g.removeprefix("group:") == bare for g in groups)


class Authenticator:
    def __init__(
        self,
        settings: AuthSettings,
        jwks: JwksSource,
        api_keys: ApiKeyStore | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.jwks = jwks
        self.api_keys = api_keys
        self.clock = clock
        self._verifiers: dict[tuple[str, str], tuple[dict[str, Any], Any]] = {}

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        token = bearer_token(headers)
        presented_key = header(headers, API_KEY_HEADER)
        key_caller = self._api_key_caller(presented_key) if presented_key is not None else None
        if token is not None and looks_like_api_key(token):
            if key_caller is not None:
                raise Unauthorized("Send one API key, not two")
            key_caller = self._api_key_caller(token)
            token = None
        if self.settings.api_key_required and key_caller is None:
            raise Unauthorized("An API key is required")
        if token is not None:
            caller = self.verify_jwt(token)
        elif key_caller is not None:
            caller = key_caller
        else:
            raise Unauthorized("Authentication required")
        self._lockdown(caller)
        return caller

    # -- API keys ------------------------------------------------------------------------------------------

    def _api_key_caller(self, key: str) -> Caller:
        if not self.settings.api_keys_enabled or self.api_keys is None:
            raise Unauthorized("API keys are not accepted here")
        record = verify_key(self.api_keys, key.strip(), self.clock())
        if record is None:
            logger.info("api key rejected")
            raise Unauthorized("Invalid API key")
        return Caller(
            username=record.owner,
            groups=record.groups,
            isAdmin=in_group(record.groups, self.settings.admin_group),
            credentialType=CredentialType.API_KEY,
        )

    # -- JWTs ----------------------------------------------------------------------------------------------

    def verify_jwt(self, token: str) -> Caller:
        """A caller from a JWT whose signature, algorithm, issuer, audience and validity window all check out."""
        claims = self._verified_claims(token)
        return self._caller_from(claims)

    def _verified_claims(self, token: str) -> dict[str, Any]:
        import jwt  # lazy: keeps the import off paths that never see a JWT

        settings = self.settings
        if len(token) > settings.max_token_bytes or token.count(".") != 2:
            raise Unauthorized("Invalid token")
        try:
            unverified = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Unauthorized("Invalid token") from error
        alg = unverified.get("alg")
        # Exact, case-sensitive match against an allow-list of asymmetric algorithms: `none`, `None`, `HS256`...
        # never reach signature verification.
        if not isinstance(alg, str) or alg not in settings.algorithms:
            logger.info("token rejected", reason="algorithm not allowed")
            raise Unauthorized("Invalid token")
        kid = unverified.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_CLAIM_CHARS:
            raise Unauthorized("Invalid token")
        # The key comes only from the configured issuer's key set: `jku`, `x5u`, `jwk` and `x5c` headers are
        # never consulted, so a token cannot name its own verification key.
        jwk = self.jwks.get_key(kid)
        if jwk is None:
            logger.info("token rejected", reason="unknown key id")
            raise Unauthorized("Invalid token")
        if jwk.get("kty") != KEY_TYPE_BY_ALG_FAMILY.get(alg[:2]) or jwk.get("alg", alg) != alg:
            logger.info("token rejected", reason="key does not match algorithm")
            raise Unauthorized("Invalid token")
        required = ["exp", "iat", "iss"] + (["nbf"] if settings.require_nbf else [])
        if settings.audience_claim == "aud":
            required.append("aud")
        try:
            key = self._verifier(kid, alg, jwk)
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=list(settings.audience) if settings.audience_claim == "aud" else None,
                issuer=settings.issuer,
                leeway=settings.clock_skew_seconds,
                options={"require": required, "verify_aud": settings.audience_claim == "aud"},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthorized("Token expired") from error
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            logger.info("token rejected", reason=type(error).__name__)
            raise Unauthorized("Invalid token") from error
        if settings.audience_claim == "client_id" and claims.get("client_id") not in settings.audience:
            raise Unauthorized("Invalid token")
        self._check_lifetime(claims)
        return claims

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        """A token lives at most `max_token_lifetime_seconds` from when it was issued, and was not issued in the
        future: a self-signed token valid for years is refused however good its signature."""
        settings = self.settings
        issued_at, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued_at, int | float) or not isinstance(expires, int | float):
            raise Unauthorized("Invalid token")
        if issued_at > self.clock().timestamp() + settings.clock_skew_seconds:
            logger.info("token rejected", reason="issued in the future")
            raise Unauthorized("Invalid token")
        if expires - issued_at > settings.max_token_lifetime_seconds:
            logger.info("token rejected", reason="lifetime above the cap")
            raise Unauthorized("Invalid token: lifetime exceeds what this platform accepts")

    def _verifier(self, kid: str, alg: str, jwk: dict[str, Any]) -> Any:
        """The public key object for a JWK, parsed once per key (the key set decides which kids exist)."""
        import jwt

        cached = self._verifiers.get((kid, alg))
        if cached is not None and cached[0] == jwk:
            return cached[1]
        key = jwt.PyJWK(jwk, algorithm=alg).key
        self._verifiers[(kid, alg)] = (dict(jwk), key)
        return key

    def _caller_from(self, claims: Mapping[str, Any]) -> Caller:
        settings = self.settings
        username = next(
            (v for v in (claim_at(claims, p) for p in settings.username_claim) if isinstance(v, str) and v), None
        )
        if username is None or len(username) > MAX_CLAIM_CHARS:
            raise Unauthorized("Invalid token: no username claim")
        raw_groups = claim_at(claims, settings.groups_claim)
        if raw_groups is None:
            if settings.require_groups_claim:
                raise Unauthorized("Invalid token: missing groups claim")
            groups: tuple[str, ...] = ()
        else:
            groups = parse_groups(raw_groups)
        return Caller(
            username=username,
            groups=groups,
            isAdmin=in_group(groups, settings.admin_group),
            credentialType=CredentialType.JWT,
        )

    def _lockdown(self, caller: Caller) -> None:
        settings = self.settings
        if not settings.idp_lockdown or caller.isAdmin:
            return
        if settings.user_group is None or not in_group(caller.groups, settings.user_group):
            raise Forbidden("This platform is limited to members of its user group")
