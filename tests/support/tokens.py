"""A test identity provider: signing keys, its published JWKS and a token minter with attack knobs."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hosted_mcp.auth import AuthSettings, StaticJwksSource

ISSUER = "https://idp.example.test/pool-1"
AUDIENCE = "hosted-mcp-client"
ADMIN_GROUP = "admins"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(private_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.get_algorithm_by_name(alg)
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


@dataclass
class TestIdp:
    """An issuer with one RSA and one EC key; `mint` signs whatever claims and headers a test asks for."""

    __test__ = False

    issuer: str = ISSUER
    audience: str = AUDIENCE
    rsa_key: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_key: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    rsa_kid: str = "rsa-1"
    ec_kid: str = "ec-1"
    groups_claim: str = "cognito:groups"

    @property
    def jwks(self) -> list[dict[str, Any]]:
        return [public_jwk(self.rsa_key, self.rsa_kid, "RS256"), public_jwk(self.ec_key, self.ec_kid, "ES256")]

    def source(self) -> StaticJwksSource:
        return StaticJwksSource(self.jwks)

    def settings(self, **overrides: Any) -> AuthSettings:
        values: dict[str, Any] = {
            "issuer": self.issuer,
            "audience": self.audience,
            "groups_claim": self.groups_claim,
            "admin_group": ADMIN_GROUP,
        }
        values.update(overrides)
        return AuthSettings(**values)

    def claims(self, username: str = "bob", groups: list[str] | None = None, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": f"sub-{username}",
            "cognito:username": username,
            self.groups_claim: groups if groups is not None else [],
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not _DROP}

    def mint(
        self,
        username: str = "bob",
        groups: list[str] | None = None,
        *,
        alg: str = "RS256",
        key: Any = None,
        headers: dict[str, Any] | None = None,
        **claim_overrides: Any,
    ) -> str:
        signing_key = key if key is not None else (self.ec_key if alg.startswith("ES") else self.rsa_key)
        kid = self.ec_kid if alg.startswith("ES") else self.rsa_kid
        all_headers = {"kid": kid, **(headers or {})}
        all_headers = {k: v for k, v in all_headers.items() if v is not _DROP}
        return jwt.encode(self.claims(username, groups, **claim_overrides), signing_key, alg, headers=all_headers)

    def rsa_public_pem(self) -> bytes:
        return self.rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()
_DROP = DROP


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand (for `alg: none` and HMAC-with-public-key attacks PyJWT refuses to produce)."""
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{b64url(signature)}"


class JwksServer:
    """The IdP's key set served over loopback HTTP, counting fetches (for the real HttpJwksSource)."""

    def __init__(self, idp: TestIdp) -> None:
        import http.server
        import threading

        self.idp = idp
        self.fetches = 0
        server_self = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server_self.fetches += 1
                body = json.dumps({"keys": server_self.idp.jwks}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/.well-known/jwks.json"

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def sign_hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HMAC-SHA256 token with any secret (PyJWT refuses to use a public key as one)."""
    import hashlib
    import hmac

    signing_input = forge(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def sign_raw(header: dict[str, Any], claims: dict[str, Any], key: Any, alg: str = "RS256") -> str:
    """A token with any header at all (even ones PyJWT refuses to write), really signed by `key`."""
    signing_input = forge(header, claims).rsplit(".", 1)[0]
    signature = jwt.get_algorithm_by_name(alg).sign(signing_input.encode(), key)
    return f"{signing_input}.{b64url(signature)}"
